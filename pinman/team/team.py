"""Team-shared profiles: init, pin, lock, sync, guarded upgrade and known-bad versions.

The lock lives in the profile file itself, so one reviewable file says what everyone runs:

* an exact pin carries `integrity`, the registry's sha512 of that version;
* a dist-tag or range keeps its spec (`version = "latest"`, the intent) and gains `locked`, the
  exact version it resolved to when `pinman lock` or `pinman upgrade` last ran, plus that version's
  `integrity`; `locked` is what runs until one of those moves it;
* 2.x ships its binary as a per-platform optional package; `[claude-code.native]` maps each
  platform the team declares (`linux-x64 = "sha512-…"`) to that package's integrity at the same
  version, and an install whose platform package hashes differently is refused.

Every edit goes through `profiles.update_profile` (comments and layout kept) under a per-file lock,
so a concurrent `lock` and `mark-bad` cannot lose each other's change. Nothing here prints.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pinman.errors import ExitCode, IntegrityError, PinmanError, ProfileError, RegistryError, UsageError
from pinman.install.integrity import install_checked, installed_native, native_integrity
from pinman.install.native import NATIVE_PREFIX, native_keys, this_platform
from pinman.paths import Paths
from pinman.names import CLAUDE_CODE
from pinman.names import Progress

if TYPE_CHECKING:
    from pinman.health.classify import Outcome
    from pinman.profile.discovery import BrokenProfile
    from pinman.profile.model import Profile
    from pinman.npm.registry import Registry
    from pinman.health.rollback import Prober
    from pinman.install.layout import Install
    from pinman.install.store import Store


# --------------------------------------------------------------------------- shared pieces


@dataclass(frozen=True)
class Skip:
    """A version that resolution passed over, and why."""

    version: str
    reason: str


def editable(profile: Profile) -> None:
    """Built-in profiles ship with pinman: an edit would be lost on upgrade and shared with no one."""
    if profile.source == "builtin":
        how = "`pinman init` copies it into this folder" if profile.name == "stable" else (
            f"copy {profile.path} to profiles/ beside your .pinman.toml, or to your user profiles folder")
        raise ProfileError(f"{profile.name} is a built-in profile, which pinman does not edit",
                           hint=f"{how}, then run this again")


@contextmanager
def profile_lock(paths: Paths, path: Path) -> Iterator[None]:
    """Serialise read-modify-write of one profile file between pinman processes."""
    from filelock import FileLock

    from pinman.state.fsutil import make_dirs

    digest = hashlib.sha256(str(path.absolute()).encode()).hexdigest()[:16]
    make_dirs(paths.locks)
    with FileLock(str(paths.locks / f"profile-{digest}.lock"), timeout=120, mode=0o600):
        yield


def reload(profile: Profile) -> Profile:
    """The profile as the file says now (after taking its lock)."""
    from pinman.profile.validate import load_profile

    return load_profile(profile.path, name=profile.name, source=profile.source,
                        project_root=profile.project_root)


def _registry(paths: Paths, registry: Registry | None) -> Registry:
    from pinman.npm.registry import Registry

    return registry or Registry(paths)


def _store(paths: Paths, store: Store | None) -> Store:
    from pinman.install.store import Store

    return store or Store(paths)


def bad_skips(profile: Profile) -> dict[str, str]:
    """version -> why, for the versions the profile file marks bad."""
    return {b.version: f"marked bad in {profile.path.name}" + (f": {b.reason}" if b.reason else "")
            for b in profile.claude_code.bad}


def skips_for_resolve(paths: Paths, cwd: Path, name: str | None) -> dict[str, str]:
    """Known-bad versions `pinman resolve` skips: the named profile's, else the active one's."""
    from pinman.runtime import activation
    from pinman.profile.discovery import find_profile

    if name is None:
        try:
            name = activation.choose(cwd, paths).name
            return bad_skips(find_profile(name, cwd, paths))
        except PinmanError:
            return {}  # no profile here: answer exactly as npm would
    return bad_skips(find_profile(name, cwd, paths))


def _is_exact(spec: str) -> bool:
    from pinman.npm.versions import is_exact

    return is_exact(spec)


def _clean(version: str) -> str:
    from pinman.npm.versions import clean

    exact = clean(version)
    if exact is None:
        raise UsageError(f"{version!r} is not an exact version", hint="e.g. 2.1.331")
    return exact


# --------------------------------------------------------------------------- lock data from the registry


@dataclass(frozen=True)
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
        from pinman.npm.versions import pick

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
    from pinman.install.npmfiles import integrity_matches

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


# --------------------------------------------------------------------------- init


@dataclass
class InitResult:
    root: Path
    written: list[Path] = field(default_factory=list)
    kept: list[Path] = field(default_factory=list)


STARTER = """\
# profiles/{name}.toml: the Claude Code this team runs day to day. Commit it.
#
# Everyone with this repository runs exactly this version: pinman checks each install against
# `integrity` and refuses anything else. Move it with `pinman pin {name} VERSION` (comments
# stay), or let `pinman upgrade {name}` try a newer version against your endpoint first.
schema = 1
description = "What this team runs day to day"

