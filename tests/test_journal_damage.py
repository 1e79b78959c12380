"""A damaged `journal.db` is moved aside (with its `-wal` and `-shm`), a new one starts, it is said
once, and nothing else stops working: status, history, the StopFailure handler."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from cli_support import pinman

from pinman.paths import Paths
from pinman.state.journal import Entry, Journal
from pinman.state.journal_db import move_aside

EP = "http://127.0.0.1:4000"


def _filled(paths: Paths, n: int = 200, close: bool = True) -> Journal:
    j = Journal(paths, keep=0)
    j.append_many([Entry("check", f"p{i % 7}", f"1.0.{i}", endpoint=EP, outcome="ok", message="m" * 200)
                   for i in range(n)])
    if close:
        j.close()
    return j


def _garbage(paths: Paths) -> None:
    paths.journal_db.parent.mkdir(parents=True, exist_ok=True)
    paths.journal_db.write_bytes(os.urandom(8192))


def _truncated(paths: Paths) -> None:
    _filled(paths)
    os.truncate(paths.journal_db, paths.journal_db.stat().st_size // 2)


def _truncated_to_its_header(paths: Paths) -> None:
    _filled(paths)
    os.truncate(paths.journal_db, 50)


def _pages_overwritten(paths: Paths) -> None:
    _filled(paths)
    data = bytearray(paths.journal_db.read_bytes())
    for off in range(4096 * 3, len(data), 4096):
        data[off:off + 100] = b"\xa5" * 100
    paths.journal_db.write_bytes(bytes(data))


def _foreign(sql: str) -> Callable[[Paths], None]:
    def make(paths: Paths) -> None:
        paths.journal_db.parent.mkdir(parents=True, exist_ok=True)
        with sqlite3.connect(paths.journal_db) as conn:
            conn.executescript(sql)
        conn.close()
    return make


WRITER = """
import os, sys
from pinman.paths import Paths
from pinman.state.journal import Entry, Journal
j = Journal(Paths.from_env({"PINMAN_HOME": sys.argv[1]}), keep=0)
def add(n, first):
    j.append_many([Entry("check", "p", f"3.0.{i}", endpoint="http://y:1", outcome="schema", message="z" * 300)
                   for i in range(first, first + n)])
