"""Integrity of a Claude Code install against a profile's lock: the package's hash and, for 2.x,
the hash of the platform package this machine runs.

A mismatch is refused before anything runs; a fresh install that fails is removed again, one that
was already in the store (other profiles may use it) is kept but still refused.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from pinman.errors import IntegrityError, RegistryError
from pinman.install.layout import Install, read_marker
from pinman.install.native import NATIVE_PREFIX
from pinman.install.npmfiles import integrity_matches, locked_integrity
from pinman.names import CLAUDE_CODE, Progress
from pinman.record import record

if TYPE_CHECKING:
    from pinman.install.store import Store
    from pinman.npm.registry import Registry


def native_integrity(registry: Registry, key: str, version: str) -> str:
    """The registry's sha512 integrity of the platform package `key` at `version` (what a lock records)."""
    name = NATIVE_PREFIX + key
    info = registry.packument(name).versions.get(version)
    if info is None or not info.integrity or not info.integrity.startswith("sha512-"):
        raise RegistryError(f"the registry has no sha512 integrity for {name}@{version}")
    return info.integrity


@record
class NativeInfo:
    key: str  # platform key, e.g. linux-x64
    integrity: str | None


def installed_native(inst: Install) -> NativeInfo | None:
    """The platform package an install runs, with the integrity npm recorded for it."""
    native = read_marker(inst.prefix).get("native")
    if isinstance(native, dict) and isinstance(native.get("package"), str):
        package = native["package"]
        integrity = native.get("integrity") if isinstance(native.get("integrity"), str) else None
        if package.startswith(NATIVE_PREFIX):
            return NativeInfo(package[len(NATIVE_PREFIX):], integrity or locked_integrity(inst.prefix, package))
    return None


def check_native(profile_name: str, inst: Install, expected: Mapping[str, str]) -> NativeInfo | None:
    """Refuse an install whose platform package differs from the hash locked for this platform.

    Returns what was checked (None when the lock names no hash for the platform installed).
    """
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


@record
class Checked:
    install: Install
    fresh: bool  # installed now, not found in the store
    native: NativeInfo | None  # the platform package whose hash was checked


def install_checked(store: Store, profile_name: str, version: str, integrity: str | None,
                    native: Mapping[str, str], progress: Progress | None = None, *, force: bool = False) -> Checked:
    """Install (or find) `version`, checking the package and platform-package hashes.

    A mismatch on a fresh install removes it again; an install that was already in the store is
    left alone (other profiles may use it) but still refused. `force` rebuilds a present install;
    the rebuild replaces it only after both hashes are checked.
    """
    fresh = store.get(CLAUDE_CODE, version) is None
    try:
        if force and not fresh:
            inst = store.reinstall(CLAUDE_CODE, version, integrity=integrity, progress=progress,
                                   accept=lambda built: check_native(profile_name, built, native))
        else:
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
