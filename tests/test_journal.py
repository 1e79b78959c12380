from __future__ import annotations

import json
import multiprocessing
import os
from pathlib import Path

import pytest

from pinman.errors import PinmanError
from pinman.journal import Entry, Journal, endpoint_of, scrub
from pinman.paths import Paths

EP = "http://127.0.0.1:8080"


def test_endpoint_keeps_only_scheme_host_port() -> None:
    assert endpoint_of("https://user:pw@gw.example/v1/x?key=1") == "https://gw.example:443"
    assert endpoint_of("http://127.0.0.1:4000") == "http://127.0.0.1:4000"
    assert endpoint_of(None) == "https://api.anthropic.com:443"
    assert endpoint_of("http://[::1]:9/") == "http://[::1]:9"


def test_scrub_replaces_secrets_everywhere() -> None:
    doc = {"a": "key sk-secret-123 here", "b": ["sk-secret-123"], "c": 3}
    assert scrub(doc, ["sk-secret-123"]) == {"a": "key <redacted> here", "b": ["<redacted>"], "c": 3}


def test_append_never_writes_the_key(pinman_home: Paths, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test-SECRET")
    j = Journal(pinman_home)
    j.append(Entry("check", "stable", "2.1.331", endpoint=EP, outcome="auth",
                   message="Invalid API key sk-ant-test-SECRET"))
    text = pinman_home.journal.read_text()
    assert "sk-ant-test-SECRET" not in text
    assert "<redacted>" in text
    assert json.loads(text)["schema"] == 1


def test_last_known_good_is_per_profile_and_endpoint(pinman_home: Paths) -> None:
    j = Journal(pinman_home)
    j.append(Entry("check", "stable", "1.0.100", endpoint=EP, outcome="ok", ts=1))
    j.append(Entry("check", "stable", "2.1.300", endpoint=EP, outcome="ok", ts=2))
    j.append(Entry("check", "stable", "2.1.331", endpoint=EP, outcome="schema", ts=3))
    j.append(Entry("check", "other", "2.1.320", endpoint=EP, outcome="ok", ts=4))
    j.append(Entry("check", "stable", "2.1.310", endpoint="https://elsewhere:443", outcome="ok", ts=5))
    kg = j.last_known_good("stable", EP, exclude=["2.1.331"])
    assert kg is not None and kg.version == "2.1.300"
    # A version whose latest verdict turned bad is no longer known-good.
    j.append(Entry("check", "stable", "2.1.300", endpoint=EP, outcome="schema", ts=6))
    kg = j.last_known_good("stable", EP, exclude=["2.1.331"])
    assert kg is not None and kg.version == "1.0.100"
    assert set(j.known_bad("stable", EP)) == {"2.1.331", "2.1.300"}
    assert j.known_good_versions() == {"1.0.100", "2.1.320", "2.1.310"}


def test_torn_and_foreign_lines_are_skipped(pinman_home: Paths) -> None:
    j = Journal(pinman_home)
    j.append(Entry("check", "stable", "1.0.100", endpoint=EP, outcome="ok"))
    with pinman_home.journal.open("ab") as f:
        f.write(b'{"event": "check", "profile": "sta')  # a write cut off by power loss
        f.write(b"\n[1,2]\nnot json\n")
    j.append(Entry("check", "stable", "2.1.331", endpoint=EP, outcome="ok"))
    assert [e.version for e in j.entries()] == ["1.0.100", "2.1.331"]


def test_history_is_newest_first(pinman_home: Paths) -> None:
    j = Journal(pinman_home)
    for i in range(3):
        j.append(Entry("check", "stable", f"1.0.{i}", endpoint=EP, outcome="ok", ts=i))
    assert [e.version for e in j.history("stable")] == ["1.0.2", "1.0.1", "1.0.0"]
    assert [e.version for e in j.history("stable", limit=1)] == ["1.0.2"]


def _writer(home: str, worker: int, count: int) -> None:
    os.environ["PINMAN_HOME"] = home
    j = Journal(Paths.from_env())
    for i in range(count):
        j.append(Entry("check", f"p{worker}", f"1.0.{i}", endpoint=EP, outcome="ok",
                       message="x" * 3000))  # long lines: a torn write would show


def test_concurrent_appends_lose_nothing(tmp_path: Path) -> None:
    home = str(tmp_path / "h")
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(home, w, 40)) for w in range(6)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    lines = (tmp_path / "h" / "state" / "journal.jsonl").read_bytes().splitlines()
    assert len(lines) == 240
    docs = [json.loads(line) for line in lines]  # every line whole
    for w in range(6):
        assert [d["version"] for d in docs if d["profile"] == f"p{w}"] == [f"1.0.{i}" for i in range(40)]


def test_symlink_at_journal_path_is_refused(pinman_home: Paths, tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("keep\n")
    pinman_home.journal.parent.mkdir(parents=True)
    pinman_home.journal.symlink_to(victim)
    with pytest.raises(PinmanError, match="cannot append to the journal"):
        Journal(pinman_home).append(Entry("check", "stable", "1.0.0"))
    assert victim.read_text() == "keep\n"
