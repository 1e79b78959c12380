"""Lock data from the registry and the lock edit: the exact version a profile runs, with its
sha512 and its platform packages' hashes. A hash already in the file for the same version must
agree with the registry's, or nothing is written."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pinman.errors import IntegrityError, RegistryError, UsageError
from pinman.paths import Paths
from pinman.names import CLAUDE_CODE
from pinman.team.common import Skip, _clean, _is_exact, _registry, _write, bad_skips, editable, profile_lock, reload
from pinman.install.native import NATIVE_PREFIX, native_keys, this_platform
from pinman.runtime.channel import is_guarded, running
from pinman.install.integrity import native_integrity
from pinman.install.npmfiles import integrity_matches
from pinman.record import record

if TYPE_CHECKING:
    from pinman.profile.model import Profile
    from pinman.npm.registry import Registry


# --------------------------------------------------------------------------- lock data from the registry


@record
class LockData:
    version: str
    integrity: str
    native: dict[str, str]  # platform key -> integrity of @anthropic-ai/claude-code-<key>@version
    dropped: tuple[str, ...] = ()  # declared platforms this version has no package for
    ignored: tuple[str, ...] = ()  # requested platforms ignored: this version has no native packages


def lock_data(registry: Registry, version: str, declared: Iterable[str] = (),
              add: Iterable[str] = ()) -> LockData:
    """Integrity of `version` and of its platform packages for the declared platforms, this
    machine's and `add`. Raises when the registry lacks a hash pinman would have to write."""
    doc = registry.packument(CLAUDE_CODE)
    info = doc.versions.get(version)
    if info is None:
        from pinman.npm.pick import pick

        pick(version, doc, None)  # raises with the nearest published versions
        raise RegistryError(f"{CLAUDE_CODE}@{version} is not published")
    if not info.integrity or not info.integrity.startswith("sha512-"):
        raise RegistryError(f"the registry has no sha512 integrity for {CLAUDE_CODE}@{version}")
    available = native_keys(info.optional_dependencies)
    add = list(dict.fromkeys(add))
    if not available:
        return LockData(version, info.integrity, {}, tuple(declared), tuple(add))
    unknown = [k for k in add if k not in available]
    if unknown:
        raise UsageError(f"{CLAUDE_CODE}@{version} has no native package for {', '.join(unknown)}",
                         hint=f"platforms: {', '.join(sorted(available))}")
    here = this_platform(available)
    wanted = list(dict.fromkeys([*declared, *([here] if here else []), *add]))
    keys = [k for k in wanted if k in available]
    native = {k: native_integrity(registry, k, version) for k in keys}
    return LockData(version, info.integrity, native, tuple(k for k in wanted if k not in available))


def pin_changes(profile: Profile, data: LockData, *, exact: bool) -> dict[str, object]:
    """update_profile changes that make `profile` run `data` (as an exact pin or as its lock)."""
    changes: dict[str, object] = (
        {"claude-code.version": data.version, "claude-code.locked": None} if exact
        else {"claude-code.locked": data.version})
    changes["claude-code.integrity"] = data.integrity
    old = profile.claude_code.native
    if not data.native:
        if old:
            changes["claude-code.native"] = None
        return changes
    for key in old:
        if key not in data.native:
            changes[f"claude-code.native.{key}"] = None
    for key, value in data.native.items():
        changes[f"claude-code.native.{key}"] = value
    return changes


def _check_same_version(profile: Profile, data: LockData) -> None:
    """A hash already in the file for this very version must agree with the registry's.

    A difference means a tampered file or registry; silently overwriting it would defeat the lock.
    """

    pin = profile.claude_code
    if pin.exact != data.version:
        return
    where = f"{profile.path.name}"
    if pin.integrity and not integrity_matches(pin.integrity, data.integrity):
        raise IntegrityError(
            f"{profile.name}: {CLAUDE_CODE}@{data.version}: {where} says {pin.integrity}, "
            f"the registry says {data.integrity}",
            hint="find out which is right; if the file is wrong, remove its integrity and lock again")
    for key, value in pin.native.items():
        if key in data.native and not integrity_matches(value, data.native[key]):
            raise IntegrityError(
                f"{profile.name}: {NATIVE_PREFIX}{key}@{data.version}: {where} says {value}, "
                f"the registry says {data.native[key]}",
                hint="find out which is right; if the file is wrong, remove that line and lock again")


@record(frozen=False)
class PinResult:
    profile: str
    path: Path
    spec: str  # as written in the profile after the edit
    before: str | None  # the exact version that ran before (None: an unlocked tag/range)
    after: str
    integrity: str
    native: dict[str, str]
    changed: bool
    skipped: list[Skip] = field(default_factory=list)
    dropped: tuple[str, ...] = ()
    ignored: tuple[str, ...] = ()
    requested: str = ""  # what `pin` was asked for (a version, tag or range)

    def to_json(self) -> dict[str, Any]:
        return {"profile": self.profile, "file": str(self.path), "spec": self.spec, "before": self.before,
                "after": self.after, "integrity": self.integrity, "native": self.native,
                "changed": self.changed, "skipped": [vars(s) for s in self.skipped],
                "dropped_platforms": list(self.dropped)}


def lock_profile(paths: Paths, profile: Profile, *, platforms: Iterable[str] = (),
                 registry: Registry | None = None) -> PinResult:
    """Record the exact version (and hashes) a profile runs: a tag/range gets `locked` at what it
    resolves to now, skipping its known-bad versions (a guarded channel: at what it runs on this
    machine, verified here); an exact pin gets its hashes filled in."""
    editable(profile)
    reg = _registry(paths, registry)
    with profile_lock(paths, profile.path):
        profile = reload(profile)
        pin = profile.claude_code
        skipped: list[Skip] = []
        if _is_exact(pin.version):
            version = _clean(pin.version)
        elif is_guarded(paths, profile):
            version = running(paths, profile).version  # one version for everyone: the one verified here
        else:
            skips = bad_skips(profile)
            res = reg.resolve(CLAUDE_CODE, pin.version, skip=skips)
            version, skipped = res.version, [Skip(v, skips[v]) for v in res.skipped]
        data = lock_data(reg, version, pin.native, platforms)
        _check_same_version(profile, data)
        changed = _write(profile, pin_changes(profile, data, exact=_is_exact(pin.version)))
    return PinResult(profile.name, profile.path, pin.version, pin.exact, version, data.integrity,
                     data.native, changed, skipped, data.dropped, data.ignored, pin.version)