add(200, 0)
j._conn.execute("PRAGMA wal_checkpoint(PASSIVE)")  # into the database file; the -wal stays
add(20, 200)
os._exit(0)  # killed: no checkpoint, the last entries are only in the -wal
"""


def _damaged_with_its_wal(paths: Paths, tmp_path: Path) -> None:
    """A killed writer left its -wal and -shm; then the database file itself was damaged."""
    subprocess.run([sys.executable, "-c", WRITER, str(paths.config.parent)], check=True)
    assert Path(f"{paths.journal_db}-wal").stat().st_size > 0 and Path(f"{paths.journal_db}-shm").exists()
    size = paths.journal_db.stat().st_size
    paths.journal_db.write_bytes(b"\xa5" * size)


DAMAGE: dict[str, Callable[..., None]] = {
    "garbage": _garbage,
    "truncated": _truncated,
    "truncated-to-its-header": _truncated_to_its_header,
    "pages-overwritten": _pages_overwritten,
    "another-schema": _foreign("CREATE TABLE entries (a, b); INSERT INTO entries VALUES (1, 2);"),
    "another-database": _foreign("CREATE TABLE photos (id, blob);"),
    "another-database-at-our-version": _foreign("CREATE TABLE photos (id); PRAGMA user_version = 1;"),
    "our-version-without-our-tables": _foreign("CREATE TABLE meta (key TEXT PRIMARY KEY, value); "
                                               "PRAGMA user_version = 1;"),
    "damaged-with-its-wal": _damaged_with_its_wal,
}


def _damage(kind: str, paths: Paths, tmp_path: Path) -> tuple[bytes, bytes]:
    """The damaged journal's bytes and its -wal's (b"" when there is none)."""
    make = DAMAGE[kind]
    make(paths, tmp_path) if kind == "damaged-with-its-wal" else make(paths)
    wal = Path(f"{paths.journal_db}-wal")
    return paths.journal_db.read_bytes(), wal.read_bytes() if wal.exists() else b""


def _aside(paths: Paths) -> list[Path]:
    return sorted(p for p in paths.journal_db.parent.glob("journal.db.corrupt-*")
                  if not p.name.endswith(("-wal", "-shm")))


@pytest.mark.parametrize("kind", list(DAMAGE))
def test_a_damaged_journal_is_moved_aside_and_a_new_one_starts(
        pinman_home: Paths, tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: str) -> None:
    before, wal = _damage(kind, pinman_home, tmp_path)
    read = Journal(pinman_home).history()  # no error: what could be read before the damage, if anything
    assert read == [] or kind == "damaged-with-its-wal"
    assert Journal(pinman_home).history() == []  # the new journal
    said = capsys.readouterr().err.splitlines()
    (aside,) = _aside(pinman_home)
    assert len(said) == 1 and aside.name in said[0] and "started a new journal" in said[0], said
    assert aside.name.startswith("journal.db.corrupt-20")
    if kind == "damaged-with-its-wal":  # the side files went with it, not into the new journal
        assert Path(f"{aside}-wal").read_bytes() == wal and Path(f"{aside}-shm").exists()
    else:
        assert aside.read_bytes() == before  # kept as it was, to look at

    Journal(pinman_home).append(Entry("check", "team", "2.1.331", endpoint=EP, outcome="ok"))
    kg = Journal(pinman_home).last_known_good("team", EP)
    assert kg is not None and kg.version == "2.1.331"
    assert capsys.readouterr().err == ""  # said once
    assert len(_aside(pinman_home)) == 1


@pytest.mark.parametrize("kind", ["garbage", "pages-overwritten"])
def test_a_write_to_a_damaged_journal_lands_in_a_new_one(pinman_home: Paths, tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str], kind: str) -> None:
    _damage(kind, pinman_home, tmp_path)
    Journal(pinman_home).append(Entry("check", "team", "2.1.331", endpoint=EP, outcome="ok"))
    assert [e.version for e in Journal(pinman_home).entries()] == ["2.1.331"]
    assert len(capsys.readouterr().err.splitlines()) == 1 and len(_aside(pinman_home)) == 1


def test_a_journal_of_a_newer_pinman_is_refused_not_moved(pinman_home: Paths) -> None:
    from pinman.errors import PinmanError

    _foreign("CREATE TABLE entries (a); CREATE TABLE later (b); PRAGMA user_version = 2;")(pinman_home)
    with pytest.raises(PinmanError, match="newer pinman"):
        Journal(pinman_home).append(Entry("check", "team", "2.1.331", endpoint=EP, outcome="ok"))
    assert _aside(pinman_home) == []


def test_two_processes_that_found_it_damaged_move_it_once(pinman_home: Paths, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    """Both opened the damaged file; the first moves it and starts a new journal; the second
    finds that new journal at the path and must not move it aside too."""
    _pages_overwritten(pinman_home)
    first, second = Journal(pinman_home), Journal(pinman_home)
    assert first._open(create=False) is not None and second._open(create=False) is not None  # both on the old file
    first.append(Entry("check", "team", "1.0.100", endpoint=EP, outcome="ok"))
    second.append(Entry("check", "team", "2.1.331", endpoint=EP, outcome="ok"))
    assert len(_aside(pinman_home)) == 1
    assert [e.version for e in Journal(pinman_home).entries()] == ["1.0.100", "2.1.331"]
    assert len(capsys.readouterr().err.splitlines()) == 1


def test_a_journal_replaced_while_it_was_opened_is_not_moved(pinman_home: Paths,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """Another process moved the damaged file and started a new journal just as this one
    connected: which file the connection has is unknown, so nothing is moved."""
    _garbage(pinman_home)
    real = sqlite3.connect

    def connect(path: str, *args: object, **kwargs: object) -> sqlite3.Connection:
        conn = real(path, *args, **kwargs)  # the damaged file
        os.rename(path, f"{path}.moved-by-another")
        Path(path).write_bytes(b"")  # the new journal another process started
        monkeypatch.setattr(sqlite3, "connect", real)
        return conn

    monkeypatch.setattr(sqlite3, "connect", connect)
    Journal(pinman_home).append(Entry("check", "team", "2.1.331", endpoint=EP, outcome="ok"))
    assert _aside(pinman_home) == []
    assert [e.version for e in Journal(pinman_home).entries()] == ["2.1.331"]


CHILD = """
import sys, time
from pathlib import Path
from pinman.paths import Paths
from pinman.state.journal import Entry, Journal
start = Path(sys.argv[2])
while not start.exists():
    time.sleep(0.001)
Journal(Paths.from_env({"PINMAN_HOME": sys.argv[1]})).append(
    Entry("check", "team", sys.argv[3], endpoint="http://127.0.0.1:4000", outcome="ok"))
"""


def test_processes_finding_it_damaged_at_once_lose_nothing(pinman_home: Paths, tmp_path: Path) -> None:
    _garbage(pinman_home)
    start = tmp_path / "go"
    home = str(pinman_home.config.parent)
    procs = [subprocess.Popen([sys.executable, "-c", CHILD, home, str(start), f"1.0.{i}"],
                              stderr=subprocess.PIPE, text=True) for i in range(4)]
    time.sleep(0.5)  # all started and waiting (a late one only makes the race milder)
    start.touch()
    said = [p.communicate(timeout=120)[1] for p in procs]
    assert [p.returncode for p in procs] == [0] * 4, said
    assert len(_aside(pinman_home)) == 1
    assert sorted(e.version for e in Journal(pinman_home).entries()) == [f"1.0.{i}" for i in range(4)]
    assert sum(len(s.splitlines()) for s in said) == 1, said


STALE = """
import os, sys, time
from pinman.paths import Paths
from pinman.state.journal import Entry, Journal
j = Journal(Paths.from_env({"PINMAN_HOME": sys.argv[1]}))
j._open(create=False).execute("SELECT name FROM sqlite_master").fetchall()  # open on the damaged file
open(sys.argv[2], "w").close()
while not os.path.exists(sys.argv[3]):
    time.sleep(0.01)
