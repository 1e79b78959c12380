"""Immutable installs, one per (package, version).

`store/<slug>/<version>/` is an npm prefix written once. npm installs into a temp dir under
`store/.tmp` (same filesystem), pinman checks the result, writes the marker `.pinman-install.json`
last and renames the dir into place. A dir without the marker is not an install: the next
`install()` removes it and starts again. `reinstall()` (`install --force`) builds aside the same
way and swaps the new install in only once it is complete and checked (`pinman.install.publish`):
a failed or offline rebuild leaves the present install as it was.

npm runs with `--ignore-scripts`: the only install script we need is Claude Code 2.x's postinstall,
which links the platform package's native binary over the `bin/claude.exe` placeholder. npm 11
skips scripts that `allowScripts` does not cover, and users may set `ignore-scripts` themselves, so
pinman always places the binary itself and no package code runs at install time.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from pinman.errors import InstallError, IntegrityError, PinmanError
from pinman.faults import point
from pinman.state.fsutil import atomic_write, make_dirs
from pinman.install.manifest import FileCheck, check as check_manifest
from pinman.install.publish import publish, restore_swapped, swap_stem
from pinman.paths import Paths
from pinman.names import CLAUDE_CODE, Progress
from pinman.install.layout import MARKER, SCHEMA, Install, find_install, read_install, read_marker, semver_key, slug, validate_version
from pinman.install.native import is_native_layout, place_native_binary
from pinman.install.npmfiles import bin_entry, integrity_matches, locked_integrity, read_json
from pinman.install.npmrun import NPM_HINTS, npm_error, run_captured, tool_version, version_check

STALE_AFTER = 3600.0  # seconds; a build dir older than this belongs to a process that died
NPM_HINT = "install Node.js (it includes npm) from https://nodejs.org or your package manager"


class Store:
    def __init__(
        self,
        paths: Paths,
        *,
        npm: str = "npm",
        npm_env: Mapping[str, str] | None = None,
        timeout: float = 900.0,
    ) -> None:
        self.paths = paths
        self.npm = npm
        self.npm_env = dict(npm_env or {})  # extra environment for npm runs only
        self.timeout = timeout

    @property
    def _tmp_root(self) -> Path:
        return self.paths.store / ".tmp"

    @property
    def build_root(self) -> Path:
        """Where builds grow before they are published (progress watches it)."""
        return self._tmp_root

    def _own_tmp(self) -> None:
        """Make store/.tmp a real folder. pinman deletes inside it, so a symlink planted there is
        removed, never followed: it would send builds and clean-ups into another folder."""
        if self._tmp_root.is_symlink():
            self._tmp_root.unlink()
        make_dirs(self._tmp_root)

    def path_for(self, package: str, version: str) -> Path:
        validate_version(version)
        return self.paths.store / slug(package) / version

    def get(self, package: str, version: str) -> Install | None:
        return find_install(self.paths.store, package, version)

    def list(self, package: str | None = None) -> list[Install]:
        root = self.paths.store
        if not root.is_dir():
            return []
        if package is not None:
            slug_dirs = [root / slug(package)]
        else:
            slug_dirs = [d for d in root.iterdir() if not d.name.startswith(".")]
        found: list[Install] = []
        for slug_dir in slug_dirs:
            if not slug_dir.is_dir():
                continue
            for version_dir in slug_dir.iterdir():
                install = read_install(version_dir)
                if install is not None and (package is None or install.package == package):
                    found.append(install)
        return sorted(found, key=lambda i: (i.package, semver_key(i.version)))

    def install(
        self,
        package: str,
        version: str,
        *,
        integrity: str | None = None,
        progress: Progress | None = None,
    ) -> Install:
        report = progress or (lambda _phase: None)
        found = self.get(package, version)
        if found is None:
            with self._lock(package, version, report):
                self._clean_tmp(held=self._lock_path(package, version))  # puts back a half-done swap
                found = self.get(package, version)  # another process may have finished it
                if found is None:
                    return self._build(package, version, integrity, report)
        _check_cached_integrity(found, integrity)
        return found

    def reinstall(self, package: str, version: str, *, integrity: str | None = None,
                  progress: Progress | None = None, accept: Callable[[Install], object] | None = None) -> Install:
        """Build `version` again aside; swap it in once complete, checked and `accept`ed. Until
        then the present install stays and runs; a failed or offline build leaves it, and says so."""
        report = progress or (lambda _phase: None)
        with self._lock(package, version, report):
            self._clean_tmp(held=self._lock_path(package, version))
            if self.get(package, version) is None:
                return self._build(package, version, integrity, report, accept=accept)
            try:
                return self._build(package, version, integrity, report, accept=accept, replace=True)
            except PinmanError as e:
                raise type(e)(f"{e.message}; the installed {version} is kept as it was and still runs",
                              hint=e.hint) from None

    def remove(self, package: str, version: str) -> None:
        """Delete an install; a missing one is not an error."""
        final = self.path_for(package, version)
        with self._lock(package, version, lambda _phase: None):
            if final.exists() or final.is_symlink():
                self._discard(final)

    def verify(self, install: Install, *, run: bool = True) -> str | None:
        """Why `install` is broken, or None. `run=False` skips running `claude --version`."""
        prefix = install.prefix
        if not prefix.is_dir():
            return f"{prefix} is missing"
        if read_install(prefix, install.package, install.version) is None:
            return f"{prefix / MARKER} is missing or does not match"
        manifest = read_json(install.package_dir / "package.json")
        if manifest is None or manifest.get("version") != install.version:
            where = install.package_dir / "package.json"
            return f"{where} is missing or not version {install.version}"
        locked = locked_integrity(prefix, install.package)
        if install.integrity and locked != install.integrity:
            return f"package-lock integrity {locked} differs from the recorded {install.integrity}"
        if install.bin is None:
            return None
        if not os.access(install.binary, os.X_OK):
            return f"{install.binary} is missing or not executable"
        if run and install.package == CLAUDE_CODE:
            return version_check(install.binary, install.version)
        return None

    # -- building ------------------------------------------------------------------------------

    @contextmanager
    def building(self, final: Path, prefix: str, *, held: Path | None = None,
                 replace: bool = False) -> Iterator[Path]:
        """A build dir on the store's filesystem, removed if the body fails. The body ends with
        `publish` (or `swap_in` when it `replace`s the install at `final`). `prefix` names the
        build after its lock, so a killed builder's dir is removed by the next build as soon as
        that lock is free."""
        self._clean_tmp(held=held)
        if not replace and (final.exists() or final.is_symlink()):
            self._discard(final)  # left without a marker by a killed process: not an install
        tmp = Path(tempfile.mkdtemp(prefix=prefix, dir=self._tmp_root))
        try:
            yield tmp
        except BaseException:
            _rmtree(tmp)
            raise

    def _build(self, package: str, version: str, integrity: str | None, report: Progress, *,
               accept: Callable[[Install], object] | None = None, replace: bool = False) -> Install:
        final = self.path_for(package, version)
        prefix = f"build-{final.parent.name}-{version}-"
        with self.building(final, prefix, held=self._lock_path(package, version), replace=replace) as tmp:
            point("store.build_dir_made", version)
            report("downloading with npm")
            self._npm_install(tmp, package, version)
            point("store.after_npm", version)
            native = None
            if package == CLAUDE_CODE and is_native_layout(tmp):
                report("placing native binary")
                native = place_native_binary(tmp, version)
                point("store.after_native", version)
            report("verifying")
            marker = self._check_built(tmp, package, version, integrity)
            marker["native"] = native
            # `accept` (e.g. the lock's native hash) judges the build before it takes any place
            check = None if accept is None else (lambda p: accept(Install(
                package, version, p, marker["integrity"], marker["installed_at"], marker["bin"])))
            publish(tmp, final, marker, version, tmp_root=self._tmp_root if replace else None, accept=check)
        report("done")
        install = read_install(final, package, version)
        assert install is not None
        return install

    def _npm_install(self, prefix: Path, package: str, version: str) -> None:
        spec = f"{package}@{version}"
        cmd = [
            self._npm_path(),
            "install", "--prefix", str(prefix), "--no-audit", "--no-fund", "--ignore-scripts",
            "--include=optional",  # the native binary is an optional dependency; beats omit=
            "--save-exact",  # keep saving: the package-lock carries the integrity we check
            spec,
        ]
        env = {**os.environ, **self.npm_env}
        try:
            code, output = run_captured(cmd, cwd=prefix, env=env, timeout=self.timeout)
        except subprocess.TimeoutExpired:
            raise InstallError(f"npm install {spec} did not finish in {self.timeout:.0f} s",
                               hint="check the network and the registry/proxy settings in ~/.npmrc") from None
        if code != 0:
            log = self.paths.logs / f"npm-{slug(package)}-{version}.log"
            try:
                atomic_write(log, " ".join(cmd) + "\n\n" + output)
                saved = f"full npm output: {log}"
            except OSError as e:  # e.g. the disk that made npm fail is full: say why npm failed
                saved = f"npm's output could not be saved ({e.strerror or e})"
            err_code, line = npm_error(output)
            line = line or f"npm exited with status {code}"
            hint = NPM_HINTS.get(err_code or "", "")
            if err_code in ("ETARGET", "E404"):
                hint = f"check the name and version: npm view {package} versions"
            raise InstallError(f"npm install {spec} failed: {line}", hint=f"{hint}; {saved}" if hint else saved)

    def _npm_path(self) -> str:
        found = shutil.which(self.npm)
        if found is None:
            raise InstallError("npm not found on PATH", hint=NPM_HINT)
        return found

    def _check_built(
        self, prefix: Path, package: str, version: str, integrity: str | None
    ) -> dict[str, Any]:
        manifest = read_json(prefix / "node_modules" / package / "package.json")
        got = manifest.get("version") if manifest else None
        if manifest is None:
            raise InstallError(f"npm installed {package}@{version} without a readable package.json",
                               hint="the package or the registry is damaged; not installed")
        if got != version:
            raise InstallError(f"npm installed {package}@{got} instead of {version}")
        actual = locked_integrity(prefix, package)
        if integrity is not None and not integrity_matches(integrity, actual):
            raise IntegrityError(
                f"{package}@{version}: integrity mismatch: expected {integrity}, "
                f"npm installed {actual}",
                hint="the registry served another tarball than the pinned one; not installed",
            )
        assert manifest is not None
        bin_path = bin_entry(package, manifest)
        if package == CLAUDE_CODE:
            if bin_path is None:
                raise InstallError(f"{package}@{version} declares no `claude` executable")
            reason = version_check(prefix / "node_modules" / package / bin_path, version)
            if reason:
                raise InstallError(f"{package}@{version} does not run: {reason}")
        return {
            "schema": SCHEMA,
            "package": package,
            "version": version,
            "integrity": actual,
            "installed_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "bin": bin_path,
            "node": tool_version(["node", "--version"]),
            "npm": tool_version([self._npm_path(), "--version"]),
        }

    # -- locking and cleaning ------------------------------------------------------------------

    def _lock(self, package: str, version: str, report: Progress) -> AbstractContextManager[None]:
        return install_lock(self._lock_path(package, version), f"{package}@{version}", report, self.timeout + 60)

    def _lock_path(self, package: str, version: str) -> Path:
        # The build dir is named after this lock's stem (`build-<stem>-XXXXXXXX`): see _clean_tmp.
        return self.paths.lock(f"store-{slug(package)}-{version}")

    def _discard(self, path: Path) -> None:
        """Rename away first, so a half-deleted install never sits where a complete one would."""
        self._own_tmp()
        trash = self._tmp_root / f"trash-{path.parent.name}-{path.name}-{uuid.uuid4().hex[:8]}"
        os.rename(path, trash)
        point("store.discarded", path.name)
        _rmtree(trash)

    def _clean_tmp(self, held: Path | None = None) -> None:
        """Drop trash and the build dirs of processes that died mid-way (killed, power loss).

        A builder holds its lock for the whole build, and its dir is named after that lock
        (`build-<stem>-XXXXXXXX` for `store-<stem>.lock`, or `sdk-<stem>.lock` for SDK venvs), so
        a build dir whose lock is free has no live owner: it goes now, not an hour later (a 2.x
        build is ~200 MB). `held` is the lock this process holds itself. A dir whose lock is
        unknown goes once it is STALE_AFTER old.
        """
        self._own_tmp()
        now = time.time()
        for entry in self._tmp_root.iterdir():
            if entry.name.startswith("trash-"):  # never in use once renamed
                _rmtree(entry)
                continue
            if self._drop_orphan(entry, held):
                continue
            try:
                stale = now - entry.lstat().st_mtime > STALE_AFTER
            except FileNotFoundError:
                continue
            if stale:
                _rmtree(entry)

    def _drop_orphan(self, entry: Path, held: Path | None) -> bool:
        """Settle `entry` if it is a build or swap dir whose owner's lock is free: a build dir is
        removed, a swap dir's old install goes back to its place if that is empty. True if done."""
        from filelock import FileLock, Timeout

        if entry.name.startswith("build-"):
            stem: str | None = entry.name[len("build-"):].rpartition("-")[0]  # mkdtemp's suffix has no "-"
        else:
            stem = swap_stem(entry)
        if stem is None:
            return False
        settle = _rmtree if entry.name.startswith("build-") else self._settle_swap
        for lock_path in (self.paths.lock(f"store-{stem}"), self.paths.lock(f"sdk-{stem}")):
            if held is not None and lock_path == held:
                settle(entry)  # our own lock: whoever built here before us is gone
                return True
            if not lock_path.is_file():
                continue
            lock = FileLock(str(lock_path), mode=0o600)
            try:
                lock.acquire(timeout=0)
            except Timeout:
                return False  # a live build
            try:
                settle(entry)  # under its lock: no new builder of that version starts meanwhile
            finally:
                lock.release()
            return True
        return False

    def _settle_swap(self, entry: Path) -> None:
        """A rebuild killed between its two renames: the old install goes back (or, if a new one
        is in its place after all, away)."""
        if restore_swapped(entry, self.path_for):
            point("store.swap_undone", entry.name)
        _rmtree(entry)