[claude-code]
# An exact version, a dist-tag ("latest") or an npm range ("^2.1.0"). For a tag or range,
# `pinman lock` records the exact version it resolves to (`locked`) with its hash.
version = "{version}"
# The registry's sha512 for that version; an install that hashes differently is refused.
integrity = "{integrity}"
# Versions that `lock`, `upgrade` and `resolve` skip (`pinman mark-bad {name} VERSION --reason ...`):
# bad = [
#   {{ version = "2.1.330", reason = "output_config rejected by our gateway" }},
# ]
# 2.x runs a per-platform binary package: `pinman lock` adds a [claude-code.native] table with
# its hash for this platform and each `--platform KEY` you name (linux-x64, darwin-arm64, ...).

# Exported when the pinned `claude` runs; each teammate approves it once with `pinman trust`.
# [env]
# ANTHROPIC_BASE_URL = "https://llm-gateway.internal.example"

# How `pinman check` and `pinman upgrade` test a version against your endpoint.
[health]
prompt = "Reply with the single word OK."
timeout = 60                             # seconds
"""


def init(paths: Paths, cwd: Path, *, force: bool = False) -> InitResult:
    """`.pinman.toml` choosing stable and a commented `profiles/stable.toml` pinned like the
    built-in stable. Files that exist are kept unless `force`."""
    from pinman.state.fsutil import atomic_write
    from pinman.paths import builtin_profiles_dir
    from pinman.profile.project import PROJECT_FILE, write_project_file
    from pinman.profile.validate import load_profile, parse_profile

    result = InitResult(cwd)
    builtin = load_profile(builtin_profiles_dir() / "stable.toml", source="builtin")
    starter = cwd / "profiles" / "stable.toml"
    if _exists(starter) and not force:
        result.kept.append(starter)
    else:
        text = STARTER.format(name="stable", version=builtin.claude_code.version,
                              integrity=builtin.claude_code.integrity)
        parse_profile(text, starter)  # the template is a valid profile, or nothing is written
        atomic_write(starter, text, mode=0o644)  # a file of the user's project
        result.written.append(starter)
    project = cwd / PROJECT_FILE
    if _exists(project) and not force:
        result.kept.append(project)
    else:
        if force:
            project.unlink(missing_ok=True)
        write_project_file(cwd, "stable")
        result.written.append(project)
    return result


def _exists(path: Path) -> bool:
    return path.exists() or path.is_symlink()


# --------------------------------------------------------------------------- pin and lock


@dataclass
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


def pin(paths: Paths, cwd: Path, name: str, version: str, *, platforms: Iterable[str] = (),
        registry: Registry | None = None) -> PinResult:
    """Pin `name` to an exact version with its integrity (a tag or range is resolved first)."""
    from pinman.profile.discovery import find_profile
    from pinman.npm.versions import parse_spec

    try:
        parse_spec(version)
    except ValueError as e:
        raise UsageError(str(e), hint="e.g. 2.1.331, latest or ^2.1.0") from None
    reg = _registry(paths, registry)
    profile = find_profile(name, cwd, paths)
    editable(profile)
    with profile_lock(paths, profile.path):
        profile = reload(profile)
        skips = bad_skips(profile)
        if _is_exact(version):
            exact = _not_bad(profile, _clean(version), skips)
            skipped: list[Skip] = []
        else:
            res = reg.resolve(CLAUDE_CODE, version, skip=skips)
            exact, skipped = res.version, [Skip(v, skips[v]) for v in res.skipped]
        data = lock_data(reg, exact, profile.claude_code.native, platforms)
        _check_same_version(profile, data)
        before = profile.claude_code.exact
        changed = _write(profile, pin_changes(profile, data, exact=True))
    return PinResult(name, profile.path, exact, before, exact, data.integrity, data.native, changed,
                     skipped, data.dropped, data.ignored, version)


def _not_bad(profile: Profile, exact: str, skips: Mapping[str, str]) -> str:
    """An exact version asked for by name, unless the profile marks it bad."""
    if exact in skips:
        raise ProfileError(f"{profile.name}: {exact} is {skips[exact]}",
                           hint=f"remove it from bad in {profile.path} first if it works now")
    return exact


def _write(profile: Profile, changes: Mapping[str, object]) -> bool:
    from pinman.profile.edit import update_profile

    from pinman.faults import point
    from pinman.profile.trust import carry_over, expect_edit

    paths = Paths.from_env()
    before = profile.path.read_bytes()
    project = profile.source == "project"
    # Trust the new content before it lands, so a kill right after the rename keeps the trust.
    expect = (lambda after: expect_edit(paths, profile.path, before, after)) if project else None
    update_profile(profile.path, changes, before_write=expect)
    changed = profile.path.read_bytes() != before
    point("team.edited", profile.name)
    if changed and project:
        carry_over(paths, profile.path, before)
    return changed


def project_profiles(paths: Paths, cwd: Path) -> tuple[Path, list[Profile], list[BrokenProfile]]:
    """The project's own profiles (profiles/ beside .pinman.toml) plus the one .pinman.toml
    chooses if it lives elsewhere. Outside a project: ProfileError."""
    from pinman.profile.discovery import find_profile, list_profiles
    from pinman.profile.project import find_project_root, read_project_file

    root = find_project_root(cwd)
    if root is None:
        raise ProfileError("not in a project: no .pinman.toml here or in any folder above",
                           hint="run `pinman init` in the repository, or cd into it")
    found = list_profiles(root, paths)
    mine = [p for p, shadowed in found if p.source == "project" and not shadowed]
    broken = [b for b in found.broken if b.source == "project" and not b.shadowed]
    chosen = read_project_file(root).profile
    if chosen and all(p.name != chosen for p in mine) and all(b.name != chosen for b in broken):
        mine.append(find_profile(chosen, root, paths))
    return root, mine, broken


def lock_profile(paths: Paths, profile: Profile, *, platforms: Iterable[str] = (),
                 registry: Registry | None = None) -> PinResult:
    """Record the exact version (and hashes) a profile runs: a tag/range gets `locked` at what it
    resolves to now, skipping its known-bad versions; an exact pin gets its hashes filled in."""
    editable(profile)
    reg = _registry(paths, registry)
    with profile_lock(paths, profile.path):
        profile = reload(profile)
        pin = profile.claude_code
        skipped: list[Skip] = []
        if _is_exact(pin.version):
            version = _clean(pin.version)
        else:
            skips = bad_skips(profile)
            res = reg.resolve(CLAUDE_CODE, pin.version, skip=skips)
            version, skipped = res.version, [Skip(v, skips[v]) for v in res.skipped]
        data = lock_data(reg, version, pin.native, platforms)
        _check_same_version(profile, data)
        changed = _write(profile, pin_changes(profile, data, exact=_is_exact(pin.version)))
    return PinResult(profile.name, profile.path, pin.version, pin.exact, version, data.integrity,
                     data.native, changed, skipped, data.dropped, data.ignored, pin.version)


# --------------------------------------------------------------------------- mark-bad


@dataclass
class MarkResult:
    profile: str
    path: Path
    version: str
    reason: str
    added: bool
    running: bool  # the file's pin or lock is this very version


def mark_bad(paths: Paths, cwd: Path, name: str, version: str, reason: str) -> MarkResult:
    """Append `{ version, reason }` to the profile's `bad` array (comments kept)."""
    from pinman.profile.discovery import find_profile

    exact = _clean(version)
    profile = find_profile(name, cwd, paths)
    editable(profile)
    with profile_lock(paths, profile.path):
        profile = reload(profile)
        pin = profile.claude_code
        existing = pin.is_bad(exact)
        if existing is None:
            _append_bad(profile, exact, reason)
        running = pin.exact == exact
    return MarkResult(name, profile.path, exact, existing.reason if existing else reason,
                      existing is None, running)


