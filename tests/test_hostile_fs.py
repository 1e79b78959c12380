"""Named hostile cases on the file system, through the real `pinman` and `claude` shim:

* a symlink planted where pinman writes: pinman replaces it or refuses, and never writes through
  it to what it points at;
* a full disk during `use`, `install`, `check` (the journal) and `pin`: one line naming the cause
  with a hint, a non-zero exit, no traceback, nothing half-switched, every state file still parses.

A full disk is a real small file system (a tmpfs mounted over PINMAN_HOME) where this machine
allows mounting; elsewhere ENOSPC is injected into pinman's fsync/write calls (see `_INJECT`).
Both variants run, so the fallback is tested here too.
"""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hostile_world import World, one_line_error, world

from pinman.runtime.choice import read_global
from pinman.runtime.pointers import pointer_path
from pinman.state.overrides import read_overrides
from pinman.install.layout import validate_version
from pinman.profile import trust
from pinman.fingerprint.fakeapi import FakeAPI
from pinman.state.journal import Journal
from pinman.paths import Paths
from pinman.profile.discovery import list_profiles

VICTIM = "the victim's own content\n"


@pytest.fixture
def w(pinman_home: Paths, tmp_path: Path, fake_npm: Path) -> Iterator[World]:
    with world(pinman_home, tmp_path, fake_npm) as the_world:
        yield the_world


@pytest.fixture
def using_a(w: World) -> World:
    assert w.pinman("install", "b").code == 0  # 1.0.2 is in the store, not in use
    r = w.pinman("use", "a")
    assert r.code == 0, r.text
    assert w.runs() == "1.0.1"
    return w


@pytest.fixture
def victim(tmp_path: Path) -> Path:
    v = tmp_path / "outside" / "victim.txt"
    v.parent.mkdir()
    v.write_text(VICTIM)
    return v


def _plant(link: Path, target: Path) -> None:
    link.parent.mkdir(parents=True, exist_ok=True)
    if link.is_symlink() or link.is_file():
        link.unlink()
    link.symlink_to(target)


def _untouched(victim: Path) -> None:
    assert victim.read_text() == VICTIM


def _replaced(link: Path) -> None:
    assert link.is_file() and not link.is_symlink(), link


# --------------------------------------------------------------------------- planted symlinks


def test_symlink_at_a_pointer_is_replaced(using_a: World, victim: Path) -> None:
    w = using_a
    ptr = pointer_path(w.paths, None, "b")
    _plant(ptr, victim)
    assert w.pinman("use", "b").code == 0
    _untouched(victim)
    _replaced(ptr)
    assert w.runs() == "1.0.2"


def test_symlink_at_the_global_choice_and_the_shim_is_replaced(using_a: World, victim: Path) -> None:
    w = using_a
    _plant(w.paths.global_choice, victim)
    _plant(w.paths.shim, victim)
    assert w.pinman("use", "b").code == 0
    _untouched(victim)
    _replaced(w.paths.global_choice)
    _replaced(w.paths.shim)
    assert w.paths.global_choice.read_text() == "b\n" and w.runs() == "1.0.2"


def test_symlink_at_the_overrides_is_replaced(using_a: World, victim: Path) -> None:
    w = using_a
    victim.write_text('{"schema": 1, "overrides": {}}\n')
    _plant(w.paths.overrides, victim)
    r = w.pinman("rollback", "a", "--to", "1.0.2")
    assert r.code == 0, r.text
    assert victim.read_text() == '{"schema": 1, "overrides": {}}\n'
    _replaced(w.paths.overrides)
    assert w.runs() == "1.0.2"


def test_symlink_at_the_trust_db_is_replaced(w: World, victim: Path) -> None:
    repo = w.cwd / "repo"
    (repo / "profiles").mkdir(parents=True)
    (repo / ".pinman.toml").write_text('profile = "team"\n')
    (repo / "profiles" / "team.toml").write_text('[claude-code]\nversion = "1.0.1"\n[env]\nTEAM = "1"\n')
    victim.write_text('{"schema": 1, "files": {}}\n')
    _plant(w.paths.trust, victim)
    r = w.pinman("trust", cwd=repo)
    assert r.code == 0, r.text
    assert victim.read_text() == '{"schema": 1, "files": {}}\n'
    _replaced(w.paths.trust)