j.append(Entry("check", "team", "9.9.9", endpoint="http://127.0.0.1:4000", outcome="ok"))
"""


@pytest.mark.parametrize("kind", ["pages-overwritten", "damaged-with-its-wal"])
def test_a_process_still_on_the_damaged_file_does_not_disturb_the_new_one(
        pinman_home: Paths, tmp_path: Path, kind: str) -> None:
    """It finds the damage after another process moved the file and started a new journal that
    is still open: its last close of the old file (SQLite deletes `journal.db-wal` by name then)
    must not take the new journal's -wal, and it writes into the new journal."""
    _damage(kind, pinman_home, tmp_path)
    ready, go = tmp_path / "ready", tmp_path / "go"
    stale = subprocess.Popen([sys.executable, "-c", STALE, str(pinman_home.config.parent), str(ready), str(go)],
                             stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not ready.exists() and stale.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    mover = Journal(pinman_home)
    mover.append(Entry("check", "team", "1.0.100", endpoint=EP, outcome="ok"))  # moves it, stays open
    wal = os.stat(f"{pinman_home.journal_db}-wal").st_ino
    go.touch()
    assert stale.wait(timeout=60) == 0, stale.stderr.read() if stale.stderr else ""
    assert os.stat(f"{pinman_home.journal_db}-wal").st_ino == wal
    mover.append(Entry("check", "team", "1.0.101", endpoint=EP, outcome="ok"))
    mover.close()
    assert [e.version for e in Journal(pinman_home).entries()] == ["1.0.100", "9.9.9", "1.0.101"]
    assert len(_aside(pinman_home)) == 1


def test_move_aside_takes_the_side_files_and_never_overwrites(pinman_home: Paths) -> None:
    from pinman.state.journal_db import identity

    db = pinman_home.journal_db
    db.parent.mkdir(parents=True)
    for n in range(2):
        for side in ("", "-wal", "-shm"):
            Path(f"{db}{side}").write_text(f"{n}{side}")
        first = move_aside(db, identity(db))
        assert first is not None and not db.exists() and not Path(f"{db}-wal").exists()
        assert Path(f"{first}-wal").read_text() == f"{n}-wal" and first.read_text() == f"{n}"
    assert len(_aside(pinman_home)) == 2  # two in the same second: both kept
    db.write_text("new")
    assert move_aside(db, (0, 0)) is None and db.read_text() == "new"  # not the file that was seen
    assert move_aside(db, None) is None


# ---------------------------------------------------------------- through the CLI and the handler


def test_status_history_and_check_go_on(pinman_home: Paths, tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    p = pinman_home.user_profiles / "team.toml"
    p.parent.mkdir(parents=True)
    p.write_text('[claude-code]\nversion = "2.1.331"\n')
    _garbage(pinman_home)
    r = pinman(pinman_home, tmp_path, "history")
    assert r.code == 0 and r.out.strip() == "(no entries)", r.text
    assert len(r.err.splitlines()) == 1 and "moved it aside to journal.db.corrupt-" in r.err
    r = pinman(pinman_home, tmp_path, "status")
    assert r.code == 0 and "journal" not in r.err, r.text
    r = pinman(pinman_home, tmp_path, "history", "--json")
    assert (r.code, json.loads(r.out)) == (0, [])


def test_the_stop_failure_handler_records_into_a_new_journal(pinman_home: Paths, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    from pinman.autopilot import handler
    from pinman.autopilot.files import HookFiles
    from pinman.runtime.choice import write_global

    p = pinman_home.user_profiles / "team.toml"
    p.parent.mkdir(parents=True)
    p.write_text('[claude-code]\nversion = "2.1.331"\n')
    write_global(pinman_home, "team")
    _garbage(pinman_home)
    monkeypatch.setattr(os, "setsid", lambda: None)
    f = tmp_path / "p.json"
    f.write_text(json.dumps({"hook_event_name": "StopFailure", "error": "overloaded", "cwd": str(tmp_path),
                             "last_assistant_message": "API Error: 529 Overloaded"}))
    assert handler.main(["stop-failure", str(f)]) == 0
    assert "done: ignored" in HookFiles(pinman_home).log.read_text()
    (entry,) = Journal(pinman_home).entries()
    assert entry.event == "hook" and entry.extra["action"] == "ignored"
    assert len(_aside(pinman_home)) == 1
