"""Read-only views: what runs here and why. Works offline; used by `current`, `which`, `list`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from pinman import activation
from pinman.paths import Paths
from pinman.resolution import dropped_note, dropped_override, override_for, why_override

if TYPE_CHECKING:
    from pinman.profiles import ClaudeCodePin


def describe_current(cwd: Path, paths: Paths) -> dict[str, Any]:
    """Profile, version, binary and *why* for this directory.

    Reads the shim's pointer when it is fresh (no registry, no store scan); otherwise resolves
    the profile, which for an exact pin or an override needs no network either.
    """
    from pinman.profiles import find_profile

    choice = activation.choose(cwd, paths)
    profile = find_profile(choice.name, cwd, paths)
    info: dict[str, Any] = {
        "profile": choice.name,
        "source": choice.source,
        "detail": choice.detail,
        "profile_file": str(profile.path),
        "profile_source": profile.source,
        "shadows": str(profile.shadows) if profile.shadows else None,  # the user's own, hidden here
    }
    ptr_file = activation.pointer_path(paths, choice.project_root, choice.name)
    ptr = activation.read_pointer(ptr_file)
    if ptr and _fresh(ptr_file, profile.path) and Path(ptr["bin"]).exists():
        version, binary = ptr["ver"], ptr["bin"]
        ov = override_for(paths, profile)
        why = why_override(ov) if ov and ov.version == version else _why_pin(profile.claude_code, version)
    else:
        from pinman.resolution import installed, target

        tgt = target(paths, profile)
        inst = installed(paths, tgt.version)
        version, binary = tgt.version, (str(inst.binary) if inst else None)
        why = tgt.why if tgt.override else _why_pin(profile.claude_code, version)
    dropped = dropped_override(paths, profile)
    info.update(version=version, binary=binary, installed=binary is not None, why=why,
                install=_prefix(paths, version) if binary else None,
                dropped=dropped_note(*dropped) if dropped else None)
    return info


def _fresh(pointer: Path, source: Path) -> bool:
    try:
        return source.stat().st_mtime_ns <= pointer.stat().st_mtime_ns
    except OSError:
        return False


def _why_pin(pin: ClaudeCodePin, version: str) -> str:
    if pin.version.lstrip("v=") == version:
        return f"pinned {pin.version}"
    if pin.locked == version:
        return f"pinned {pin.version}, locked at {version}"
    return f"pinned {pin.version} (resolves to {version})"


def _prefix(paths: Paths, version: str) -> str:
    from pinman.resolution import CLAUDE_CODE
    from pinman.store import Store

    return str(Store(paths).path_for(CLAUDE_CODE, version))
