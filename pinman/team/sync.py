"""`sync`: install every version a project's profiles name, each checked against the hashes
its file locks; `--frozen` first proves every lock holds and installs nothing when one does not."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pinman.errors import ExitCode, IntegrityError, PinmanError, RegistryError
from pinman.paths import Paths
from pinman.names import CLAUDE_CODE
from pinman.names import Progress
from pinman.team.common import _is_exact, _registry, _store, bad_skips, project_profiles
from pinman.install.integrity import install_checked, installed_native
from pinman.install.native import native_keys, this_platform
from pinman.install.npmfiles import integrity_matches
from pinman.install.store import check_files
from pinman.runtime.resolution import target
from pinman.runtime.verify import claude_code_repair
from pinman.record import record

if TYPE_CHECKING:
    from pinman.profile.discovery import BrokenProfile
    from pinman.profile.model import Profile
    from pinman.npm.registry import Registry
    from pinman.install.layout import Install
    from pinman.install.store import Store


# --------------------------------------------------------------------------- sync


@record(frozen=False)
class SyncItem:
    profile: str
    path: Path | None
    version: str | None = None
    status: str = "failed"  # installed | present | failed
    integrity: str | None = None
    native: str | None = None  # platform key whose hash was checked
    note: str | None = None
    error: PinmanError | None = None

    def to_json(self) -> dict[str, Any]:
        return {"profile": self.profile, "file": str(self.path) if self.path else None,
                "version": self.version, "status": self.status, "integrity": self.integrity,
                "native": self.native, "note": self.note,
                "error": self.error.message if self.error else None}


@record(frozen=False)
class SyncReport:
    root: Path
    items: list[SyncItem] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # --frozen: why the locks do not hold

    @property
    def exit_code(self) -> ExitCode:
        if self.problems:
            return ExitCode.PROFILE
        failed = [i.error for i in self.items if i.error is not None]
        if not failed:
            return ExitCode.OK
        return ExitCode.INSTALL if any(isinstance(e, IntegrityError) or e.exit_code == ExitCode.INSTALL
                                       for e in failed) else failed[0].exit_code

    def to_json(self) -> dict[str, Any]:
        return {"project": str(self.root), "profiles": [i.to_json() for i in self.items],
                "problems": self.problems, "exit_code": int(self.exit_code)}


def sync(paths: Paths, cwd: Path, *, frozen: bool = False, store: Store | None = None,
         registry: Registry | None = None, progress: Callable[[str], Progress] | None = None) -> SyncReport:
    """Install every version the project's profiles name, each checked against its hashes.

    One failure does not stop the others. `frozen` first checks that every lock holds (for CI)
    and installs nothing when one does not.
    """
    root, profiles, broken = project_profiles(paths, cwd)
    report = SyncReport(root)
    reg = _registry(paths, registry)
    if frozen:
        report.problems = frozen_problems(profiles, broken, reg)
        if report.problems:
            return report
    st = _store(paths, store)
    for b in broken:
        report.items.append(SyncItem(b.name, b.path, error=b.error))
    for profile in profiles:
        report.items.append(_sync_one(paths, profile, st, reg, progress(profile.name) if progress else None))
    return report


def _sync_one(paths: Paths, profile: Profile, store: Store, registry: Registry,
              progress: Progress | None) -> SyncItem:

    item = SyncItem(profile.name, profile.path)
    try:
        tgt = target(paths, profile, registry=registry, use_override=False)
        item.version = tgt.version
        pin = profile.claude_code
        if pin.exact is None:
            item.note = f"{pin.version} is not locked (resolved to {tgt.version} now): run `pinman lock`"
        elif not pin.integrity:
            item.note = "no integrity in the file: run `pinman lock`"
        if store.get(CLAUDE_CODE, tgt.version) is None and pin.integrity:
            _precheck(profile, tgt.version, pin.integrity, registry)
        done = install_checked(store, profile.name, tgt.version, tgt.integrity, pin.native, progress)
        if not done.fresh:
            _check_unchanged(profile.name, done.install, item)
        item.status = "installed" if done.fresh else "present"
        item.integrity = done.install.integrity
        item.native = done.native.key if done.native else None
        here = installed_native(done.install)
        if here is not None and done.native is None and item.note is None:
            item.note = f"the native package for {here.key} is not locked: run `pinman lock`"
    except PinmanError as e:
        item.error = e
    return item


def _check_unchanged(profile_name: str, inst: Install, item: SyncItem) -> None:
    """An install found in the store must still hold the files it was installed with."""

    files = check_files(inst.prefix)
    repair = claude_code_repair(inst.version)
    if files.state == "changed":
        raise IntegrityError(f"{profile_name}: Claude Code {inst.version}: {files.summary()}",
                             hint=f"reinstall it: {repair}")
    if files.state == "unrecorded":
        note = f"{inst.version}: {files.summary()}: `{repair}` installs it again with one"
        item.note = f"{item.note}; {note}" if item.note else note


def _precheck(profile: Profile, version: str, expected: str, registry: Registry) -> None:
    """Before downloading, compare the file's hash with the one the registry publishes.

    Saves a download that would be refused anyway; the check of what npm actually installed
    still follows (a registry that publishes one hash and serves other bits is caught there).
    """

    try:
        info = registry.packument(CLAUDE_CODE).versions.get(version)
    except RegistryError:
        return  # offline: npm and the store check decide
    published = info.integrity if info else None
    if published and not integrity_matches(expected, published):
        raise IntegrityError(
            f"{profile.name}: {CLAUDE_CODE}@{version}: integrity mismatch: expected {expected} "
            f"({profile.path.name}), actual {published} (registry)",
            hint="the profile or the registry was changed; not installed")


def frozen_problems(profiles: list[Profile], broken: list[BrokenProfile], registry: Registry) -> list[str]:
    """Why `sync --frozen` must fail: a broken file, a missing lock or hash, or a tag/range that
    resolves to another version now than the one locked (not for a guarded channel: it moves only
    through verification, so a newer release is no drift)."""
    out = [b.error.message for b in broken]
    for profile in profiles:
        pin = profile.claude_code
        where = f"{profile.name} ({profile.path})"
        if pin.exact is None:
            how = ("copy it into profiles/, run `pinman lock` and commit" if profile.source == "builtin"
                   else "run `pinman lock` and commit")
            out.append(f"{where}: {pin.version} has no lock: {how}")
            continue
        if not pin.integrity:
            out.append(f"{where}: {pin.exact} has no integrity: run `pinman lock` and commit")
        try:
            info = registry.packument(CLAUDE_CODE).versions.get(pin.exact)
            if not _is_exact(pin.version) and not profile.update.guarded:
                # (a guarded channel's lock is the release verified where it was locked, not npm's pick)
                now = registry.resolve(CLAUDE_CODE, pin.version, skip=bad_skips(profile)).version
                if now != pin.exact:
                    out.append(f"{where}: {pin.version} is locked at {pin.exact} but resolves to {now} "
                               "now: run `pinman lock` (or `pinman upgrade`) and commit")
        except PinmanError as e:
            out.append(f"{where}: {e.message}")
            continue
        here = this_platform(native_keys(info.optional_dependencies)) if info else None
        if here and here not in pin.native:
            out.append(f"{where}: {pin.exact} has no native hash for {here}: "
                       f"run `pinman lock --platform {here}` and commit")
    return out