def _append_bad(profile: Profile, version: str, reason: str) -> None:
    import tomllib

    # The array as written (not as validated): update_profile appends in place only when the
    # new list starts with exactly what the file holds, which keeps the comments inside it.
    raw = tomllib.loads(profile.path.read_text(encoding="utf-8-sig")).get("claude-code", {}).get("bad", [])
    _write(profile, {"claude-code.bad": [*raw, {"version": version, "reason": reason}]})


# --------------------------------------------------------------------------- installs and their check


# --------------------------------------------------------------------------- sync


@dataclass
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


@dataclass
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
    from pinman.runtime.resolution import target

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
    from pinman.runtime.verify import claude_code_repair
    from pinman.install.store import check_files

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
    from pinman.install.npmfiles import integrity_matches

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
    resolves to another version now than the one locked."""
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
            if not _is_exact(pin.version):
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


# --------------------------------------------------------------------------- guarded upgrade


@dataclass
class UpgradeReport:
    profile: str
    path: Path
    spec: str
    current: str | None
    candidate: str
    endpoint: str
    action: str  # dry-run | current | moved | rejected | inconclusive
    detail: str = ""
    skipped: list[Skip] = field(default_factory=list)
    outcome: Outcome | None = None
    written: str | None = None  # "version" (exact pin) or "locked"
    recorded: bool = False  # the candidate was added to the file's bad list

    @property
    def exit_code(self) -> ExitCode:
        return {"rejected": ExitCode.BROKEN, "inconclusive": ExitCode.NOT_CLIENT}.get(self.action, ExitCode.OK)

    def to_json(self) -> dict[str, Any]:
        o = self.outcome
        return {"profile": self.profile, "file": str(self.path), "spec": self.spec, "current": self.current,
                "candidate": self.candidate, "endpoint": self.endpoint, "action": self.action,
                "detail": self.detail, "skipped": [vars(s) for s in self.skipped],
                "outcome": o.kind.value if o else None, "rejected": o.rejected if o else None,
                "message": o.message if o else None, "written": self.written, "recorded": self.recorded,
                "exit_code": int(self.exit_code)}


def upgrade(paths: Paths, cwd: Path, name: str, *, to: str | None = None, dry_run: bool = False,
            record: bool = False, isolated_home: bool = False, environ: Mapping[str, str] | None = None,
            registry: Registry | None = None, store: Store | None = None, prober: Prober | None = None,
            progress: Progress | None = None) -> UpgradeReport:
    """Install a candidate, probe it against the profile's endpoint, and move the pin only if ok."""
    from pinman.runtime import activation
    from pinman.state.journal import Journal, endpoint_of
    from pinman.profile.discovery import find_profile
    from pinman.health.rollback import run_env

    profile = find_profile(name, cwd, paths)
    if not dry_run:
        editable(profile)
    pin = profile.claude_code
    spec = to or (pin.version if not _is_exact(pin.version) else "latest")
    env = run_env(paths, profile, environ)
    endpoint = endpoint_of(env.get("ANTHROPIC_BASE_URL"))
    key = activation.profile_key(profile.name, profile.project_root)
    reg = _registry(paths, registry)
    candidate, skipped = _candidate(profile, spec, Journal(paths).known_bad(key, endpoint), endpoint, reg)
    report = UpgradeReport(name, profile.path, spec, pin.exact, candidate, endpoint, "dry-run",
                           skipped=skipped)
    if candidate == pin.exact:
        also = f", skipping known-bad {', '.join(s.version for s in skipped)}" if skipped else ""
        report.action, report.detail = "current", f"{name} already runs {candidate} ({spec}{also})"
        return report
    if to is None and pin.exact and _older(candidate, pin.exact):
        report.action = "current"
        report.detail = f"{name} runs {pin.exact}, newer than {spec} ({candidate})"
        return report
    if dry_run:
        report.detail = f"would install {candidate} and check it against {endpoint}"
        return report
    data = lock_data(reg, candidate, pin.native)
    install_checked(_store(paths, store), name, candidate, data.integrity, data.native, progress)
    outcome = _probe(paths, profile, env, key, endpoint, candidate, prober, isolated_home)
    report.outcome = outcome
    if outcome.kind.value == "ok":
        _move(paths, profile, spec, data, reg, report)
    elif outcome.kind.value == "schema":
        _reject(paths, profile, env, key, candidate, outcome, record, report)
    else:
        report.action = "inconclusive"
        report.detail = f"{outcome.kind.value}: {outcome.message}; {outcome.advice}; the pin stays"
    return report


