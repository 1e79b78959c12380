"""What a team's lock says about an install: the platform packages a Claude Code version ships,
their hashes from the registry, and the check that refuses an install whose package or platform
package hashes differently from the lock (a fresh install that fails it is removed again).

The lock itself lives in the profile file (see `pinman.team.lock`); nothing here prints.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pinman.errors import IntegrityError, RegistryError
from pinman.names import CLAUDE_CODE
from pinman.names import Progress

if TYPE_CHECKING:
    from pinman.npm.registry import Registry
    from pinman.install.store import Install, Store

NATIVE_PREFIX = CLAUDE_CODE + "-"  # @anthropic-ai/claude-code-linux-x64


def native_keys(optional_dependencies: Mapping[str, str]) -> list[str]:
    """Platform keys a Claude Code version ships native packages for (none for 1.x)."""
    return [name[len(NATIVE_PREFIX):] for name in optional_dependencies if name.startswith(NATIVE_PREFIX)]


def this_platform(available: Iterable[str]) -> str | None:
    from pinman.install.store import native_platform_keys

    have = set(available)
    return next((k for k in native_platform_keys() if k in have), None)


def _native_integrity(registry: Registry, key: str, version: str) -> str:
    name = NATIVE_PREFIX + key
    info = registry.packument(name).versions.get(version)
    if info is None or not info.integrity or not info.integrity.startswith("sha512-"):
        raise RegistryError(f"the registry has no sha512 integrity for {name}@{version}")
    return info.integrity


# --------------------------------------------------------------------------- installs and their check


@dataclass(frozen=True)
class NativeInfo:
    key: str  # platform key, e.g. linux-x64
    integrity: str | None


def installed_native(inst: Install) -> NativeInfo | None:
    """The platform package an install runs, with the integrity npm recorded for it."""
    from pinman.install.store import MARKER

    try:
        marker = json.loads((inst.prefix / MARKER).read_text())
    except (OSError, ValueError):
        marker = {}
    native = marker.get("native") if isinstance(marker, dict) else None
    if isinstance(native, dict) and isinstance(native.get("package"), str):
        package = native["package"]
        integrity = native.get("integrity") if isinstance(native.get("integrity"), str) else None
        if package.startswith(NATIVE_PREFIX):
            return NativeInfo(package[len(NATIVE_PREFIX):], integrity or _lock_integrity(inst.prefix, package))
    return None


def _lock_integrity(prefix: Path, package: str) -> str | None:
    for lock in (prefix / "package-lock.json", prefix / "node_modules" / ".package-lock.json"):
        try:
            entry = json.loads(lock.read_text()).get("packages", {}).get(f"node_modules/{package}")
        except (OSError, ValueError, AttributeError):
            continue
        if isinstance(entry, dict) and isinstance(entry.get("integrity"), str):
            return str(entry["integrity"])
    return None


def check_native(profile_name: str, inst: Install, expected: Mapping[str, str]) -> NativeInfo | None:
    """Refuse an install whose platform package differs from the hash locked for this platform.

    Returns what was checked (None when the lock names no hash for the platform installed).
    """
    from pinman.install.store import integrity_matches

    info = installed_native(inst)
    if info is None or info.key not in expected:
        return None
    want = expected[info.key]
    if not integrity_matches(want, info.integrity):
        raise IntegrityError(
            f"{profile_name}: {NATIVE_PREFIX}{info.key}@{inst.version}: integrity mismatch: "
            f"expected {want}, actual {info.integrity}",
            hint="the registry served other bits than the lock names; nothing of it is kept")
    return info


@dataclass(frozen=True)
class Checked:
    install: Install
    fresh: bool  # installed now, not found in the store
    native: NativeInfo | None  # the platform package whose hash was checked


def install_checked(store: Store, profile_name: str, version: str, integrity: str | None,
                    native: Mapping[str, str], progress: Progress | None = None) -> Checked:
    """Install (or find) `version`, checking the package and platform-package hashes.

    A mismatch on a fresh install removes it again; an install that was already in the store is
    left alone (other profiles may use it) but still refused.
    """
    fresh = store.get(CLAUDE_CODE, version) is None
    try:
        inst = store.install(CLAUDE_CODE, version, integrity=integrity, progress=progress)
    except IntegrityError as e:
        raise IntegrityError(f"{profile_name}: {e.message}", e.hint) from None
    try:
        checked = check_native(profile_name, inst, native)
    except IntegrityError:
        if fresh:
            store.remove(CLAUDE_CODE, version)
        raise
    return Checked(inst, fresh, checked)