def _check_cached_integrity(install: Install, expected: str | None) -> None:
    if expected is not None and not integrity_matches(expected, install.integrity):
        raise IntegrityError(
            f"{install.package}@{install.version}: integrity mismatch: expected {expected}, "
            f"installed {install.integrity}",
            hint=f"remove it and install again if the pin is right: {install.prefix}",
        )


@contextmanager
def install_lock(path: Path, what: str, report: Progress, timeout: float) -> Iterator[None]:
    """One install of `what` at a time across processes; the others wait (and say so)."""
    from filelock import FileLock, Timeout  # lazy: keeps `pinman --help` fast

    make_dirs(path.parent)
    lock = FileLock(str(path), mode=0o600)  # not the umask: 0666 under umask 000
    try:
        lock.acquire(timeout=0)
    except Timeout:
        report("waiting for another install")
        try:
            lock.acquire(timeout=timeout)
        except Timeout:
            raise InstallError(f"another pinman process is still installing {what}",
                               hint="wait for it to finish, then try again") from None
    try:
        yield
    finally:
        lock.release()


def check_files(prefix: Path) -> FileCheck:
    """Compare an install's files (Claude Code, npm SDK or SDK venv) with its manifest."""
    return check_manifest(prefix, read_marker(prefix).get("files"), exclude=(MARKER,))


def _rmtree(path: Path) -> None:
    if path.is_symlink() or path.is_file():
        path.unlink(missing_ok=True)
    else:
        shutil.rmtree(path, ignore_errors=True)