def _candidate(profile: Profile, spec: str, journal_bad: Mapping[str, Any], endpoint: str,
               registry: Registry) -> tuple[str, list[Skip]]:
    from pinman.npm.versions import parse_spec

    try:
        parse_spec(spec)
    except ValueError as e:
        raise UsageError(str(e), hint="e.g. 2.1.331, latest or ^2.1.0") from None
    skips = bad_skips(profile)
    if _is_exact(spec):
        exact = _not_bad(profile, _clean(spec), skips)
        # Asked for by name: a local verdict from an earlier check may be out of date, so try it.
        return registry.resolve(CLAUDE_CODE, exact).version, []
    for version, entry in journal_bad.items():
        skips.setdefault(version, f"rejected by {endpoint} in an earlier check"
                         + (f" ({entry.rejected})" if getattr(entry, "rejected", None) else ""))
    res = registry.resolve(CLAUDE_CODE, spec, skip=skips)
    return res.version, [Skip(v, skips[v]) for v in res.skipped]


def _older(a: str, b: str) -> bool:
    from pinman.npm.versions import compare, parse_version

    va, vb = parse_version(a), parse_version(b)
    return va is not None and vb is not None and compare(va, vb) < 0


def _probe(paths: Paths, profile: Profile, env: Mapping[str, str], key: str, endpoint: str, version: str,
           prober: Prober | None, isolated_home: bool) -> Outcome:
    from dataclasses import replace

    from pinman.health.classify import classify
    from pinman.state.journal import Entry, Journal
    from pinman.redact import secret_values
    from pinman.health.rollback import make_prober

    # Always the CLI probe: a direct HTTP request says nothing about what the candidate sends.
    as_cli = replace(profile, health=replace(profile.health, probe="cli"))
    probe = prober or make_prober(paths, as_cli, env, isolated_home=isolated_home)
    result = probe(version)
    outcome = classify(result, secret_values(env))
    Journal(paths).append(Entry("check", key, version, endpoint=endpoint, outcome=outcome.kind.value,
                                status=outcome.status, message=outcome.message[:300],
                                rejected=outcome.rejected, duration=round(result.duration, 3),
                                extra={"via": "upgrade"}), env)
    return outcome


