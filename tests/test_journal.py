"""The journal (pinman/state/journal.py): what it answers, and the properties the JSONL journal had.

Concurrency (20 processes lose nothing), SIGKILL at the fault points of an append and of the
take-over of an old `journal.jsonl` (plus random instants), bounded growth that never drops the
verdict deciding known-good or known-bad, no secret in any file, `history --json` unchanged, and
the cost of every question independent of the journal's size, counted in SQLite VM steps (a count
of work done, not a time).
"""

from __future__ import annotations

import json
import multiprocessing
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from cli_support import pinman

from pinman.errors import PinmanError
from pinman.state.journal import Entry, Journal, endpoint_of, scrub
from pinman.paths import Paths

EP = "http://127.0.0.1:8080"
EP2 = "https://gw.example:443"
KEY = "sk-ant-api03-journal-SECRET-0123456789"


def db_bytes(paths: Paths) -> bytes:
    """Everything SQLite keeps on disk for the journal (the database and its write-ahead log)."""
    return b"".join(p.read_bytes() for p in paths.state.glob("journal.db*") if p.is_file())


def legacy_line(entry: Entry) -> bytes:
    """One line exactly as the JSON Lines journal of earlier versions appended it."""
    return (json.dumps(entry.to_json(), sort_keys=True, separators=(",", ":")) + "\n").encode()


def test_endpoint_keeps_only_scheme_host_port() -> None:
    assert endpoint_of("https://user:pw@gw.example/v1/x?key=1") == "https://gw.example:443"
    assert endpoint_of("http://127.0.0.1:4000") == "http://127.0.0.1:4000"
    assert endpoint_of(None) == "https://api.anthropic.com:443"
    assert endpoint_of("http://[::1]:9/") == "http://[::1]:9"


def test_scrub_replaces_secrets_everywhere() -> None:
    doc = {"a": "key sk-secret-123 here", "b": ["sk-secret-123"], "c": 3}
    assert scrub(doc, ["sk-secret-123"]) == {"a": "key <redacted> here", "b": ["<redacted>"], "c": 3}


