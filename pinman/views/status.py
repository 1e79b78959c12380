"""Read-only views: what runs here and why. Never asks the registry unless handed a registry that
does (`--refresh`); used by `current` and `which`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from pinman.runtime.choice import choose
from pinman.runtime.pointers import pointer_path, read_pointer
from pinman.paths import Paths
from pinman.runtime.resolution import dropped_note, dropped_override, override_for, why_override
from pinman.names import clean_version

if TYPE_CHECKING:
    from pinman.profile.model import ClaudeCodePin, Profile
    from pinman.npm.registry import Registry


def describe_current(cwd: Path, paths: Paths, registry: Registry | None = None) -> dict[str, Any]:
    """Profile, version, binary and *why* for this directory.

    Reads the shim's pointer when it is fresh (no registry, no store scan); otherwise resolves
    the profile: an exact pin or an override from the profile, a tag or range from `registry`
    (default: the registry cache on this machine, whatever its age).
    """
    from pinman.profile.discovery import find_profile

    choice = choose(cwd, paths)
    profile = find_profile(choice.name, cwd, paths)
    info: dict[str, Any] = {
        "profile": choice.name,
        "source": choice.source,
        "detail": choice.detail,
        "profile_file": str(profile.path),
        "profile_source": profile.source,
        "shadows": str(profile.shadows) if profile.shadows else None,  # the user's own, hidden here
    }
    ptr_file = pointer_path(paths, choice.project_root, choice.name)
    ptr = read_pointer(ptr_file)
    resolved_at: float | None = None
    if ptr and _fresh(ptr_file, profile.path) and Path(ptr["bin"]).exists():
        version, binary = ptr["ver"], ptr["bin"]
        ov = override_for(paths, profile)
        if ov and ov.version == version:
            why = why_override(ov)
        elif (guarded := _guarded_why(paths, profile, version)) is not None:
            why = guarded
        else:
            # A tag or range was resolved when the pointer was written: that is its age.
            resolved_at = _mtime(ptr_file) if _floats(profile.claude_code, version) else None
            why = _why_pin(profile.claude_code, version, resolved_at)
    else:
        from pinman.errors import PinmanError
        from pinman.runtime.resolution import installed, local_registry, target

        try:
            tgt = target(paths, profile, registry=registry or local_registry(paths))
        except PinmanError as e:
            from pinman.npm.registry import NotCached  # only now: an exact pin never loads the registry client

            if not isinstance(e, NotCached):
                raise
            raise NotCached(f"{profile.name}: {profile.claude_code.version!r} has not been resolved on this "
                            "machine yet", hint="`pinman current --refresh` asks the registry; so does running "
                            "`claude` here") from None
        inst = installed(paths, tgt.version)
        version, binary = tgt.version, (str(inst.binary) if inst else None)
        resolved_at = tgt.resolved_at
        why = tgt.why if tgt.override or _guarded_why(paths, profile, version) else _why_pin(
            profile.claude_code, version, resolved_at)
    dropped = dropped_override(paths, profile)
    info.update(version=version, binary=binary, installed=binary is not None, why=why,
                install=_prefix(paths, version) if binary else None, resolved_at=resolved_at,
                dropped=dropped_note(*dropped) if dropped else None,
                remedies=_remedies(paths, profile, version))
    return info


def _guarded_why(paths: Paths, profile: Any, version: str) -> str | None:
    """Why a guarded channel runs `version` here (a promotion, not a registry resolution)."""
    if not profile.update.guarded:
        return None
    from pinman.runtime.channel import channel_state, is_guarded, why_running

    state = channel_state(paths, profile) if is_guarded(paths, profile) else None
    return why_running(profile, state) if state is not None and state.version == version else None


def _remedies(paths: Paths, profile: Profile, version: str) -> list[dict[str, Any]]:
    """The client switches this version runs with (a remedy per endpoint; none on an override)."""
    import os

    from pinman.runtime.remedies import shown

    return [] if override_for(paths, profile) is not None else shown(paths, profile, version, os.environ)


def _floats(pin: ClaudeCodePin, version: str) -> bool:
    """Whether `version` came from resolving a tag or range (not an exact pin or a lock)."""
    return clean_version(pin.version) != version and pin.locked != version


def _mtime(path: Path) -> float | None:
    try:
        return path.stat().st_mtime
    except OSError:
        return None


def _fresh(pointer: Path, source: Path) -> bool:
    try:
        return source.stat().st_mtime_ns <= pointer.stat().st_mtime_ns
    except OSError:
        return False


def _why_pin(pin: ClaudeCodePin, version: str, resolved_at: float | None = None) -> str:
    if clean_version(pin.version) == version:
        return f"pinned {pin.version}"
    if pin.locked == version:
        return f"pinned {pin.version}, locked at {version}"
    from pinman.age import ago

    when = f", resolved {ago(resolved_at)}" if resolved_at else ""
    return f"pinned {pin.version} -> {version}{when}"


def _prefix(paths: Paths, version: str) -> str:
    from pinman.names import CLAUDE_CODE
    from pinman.install.layout import slug, validate_version

    validate_version(version)
    return str(paths.store / slug(CLAUDE_CODE) / version)  # Store.path_for, without the store's imports


def runs_instead(cwd: Path, paths: Paths, name: str) -> str | None:
    """When `claude` here runs another profile than `name` (which a command just changed), say
    which and why, so a change to `name` is not taken for a change to what runs here. None when
    `name` is what runs here, or nothing is chosen here at all."""
    from pinman.errors import PinmanError

    try:
        choice = choose(cwd, paths)
    except PinmanError:
        return None
    if choice.name == name:
        return None
    try:
        version = describe_current(cwd, paths)["version"]
    except PinmanError:  # e.g. a guarded channel that has not chosen a version here yet
        version = None
    why, change = {
        "env": (f"PINMAN_PROFILE={choice.name}", "unset PINMAN_PROFILE"),
        "project": (f"chosen by {choice.detail}", f"`pinman use --local {name}` switches this project"),
    }.get(choice.source, ("the global choice", f"`pinman use {name}` switches to it"))
    runs = f"{version} (profile {choice.name}, {why})" if version else f"profile {choice.name} ({why})"
    return f"{name} is not what `claude` runs here: it runs {runs}; {change}"