@pytest.mark.parametrize("where", ["journal.db", "journal.db-wal", "journal.jsonl"])
def test_symlink_at_the_journal_is_refused_not_written_or_read_through(using_a: World, victim: Path,
                                                                       where: str) -> None:
    w = using_a
    _plant(w.paths.state / where, victim)
    r = w.pinman("rollback", "a", "--to", "1.0.2")
    one_line_error(r, "journal", "symbolic links")
    _untouched(victim)
    assert (w.paths.state / where).is_symlink()


def test_symlink_at_a_lock_is_refused(using_a: World, victim: Path) -> None:
    w = using_a
    _plant(w.paths.locks / "overrides.lock", victim)
    r = w.pinman("rollback", "a", "--to", "1.0.2")
    one_line_error(r, "overrides.lock", "symbolic link")
    assert "hint:" in r.err
    _untouched(victim)
    assert w.runs() == "1.0.1"


def test_symlink_at_the_store_tmp_is_not_built_in_or_cleaned(w: World, tmp_path: Path) -> None:
    """pinman deletes stale entries in store/.tmp: through a planted link that would be someone
    else's folder."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    for name in ("trash-precious", "build-old-precious"):
        (elsewhere / name).write_text(VICTIM)
        os.utime(elsewhere / name, (time.time() - 7200, time.time() - 7200))
    _plant(w.paths.store / ".tmp", elsewhere)
    r = w.pinman("install", "a")
    assert r.code == 0, r.text
    assert sorted(p.name for p in elsewhere.iterdir()) == ["build-old-precious", "trash-precious"]
    assert not (w.paths.store / ".tmp").is_symlink() and w.installed() == ["1.0.1"]


def test_symlink_at_the_marker_is_replaced(w: World, victim: Path, fake_npm: Path, tmp_path: Path) -> None:
    """An npm (or a package) that leaves `.pinman-install.json` as a link in the prefix."""
    planting = tmp_path / "planting-npm"
    planting.mkdir()
    npm = planting / "npm"
    npm.write_text(f'#!/bin/sh\n"{fake_npm}" "$@" || exit $?\n'
                   'while [ $# -gt 0 ]; do [ "$1" = --prefix ] && p=$2; shift; done\n'
                   f'[ -n "$p" ] && ln -s "{victim}" "$p/.pinman-install.json"\nexit 0\n')
    npm.chmod(0o755)
    r = w.pinman("install", "a", PATH=f"{w.paths.bin}{os.pathsep}{planting}{os.pathsep}{os.environ['PATH']}")
    assert r.code == 0, r.text
    _untouched(victim)
    _replaced(w.paths.store / "claude-code" / "1.0.1" / ".pinman-install.json")


def test_symlink_at_the_registry_cache_is_replaced(w: World, victim: Path) -> None:
    assert w.pinman("resolve", "latest").code == 0
    (cache,) = w.paths.registry_cache.iterdir()
    _plant(cache, victim)
    r = w.pinman("resolve", "latest")
    assert r.code == 0 and r.out.strip() == "1.0.3", r.text
    _untouched(victim)
    _replaced(cache)


def test_symlink_at_the_npm_log_is_replaced(w: World, victim: Path) -> None:
    log = w.paths.state / "logs" / "npm-claude-code-1.0.1.log"
    _plant(log, victim)
    one_line_error(w.pinman("install", "a", FAKE_NPM_FAIL="etarget"), "No matching version")
    _untouched(victim)
    _replaced(log)


def test_symlink_at_the_crash_log_is_refused(pinman_home: Paths, victim: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    from pinman.cli.main import _guard

    _plant(pinman_home.log, victim)

    def bug() -> int:
        raise ZeroDivisionError("a bug")

    assert _guard(bug) == 1
    err = capsys.readouterr().err
    assert err.startswith("pinman: unexpected error: ZeroDivisionError: a bug") and "\n" == err[-1:]
    _untouched(victim)


# --------------------------------------------------------------------------- a full disk

_INJECT = '''
import errno, os

_home = os.environ.get("PINMAN_HOME", "")


def _ours(fd):
    try:
        return bool(_home) and os.readlink(f"/proc/self/fd/{fd}").startswith(_home)
    except OSError:
        return False


def _full(real):
    def call(fd, *args):
        if _ours(fd):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(fd, *args)
    return call


os.fsync = _full(os.fsync)
os.write = _full(os.write)

# SQLite writes the journal from C, past the two above: its connections under PINMAN_HOME fail a
# write the way SQLite does on a full disk (SQLITE_FULL).
import sqlite3

_connect = sqlite3.connect


def _disk_full():
    e = sqlite3.OperationalError("database or disk is full")
    e.sqlite_errorcode, e.sqlite_errorname = 13, "SQLITE_FULL"
    return e


class _FullDb(sqlite3.Connection):
    def execute(self, sql, *args):
        if sql.lstrip().split(None, 1)[0].upper() in ("INSERT", "CREATE", "DELETE", "UPDATE"):
            raise _disk_full()
        return super().execute(sql, *args)

    def executemany(self, sql, *args):
        raise _disk_full()


def _connect_full(database, *args, **kwargs):
    if _home and str(database).startswith(_home):
        kwargs["factory"] = _FullDb
    return _connect(database, *args, **kwargs)


sqlite3.connect = _connect_full
'''


class FullDisk:
    """`fill()` leaves no free byte for PINMAN_HOME; `free()` gives the space back."""

    def __init__(self, home: Path, method: str, tmp_path: Path) -> None:
        self.home = home
        self.method = method
        self.inject_dir = tmp_path / "inject-enospc"
        self.env: dict[str, str] = {}
        self.mounted = False

    def mount(self) -> None:
        if self.method == "small-filesystem":
            self.home.mkdir(parents=True, exist_ok=True)
            done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(self.home)],
                                  capture_output=True)
            self.mounted = done.returncode == 0
            if not self.mounted:
                self.method = "injected"  # not allowed to mount here: inject the same error

    def fill(self) -> None:
        if self.method == "injected":
            self.inject_dir.mkdir(exist_ok=True)
            (self.inject_dir / "sitecustomize.py").write_text(_INJECT)
            self.env = {"PYTHONPATH": str(self.inject_dir)}
            return
        fd = os.open(self.home / "filler", os.O_WRONLY | os.O_CREAT | os.O_APPEND)
        try:
            for size in (1 << 16, 4096, 512, 1):  # down to the last byte
                try:
                    while True:
                        os.write(fd, b"\0" * size)
                except OSError as e:
                    assert e.errno == errno.ENOSPC, e
        finally:
            os.close(fd)

    def free(self) -> None:
        self.env = {}
        for f in self.home.glob("filler*"):
            f.unlink()

    def unmount(self) -> None:
        if self.mounted:
            subprocess.run(["umount", "-l", str(self.home)], capture_output=True)


@pytest.fixture(params=["small-filesystem", "injected"])
def disk(request: pytest.FixtureRequest, pinman_home: Paths, tmp_path: Path) -> Iterator[FullDisk]:
    d = FullDisk(pinman_home.config.parent, request.param, tmp_path)
    d.mount()
    try:
        yield d
    finally:
        d.unmount()


@pytest.fixture
def full(disk: FullDisk, pinman_home: Paths, tmp_path: Path, fake_npm: Path) -> Iterator[tuple[World, FullDisk]]:
    with world(pinman_home, tmp_path, fake_npm) as w:
        assert w.pinman("install", "b").code == 0
        assert w.pinman("use", "a").code == 0 and w.runs() == "1.0.1"
        yield w, disk


def _run_full(w: World, disk: FullDisk, *args: str, **extra: str):  # type: ignore[no-untyped-def]
    disk.fill()
    try:
        return w.pinman(*args, **{**disk.env, **extra})
    finally:
        disk.free()


def _still_whole(w: World, runs: str = "1.0.1") -> None:
    """Nothing half-switched: the shim runs the old version and every state file parses."""
    assert w.runs() == runs
    found = list_profiles(w.cwd, w.paths)
    assert not found.broken, [b.error.message for b in found.broken]
    read_global(w.paths)
    read_overrides(w.paths)
    trust.list_trusted(w.paths)
    list(Journal(w.paths).entries())
    assert w.leftovers() == [] or all(n.startswith("build-") is False for n in w.leftovers())
    r = w.pinman("current", "--json")
    assert r.code == 0 and json.loads(r.out)["version"] == runs, r.text


def _disk_full_error(r, *needles: str) -> None:  # type: ignore[no-untyped-def]
    one_line_error(r, *needles)
    assert "No space left on device" in r.err or "ENOSPC" in r.err, r.err
    assert "hint:" in r.err and "disk space" in r.err, r.err


def test_use_on_a_full_disk(full: tuple[World, FullDisk]) -> None:
    w, disk = full
    _disk_full_error(_run_full(w, disk, "use", "b"))  # installed: only the switch writes
    _still_whole(w)
    _disk_full_error(_run_full(w, disk, "use", "latest"))  # needs an install too
    _still_whole(w)
    assert w.pinman("use", "b").code == 0 and w.runs() == "1.0.2"  # space again: it works


def test_install_on_a_full_disk(full: tuple[World, FullDisk]) -> None:
    w, disk = full
    _disk_full_error(_run_full(w, disk, "install", "1.0.3"))
    _still_whole(w)
    assert w.installed() == ["1.0.1", "1.0.2"]
    assert w.pinman("install", "1.0.3").code == 0 and w.installed() == ["1.0.1", "1.0.2", "1.0.3"]


def test_check_on_a_full_disk_cannot_journal(full: tuple[World, FullDisk]) -> None:
    w, disk = full
    w.profile("a", "1.0.1", '[health]\nprobe = "http"\ntimeout = 5\n')
    assert w.pinman("use", "a").code == 0
    with FakeAPI("ok") as api:
        r = _run_full(w, disk, "check", "a", ANTHROPIC_BASE_URL=api.url)
        _disk_full_error(r, "journal")
        _still_whole(w)
        assert list(Journal(w.paths).entries()) == []
        r = w.pinman("check", "a", ANTHROPIC_BASE_URL=api.url)
        assert r.code == 0, r.text
    assert [e.outcome for e in Journal(w.paths).entries()] == ["ok"]


def test_pin_on_a_full_disk(full: tuple[World, FullDisk]) -> None:
    w, disk = full
    before = (w.paths.user_profiles / "a.toml").read_bytes()
    _disk_full_error(_run_full(w, disk, "pin", "a", "1.0.2"), "a.toml")
    assert (w.paths.user_profiles / "a.toml").read_bytes() == before
    _still_whole(w)
    assert w.pinman("pin", "a", "1.0.2").code == 0


def test_the_shim_slow_path_on_a_full_disk(full: tuple[World, FullDisk]) -> None:
    """`claude` in a project seen for the first time must write a pointer: one line, no traceback."""
    w, disk = full
    repo = w.cwd / "repo"
    repo.mkdir()
    (repo / ".pinman.toml").write_text('profile = "b"\n')
    disk.fill()
    try:
        r = w.claude("--version", cwd=repo, **disk.env)
    finally:
        disk.free()
    _disk_full_error(r)
    assert w.claude("--version", cwd=repo).out.startswith("1.0.2")


def test_the_injection_is_what_a_full_disk_raises(tmp_path: Path) -> None:
    """The fallback raises what a full disk raises, from the calls pinman's writes go through."""
    (tmp_path / "sitecustomize.py").write_text(_INJECT)
    code = ("import os, errno\nfd = os.open(os.environ['PINMAN_HOME'] + '/f', os.O_WRONLY | os.O_CREAT)\n"
            "try:\n    os.write(fd, b'x')\nexcept OSError as e:\n    print(e.errno == errno.ENOSPC)\n")
    env = {**os.environ, "PYTHONPATH": str(tmp_path), "PINMAN_HOME": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True).stdout
    assert out.strip() == "True"