def test_append_never_writes_the_key(pinman_home: Paths, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
    j = Journal(pinman_home)
    j.append(Entry("check", "stable", "2.1.331", endpoint=EP, outcome="auth", message=f"Invalid API key {KEY}",
                   extra={"echo": [f"x-api-key: {KEY}"]}))
    j.close()
    raw = db_bytes(pinman_home)
    assert KEY.encode() not in raw and b"<redacted>" in raw
    (back,) = Journal(pinman_home).entries()
    assert back.message == "Invalid API key <redacted>" and back.extra == {"echo": ["x-api-key: <redacted>"]}
    assert back.to_json()["schema"] == 1


def test_last_known_good_is_per_profile_and_endpoint(pinman_home: Paths) -> None:
    j = Journal(pinman_home)
    j.append(Entry("check", "stable", "1.0.100", endpoint=EP, outcome="ok", ts=1))
    j.append(Entry("check", "stable", "2.1.300", endpoint=EP, outcome="ok", ts=2))
    j.append(Entry("check", "stable", "2.1.331", endpoint=EP, outcome="schema", ts=3))
    j.append(Entry("check", "other", "2.1.320", endpoint=EP, outcome="ok", ts=4))
    j.append(Entry("check", "stable", "2.1.310", endpoint=EP2, outcome="ok", ts=5))
    kg = j.last_known_good("stable", EP, exclude=["2.1.331"])
    assert kg is not None and kg.version == "2.1.300"
    # A version whose latest verdict turned bad is no longer known-good.
    j.append(Entry("check", "stable", "2.1.300", endpoint=EP, outcome="schema", ts=6))
    kg = j.last_known_good("stable", EP, exclude=["2.1.331"])
    assert kg is not None and kg.version == "1.0.100"
    assert set(j.known_bad("stable", EP)) == {"2.1.331", "2.1.300"}
    assert j.known_good_versions() == {"1.0.100", "2.1.320", "2.1.310"}
    assert j.last_known_good("stable", EP, exclude=["1.0.100"]) is None
    # bisect's "good" and team's "bad" are verdicts too; a rollback is not
    j.append(Entry("good", "stable", "2.1.300", endpoint=EP, outcome="ok", ts=7))
    j.append(Entry("rollback", "stable", "1.0.100", previous="2.1.331", ts=8))
    assert j.last_known_good("stable", EP).version == "2.1.300"  # type: ignore[union-attr]
    assert {v: e.event for v, e in j.verdicts("stable", EP).items()} == {
        "1.0.100": "check", "2.1.300": "good", "2.1.331": "check"}


def test_last_check_and_since(pinman_home: Paths) -> None:
    j = Journal(pinman_home)
    assert j.last_check("stable") is None and j.history() == [] and j.known_good_versions() == set()
    assert not pinman_home.journal_db.exists()  # a reader creates nothing
    j.append(Entry("check", "stable", "1.0.0", endpoint=EP, outcome="ok", ts=10))
    j.append(Entry("switch", "stable", "1.0.1", ts=20))
    j.append(Entry("check", "other", "1.0.2", endpoint=EP, outcome="ok", ts=30))
    last = j.last_check("stable")
    assert last is not None and last.version == "1.0.0"
    assert [e.version for e in j.since(20)] == ["1.0.1", "1.0.2"]
    assert [e.version for e in j.since(0, "other")] == ["1.0.2"]


def test_history_is_newest_first(pinman_home: Paths) -> None:
    j = Journal(pinman_home)
    for i in range(3):
        j.append(Entry("check", "stable", f"1.0.{i}", endpoint=EP, outcome="ok", ts=i))
    j.append(Entry("check", "other", "9.9.9", endpoint=EP, outcome="ok", ts=9))
    assert [e.version for e in j.history("stable")] == ["1.0.2", "1.0.1", "1.0.0"]
    assert [e.version for e in j.history("stable", limit=1)] == ["1.0.2"]
    assert [e.version for e in j.history(limit=2)] == ["9.9.9", "1.0.2"]
    assert len(j.history(limit=0)) == 4


# --------------------------------------------------------------------------- take-over of journal.jsonl


def test_an_old_jsonl_is_taken_over_once_and_kept_aside(pinman_home: Paths) -> None:
    old = [Entry("check", "stable", "1.0.100", endpoint=EP, outcome="ok", ts=1),
           Entry("check", "stable", "2.1.331", endpoint=EP, outcome="schema", ts=2, rejected="thinking")]
    raw = (legacy_line(old[0]) + b'{"event": "check", "profile": "sta\n'  # torn by a power loss
           + b"[1,2]\nnot json\n" + b'{"event": "check", "profile": 3}\n' + legacy_line(old[1]))
    pinman_home.journal.parent.mkdir(parents=True)
    pinman_home.journal.write_bytes(raw)
    j = Journal(pinman_home)
    assert [e.version for e in j.entries()] == ["1.0.100", "2.1.331"]  # the malformed lines are skipped
    assert not pinman_home.journal.exists()
    aside = pinman_home.state / "journal.jsonl.imported"
    assert aside.read_bytes() == raw  # kept byte for byte, not deleted
    assert j.last_known_good("stable", EP).version == "1.0.100"  # type: ignore[union-attr]
    assert set(j.known_bad("stable", EP)) == {"2.1.331"}
    # a second old file (an older pinman still ran): imported too, the first one is not overwritten
    pinman_home.journal.write_bytes(legacy_line(Entry("check", "stable", "2.1.332", endpoint=EP, outcome="ok", ts=3)))
    assert [e.version for e in Journal(pinman_home).entries()] == ["1.0.100", "2.1.331", "2.1.332"]
    assert aside.read_bytes() == raw and (pinman_home.state / "journal.jsonl.imported.2").is_file()


def test_take_over_scrubs_secrets_and_bounds_growth(pinman_home: Paths, monkeypatch: pytest.MonkeyPatch) -> None:
    # A gateway token the old journal held (its scrub did not know that variable yet); the file kept
    # aside still holds it, as the user left it, so it is not a credential the suite's guard knows.
    gateway = "gw-journal-token-0123456789"
    monkeypatch.setenv("MY_GATEWAY_TOKEN", gateway)
    lines = [legacy_line(Entry("check", "stable", "1.0.0", endpoint=EP, outcome="ok", ts=i, message=f"k {gateway}"))
             for i in range(120)]
    pinman_home.journal.parent.mkdir(parents=True)
    pinman_home.journal.write_bytes(b"".join(lines))
    j = Journal(pinman_home)
    kept = list(j.entries())
    assert len(kept) == 50 and kept[-1].ts == 119  # the newest 50 of one profile × endpoint × version
    assert kept[-1].message == "k <redacted>" and gateway.encode() not in db_bytes(pinman_home)


def test_a_symlink_at_either_journal_is_refused(pinman_home: Paths, tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("keep\n")
    pinman_home.state.mkdir(parents=True)
    pinman_home.journal_db.symlink_to(victim)
    with pytest.raises(PinmanError, match="journal.*symbolic links"):
        Journal(pinman_home).append(Entry("check", "stable", "1.0.0"))
    assert victim.read_text() == "keep\n" and pinman_home.journal_db.is_symlink()
    pinman_home.journal_db.unlink()
    victim.write_text(legacy_line(Entry("check", "stable", "6.6.6", endpoint=EP, outcome="ok")).decode())
    pinman_home.journal.symlink_to(victim)  # not read through: its lines are not imported
    with pytest.raises(PinmanError, match="journal.jsonl.*symbolic links"):
        Journal(pinman_home).history()
    assert pinman_home.journal.is_symlink() and "6.6.6" in victim.read_text()


def test_a_damaged_database_is_moved_aside_not_an_error(pinman_home: Paths) -> None:
    """Once an error that stopped every command; now a new journal (tests/test_journal_damage.py)."""
    pinman_home.state.mkdir(parents=True)
    pinman_home.journal_db.write_bytes(b'{"event": "check"}\n' * 200)  # e.g. a JSONL copied over it
    r = pinman(pinman_home, Path.cwd(), "history")
    assert r.code == 0 and r.err.startswith("pinman: cannot open the journal") and "moved it aside" in r.err, r.err
    assert Journal(pinman_home).history() == []


# --------------------------------------------------------------------------- bounded growth


def test_growth_is_bounded_and_never_drops_what_decides(pinman_home: Paths) -> None:
    j = Journal(pinman_home, keep=3)
    j.append(Entry("check", "stable", "1.0.0", endpoint=EP, outcome="ok", ts=1))  # the only ok: known-good
    for i in range(10):
        j.append(Entry("check", "stable", "2.0.0", endpoint=EP, outcome="schema", ts=10 + i))
        j.append(Entry("rollback", "stable", "1.0.0", previous="2.0.0", ts=10 + i))
    for i in range(10):  # a version that worked, then broke: its newest verdict (bad) decides
        j.append(Entry("check", "stable", "3.0.0", endpoint=EP, outcome="ok", ts=30 + i))
    j.append(Entry("bad", "stable", "3.0.0", endpoint=EP, outcome="schema", ts=50))
    counts: dict[tuple[str, str], int] = {}
    for e in j.entries():
        counts[(e.version, e.event)] = counts.get((e.version, e.event), 0) + 1
    assert counts == {("1.0.0", "check"): 1, ("2.0.0", "check"): 3, ("1.0.0", "rollback"): 3,
                      ("3.0.0", "check"): 2, ("3.0.0", "bad"): 1}
    assert j.last_known_good("stable", EP).version == "1.0.0"  # type: ignore[union-attr]
    assert set(j.known_bad("stable", EP)) == {"2.0.0", "3.0.0"}
    assert j.known_good_versions() == {"1.0.0"}


@pytest.mark.parametrize("how", ["import of an old journal.jsonl", "one append_many"])
def test_a_bulk_insert_bounds_each_group_alone(pinman_home: Paths, how: str) -> None:
    """More than FEW_GROUPS groups take the one-pass bound (BOUND_ALL): it must count per profile,
    endpoint, version and kind, or the only known-good verdict, the oldest entry, goes."""
    from pinman.state.journal_db import FEW_GROUPS

    other = "https://other.example:443"
    old = [Entry("check", "stable", "1.0.0", endpoint=EP, outcome="ok", ts=0)]  # the only ok
    old += [Entry("check", "stable", f"2.0.{i}", endpoint=EP, outcome="schema", ts=1 + i) for i in range(70)]
    for i in range(50):  # newer, each one column away from the ok check's group
        old.append(Entry("check", "stable", "1.0.0", endpoint=other, outcome="schema", ts=100 + i))
        old.append(Entry("rollback", "stable", "1.0.0", endpoint=EP, previous="2.0.0", ts=100 + i))
        old.append(Entry("check", "elsewhere", "1.0.0", endpoint=EP, outcome="schema", ts=100 + i))
    groups = {(e.event == "check", e.profile, e.version, e.endpoint) for e in old}
    assert len(groups) > FEW_GROUPS
    j = Journal(pinman_home, keep=50)
    if how == "one append_many":
        j.append_many(old)
    else:
        pinman_home.journal.parent.mkdir(parents=True)
        pinman_home.journal.write_bytes(b"".join(legacy_line(e) for e in old))
    assert len(list(j.entries())) == len(old)  # no group holds more than 50: nothing goes
    assert j.last_known_good("stable", EP).version == "1.0.0"  # type: ignore[union-attr]
    assert len(j.known_bad("stable", EP)) == 70
    # 20 more of three full groups, in a bulk insert: each is back to its newest 50
    j.append_many(old[-3:] * 20 + [Entry("check", "stable", f"3.0.{i}", endpoint=EP, outcome="ok", ts=300)
                                   for i in range(70)])
    kept: dict[tuple[str, str, str | None], list[float]] = {}
    for e in j.entries():
        kept.setdefault((e.profile, e.event, e.endpoint), []).append(e.ts)
    for group in (("stable", "rollback", EP), ("elsewhere", "check", EP), ("stable", "check", other)):
        assert len(kept[group]) == 50 and min(kept[group]) == 120, group  # 30 of the old, the 20 new


def test_keep_comes_from_the_environment(pinman_home: Paths, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PINMAN_JOURNAL_KEEP", "0")  # keep everything
    j = Journal(pinman_home)
    j.append_many([Entry("check", "s", "1.0.0", endpoint=EP, outcome="ok", ts=i) for i in range(80)])
    assert len(j.history()) == 80
    monkeypatch.setenv("PINMAN_JOURNAL_KEEP", "7")
    j.append(Entry("check", "s", "1.0.0", endpoint=EP, outcome="ok", ts=99))
    assert len(j.history()) == 7
    monkeypatch.setenv("PINMAN_JOURNAL_KEEP", "lots")
    with pytest.raises(PinmanError, match="PINMAN_JOURNAL_KEEP"):
        j.append(Entry("check", "s", "1.0.0"))


# --------------------------------------------------------------------------- history --json keeps its shape


def test_history_json_prints_what_the_jsonl_journal_printed(pinman_home: Paths, tmp_path: Path) -> None:
    old = [Entry("check", "stable", "2.1.331", endpoint=EP, outcome="schema", status=400, rejected="thinking",
                 message="API Error: 400", duration=1.25, sdk_version="0.40.0", ts=1_700_000_000.5),
           Entry("rollback", "stable", "1.0.100", previous="2.1.331", message="thinking rejected", ts=1_700_000_001),
           Entry("good", "/repo::team", "2.1.45", endpoint=EP, outcome="ok", ts=1_700_000_002,
                 extra={"bisect": {"first_failing": "2.1.47"}})]
    pinman_home.journal.parent.mkdir(parents=True)
    pinman_home.journal.write_bytes(b"".join(legacy_line(e) for e in old))
    want = [json.loads(legacy_line(e)) for e in reversed(old)]  # what the JSONL journal printed
    r = pinman(pinman_home, tmp_path, "history", "--json")
    assert r.code == 0 and json.loads(r.out) == want, r.text
    new = Entry("check", "stable", "1.0.100", endpoint=EP, outcome="ok", status=200, duration=0.5, ts=1_700_000_003)
    Journal(pinman_home).append(new)
    r = pinman(pinman_home, tmp_path, "history", "--json", "-n", "2")
    assert r.code == 0 and json.loads(r.out) == [json.loads(legacy_line(new)), want[0]], r.text


# --------------------------------------------------------------------------- 20 processes at once


def _writer(home: str, worker: int, count: int) -> None:
    os.environ["PINMAN_HOME"] = home
    j = Journal(Paths.from_env())
    for i in range(count):
        j.append(Entry("check", f"p{worker}", f"1.0.{i}", endpoint=EP, outcome="ok", message="x" * 3000))


def test_twenty_processes_appending_at_once_lose_nothing(tmp_path: Path) -> None:
    home = str(tmp_path / "h")
    old = Paths.from_env({"PINMAN_HOME": home})  # and an old journal to take over in the same race
    old.journal.parent.mkdir(parents=True)
    old.journal.write_bytes(b"".join(legacy_line(Entry("switch", "old", f"0.0.{i}", ts=i)) for i in range(30)))
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(home, w, 15)) for w in range(20)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    entries = list(Journal(old).entries())
    assert len(entries) == 30 + 20 * 15
    assert [e.version for e in entries if e.profile == "old"] == [f"0.0.{i}" for i in range(30)]  # once
    for w in range(20):  # each process's entries all there, in its order, whole
        mine = [e for e in entries if e.profile == f"p{w}"]
        assert [e.version for e in mine] == [f"1.0.{i}" for i in range(15)]
        assert all(e.message == "x" * 3000 for e in mine)
    assert _integrity(old) == "ok"


def _integrity(paths: Paths) -> str:
    with sqlite3.connect(paths.journal_db) as conn:
        return str(conn.execute("PRAGMA integrity_check").fetchone()[0])


# --------------------------------------------------------------------------- killed at any instant

APPENDER = """
import sys
from pinman.state.journal import Entry, Journal
from pinman.paths import Paths
j = Journal(Paths.from_env())
for i in range(int(sys.argv[1]), int(sys.argv[2])):
    j.append(Entry("check", "stable", f"1.0.{i}", endpoint="http://127.0.0.1:8080", outcome="ok", message="m" * 500))
"""
READER = "from pinman.state.journal import Journal\nfrom pinman.paths import Paths\nJournal(Paths.from_env()).history()\n"


def _start(home: Path, code: str, *args: str, stop: str | None = None) -> tuple[subprocess.Popen[bytes], Path]:
    log = home.parent / f"faults-{random.random()}.log"
    env = {**os.environ, "PINMAN_HOME": str(home), "PINMAN_FAULT_POINTS": str(log)}
    if stop:
        env["PINMAN_FAULT_STOP"] = stop
    return subprocess.Popen([sys.executable, "-c", code, *args], env=env), log


def _appending(proc: subprocess.Popen[bytes], log: Path) -> None:
    """Wait until the process has written its first entry (the fault-point log says so)."""
    deadline = time.monotonic() + 60
    while not (log.exists() and "journal.written" in log.read_text()):
        assert proc.poll() is None, "exited before its first entry"
        assert time.monotonic() < deadline, "no entry written"
        time.sleep(0.005)


def _kill_at(home: Path, code: str, stop: str, *args: str) -> None:
    proc, log = _start(home, code, *args, stop=stop)
    deadline = time.monotonic() + 60
    while not (log.exists() and f"!{stop}" in log.read_text()):
        assert proc.poll() is None, f"exited before {stop}"
        assert time.monotonic() < deadline, f"{stop} not reached"
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait()


def _versions(paths: Paths) -> list[str]:
    return [e.version for e in Journal(paths).entries()]


@pytest.mark.parametrize("stop", ["journal.set_up#1", "journal.append:check#1", "journal.written:check#1",
                                  "journal.append:check#4", "journal.written:check#4"])
def test_killed_at_a_fault_point_of_an_append(tmp_path: Path, stop: str) -> None:
    home = tmp_path / "h"
    paths = Paths.from_env({"PINMAN_HOME": str(home)})
    _kill_at(home, APPENDER, stop, "0", "10")
    done = int(stop[-1]) - 1  # the appends before the one killed are whole; that one is lost
    assert _versions(paths) == [f"1.0.{i}" for i in range(done)]
    subprocess.run([sys.executable, "-c", APPENDER, "10", "12"], env={**os.environ, "PINMAN_HOME": str(home)},
                   check=True)  # the next process just goes on
    assert _versions(paths) == [f"1.0.{i}" for i in range(done)] + ["1.0.10", "1.0.11"]
    assert _integrity(paths) == "ok"


def test_killed_at_random_instants_while_appending(tmp_path: Path) -> None:
    rng = random.Random(12)
    home = tmp_path / "h"
    paths = Paths.from_env({"PINMAN_HOME": str(home)})
    start = 0
    for _ in range(6):
        proc, log = _start(home, APPENDER, str(start), str(start + 400))
        _appending(proc, log)  # a busy machine may take longer than the sleep below to start Python
        time.sleep(rng.uniform(0.0, 0.4))  # where the kill lands, not a time asserted
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        got = _versions(paths)  # a prefix of what was written, in order, with no hole
        assert got == [f"1.0.{i}" for i in range(len(got))]
        start = len(got)
        assert start < 400 * 6
        assert _integrity(paths) == "ok"


@pytest.mark.parametrize("stop", ["journal.set_up#1", "journal.take_over:imported#1",
                                  "journal.take_over:committed#1"])
def test_killed_while_taking_over_an_old_jsonl(tmp_path: Path, stop: str) -> None:
    home = tmp_path / "h"
    paths = Paths.from_env({"PINMAN_HOME": str(home)})
    paths.journal.parent.mkdir(parents=True)
    raw = b"".join(legacy_line(Entry("check", "stable", f"0.0.{i}", endpoint=EP, outcome="ok", ts=i))
                   for i in range(40)) + b"torn{"
    paths.journal.write_bytes(raw)
    _kill_at(home, READER, stop)
    assert paths.journal.read_bytes() == raw  # still there until the import is committed
    want = [f"0.0.{i}" for i in range(40)]
    assert _versions(paths) in ([], want)  # all or nothing
    assert _versions(paths) == want  # the next reader finishes the job: imported once, not twice
    assert not paths.journal.exists() and (paths.state / "journal.jsonl.imported").read_bytes() == raw


# --------------------------------------------------------------------------- cost independent of size

PROFILES = [f"p{i:02}" for i in range(15)]
ENDPOINTS = [EP, EP2]
VERSIONS = [f"2.1.{v}" for v in range(300, 305)]


def _fill(paths: Paths, repeats: int) -> Journal:
    """15 profiles × 2 endpoints × 5 versions, each checked `repeats` times (kept: keep=0)."""
    def entries():  # type: ignore[no-untyped-def]
        ts = 1_600_000_000.0
        for r in range(repeats):
            for p in PROFILES:
                for ep in ENDPOINTS:
                    for k, v in enumerate(VERSIONS):
                        ts += 1
                        outcome = "schema" if k == 4 else ("ok" if r % 7 else "overloaded")
                        yield Entry("check", p, v, endpoint=ep, outcome=outcome, ts=ts)
                yield Entry("rollback", p, VERSIONS[0], previous=VERSIONS[4], ts=ts)
    j = Journal(paths, keep=0)
    j.append_many(entries())
    return j


def _steps(j: Journal, question: Callable[[Journal], object]) -> int:
    """SQLite VM instructions (in tens) one question takes: a count of work, not a time."""
    conn = j._open(create=False)
    assert conn is not None
    count = [0]

    def tick() -> int:
        count[0] += 1
        return 0
    conn.set_progress_handler(tick, 10)
    try:
        question(j)
    finally:
        conn.set_progress_handler(None, 0)
    return count[0]


def test_every_question_costs_the_same_in_a_journal_100_times_bigger(tmp_path: Path) -> None:
    small = _fill(Paths.from_env({"PINMAN_HOME": str(tmp_path / "small")}), repeats=2)
    big = _fill(Paths.from_env({"PINMAN_HOME": str(tmp_path / "big")}), repeats=200)
    assert len(big.history(limit=0)) == 100 * len(small.history(limit=0)) > 30_000
    questions: dict[str, Callable[[Journal], object]] = {
        "last known-good": lambda j: j.last_known_good("p07", EP, exclude=[VERSIONS[3]]),
        "verdicts": lambda j: j.verdicts("p07", EP2),
        "known-bad": lambda j: j.known_bad("p07", EP),
        "prune's known-good versions": lambda j: j.known_good_versions(),
        "last check": lambda j: j.last_check("p07"),
        "last check of a version": lambda j: j.last_check("p07", VERSIONS[1]),
        "history NAME -n 50": lambda j: j.history("p07", 50),
        "history -n 50": lambda j: j.history(None, 50),
    }
    for name, question in questions.items():
        assert question(small) == question(small) and question(big) is not None
        s, b = _steps(small, question), _steps(big, question)
        assert b <= 2 * s + 5, f"{name}: {b} vs {s} (tens of VM steps) - it scans the journal"
    assert big.last_known_good("p07", EP).version == VERSIONS[3]  # type: ignore[union-attr]
    assert big.known_good_versions() == {VERSIONS[3]}


def test_current_and_importing_the_journal_never_load_sqlite(pinman_home: Paths, tmp_path: Path) -> None:
    """`pinman current` runs in shell prompts: SQLite is loaded only when a journal is opened."""
    prof = pinman_home.user_profiles / "s.toml"
    prof.parent.mkdir(parents=True)
    prof.write_text('[claude-code]\nversion = "2.1.331"\n')
    Journal(pinman_home).append(Entry("check", "s", "2.1.331", endpoint=EP, outcome="ok"))  # there is one
    code = ("import sys\nimport pinman.state.journal, pinman.health.rollback, pinman.views.inventory\nfrom pinman.cli.main import main\n"
            "try:\n    main(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
            "print('sqlite3 loaded' if 'sqlite3' in sys.modules else 'no sqlite3', file=sys.stderr)\n")
    for args in (["current"], ["current", "--json"]):
        done = subprocess.run([sys.executable, "-c", code, *args], env={**os.environ, "PINMAN_PROFILE": "s"},
                              capture_output=True, text=True, cwd=tmp_path)
        assert "2.1.331" in done.stdout and done.stderr.splitlines()[-1] == "no sqlite3", done
    done = subprocess.run([sys.executable, "-c", code, "history"], env=os.environ, capture_output=True, text=True)
    assert done.stderr.splitlines()[-1] == "sqlite3 loaded", done  # not vacuous: a journal reader loads it


def test_last_of_finds_the_newest_entry_of_the_named_events(pinman_home: Paths) -> None:
    j = Journal(pinman_home)
    j.append(Entry("rollback", "stable", "1.0.100", message="first"))
    j.append(Entry("check", "stable", "1.0.100", endpoint="http://gw", outcome="ok"))
    j.append(Entry("dropped", "stable", "1.0.100", message="pin moved"))
    j.append(Entry("check", "stable", "2.1.45", endpoint="http://gw", outcome="ok"))
    j.append(Entry("rollback", "other", "1.0.99", message="not this profile"))
    found = j.last_of("stable", {"rollback", "dropped", "recovered"})
    assert found is not None and (found.event, found.message) == ("dropped", "pin moved")
    assert j.last_of("stable", {"recovered"}) is None