def _move(paths: Paths, profile: Profile, spec: str, data: LockData, registry: Registry,
          report: UpgradeReport) -> None:
    """Write the candidate into the file: as `locked` when it is what the profile's own tag or
    range resolves to, else as an exact pin (the file must not claim a lock its spec disagrees with)."""
    with profile_lock(paths, profile.path):
        fresh = reload(profile)
        pin = fresh.claude_code
        as_lock = not _is_exact(pin.version) and registry.resolve(
            CLAUDE_CODE, pin.version, skip=bad_skips(fresh)).version == data.version
        _write(fresh, pin_changes(fresh, data, exact=not as_lock))
    report.action = "moved"
    report.written = "locked" if as_lock else "version"
    how = (f"locked {pin.version} at {data.version}" if as_lock
           else f"pinned {data.version}" + ("" if _is_exact(pin.version) else f" (was {pin.version})"))
    report.detail = f"{data.version} checked ok against {report.endpoint}: {how} in {profile.path.name}"


def _reject(paths: Paths, profile: Profile, env: Mapping[str, str], key: str, version: str,
            outcome: Outcome, record: bool, report: UpgradeReport) -> None:
    from pinman.state.journal import Entry, Journal

    what = outcome.rejected or "the request"
    reason = f"{outcome.message} ({report.endpoint})"
    Journal(paths).append(Entry("bad", key, version, endpoint=report.endpoint, outcome="schema",
                                status=outcome.status, message=outcome.message[:300],
                                rejected=outcome.rejected, extra={"via": "upgrade"}), env)
    report.action = "rejected"
    report.detail = f"{report.endpoint} rejects {what} sent by {version}; the pin stays at {report.current}"
    if record:
        with profile_lock(paths, profile.path):
            fresh = reload(profile)
            if fresh.claude_code.is_bad(version) is None:
                _append_bad(fresh, version, reason)
        report.recorded = True
