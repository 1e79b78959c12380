"""Hostile and malformed journals: whatever the file holds, reading it gives well-typed entries.

The journal of earlier versions is JSON Lines; it outlived versions of pinman, got edited by hand,
and a power loss can tear its last line. It is taken over on first use: unreadable lines are
skipped; everything pinman derives from the rest (history, last known-good, what `prune` must
keep) never raises. Whatever is appended reads back the same, without secrets.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import event, given
from hypothesis import strategies as st
from hostile_support import PROPERTY, TEXT

from pinman.state.journal import Entry, Journal
from pinman.paths import Paths

_FIELDS = ["event", "profile", "version", "endpoint", "outcome", "status", "message", "rejected",
           "duration", "sdk_version", "previous", "ts", "extra", "schema", "time"]
_VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(-2**70, 2**70), st.floats(), TEXT,
    st.sampled_from(["check", "switch", "rollback", "good", "bad", "ok", "schema", "stable", "2.1.331",
                     "https://api.anthropic.com:443", "1e308", "-inf"]),
    st.lists(st.integers(), max_size=2), st.dictionaries(st.sampled_from(["a", "ts"]), st.integers(), max_size=2),
)
_ENTRY = st.dictionaries(st.sampled_from(_FIELDS), _VALUES, max_size=10)
_GOOD = st.fixed_dictionaries({
    "event": st.sampled_from(["check", "good", "bad", "switch", "rollback"]),
    "profile": st.sampled_from(["stable", "/repo::team"]),
    "version": st.sampled_from(["2.1.320", "2.1.331", "1.0.100"]),
    "endpoint": st.sampled_from(["https://api.anthropic.com:443", "http://127.0.0.1:9"]),
    "outcome": st.sampled_from(["ok", "ok", "schema", "auth"]),
    "ts": st.floats(0, 2e9),
})


def _line(doc: object) -> st.SearchStrategy[bytes]:
    return st.sampled_from([json.dumps(doc).encode(), json.dumps(doc).encode()[:-3]])  # whole or torn


_LINES = st.one_of(
    _GOOD.map(lambda doc: json.dumps(doc).encode()),  # whole good lines too: the derived answers get data
    _GOOD.map(lambda doc: json.dumps(doc).encode()),
    _GOOD.flatmap(_line), _ENTRY.flatmap(_line), st.binary(max_size=30),
    st.just(b"[" * 1200), st.just(b"{\"event\": \"check\", \"x\": " + b"[" * 1200 + b"]" * 1200 + b"}"),
    TEXT.map(lambda s: s.encode("utf-8", "surrogatepass")),
)


@pytest.fixture(scope="module")
def base() -> Iterator[Path]:
    # Memory-backed where there is one: these properties are about content, and a thousand
    # examples each creating a database would otherwise wait on a thousand disk syncs.
    shm = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None
    with tempfile.TemporaryDirectory(prefix="pinman-journal-", dir=shm) as d:
        yield Path(d)


def _fresh(base: Path) -> Paths:
    """A home with no journal at all: each example starts from its own old file (or none)."""
    return Paths.from_env({"PINMAN_HOME": tempfile.mkdtemp(dir=base)})


def _well_typed(e: Entry) -> None:
    assert isinstance(e.event, str) and isinstance(e.profile, str) and isinstance(e.version, str)
    for name in ("endpoint", "outcome", "rejected", "sdk_version", "previous"):
        value = getattr(e, name)
        assert value is None or isinstance(value, str), (name, value)
    assert isinstance(e.message, str)
    assert e.status is None or (isinstance(e.status, int) and not isinstance(e.status, bool))
    assert e.duration is None or (isinstance(e.duration, float) and math.isfinite(e.duration))
    assert isinstance(e.ts, float) and math.isfinite(e.ts)
    json.dumps(e.to_json())  # what `history --json` prints


@PROPERTY
@given(st.lists(_LINES, min_size=1, max_size=8))
def test_any_journal_reads_as_well_typed_entries(base: Path, lines: list[bytes]) -> None:
    home = _fresh(base)
    home.journal.parent.mkdir(parents=True, exist_ok=True)
    home.journal.write_bytes(b"\n".join(lines))
    journal = Journal(home)
    entries = journal.history()
    event(f"readable entries: {min(len(entries), 3)}{'+' if len(entries) >= 3 else ''}")
    for e in entries:
        _well_typed(e)
    found = False
    for profile in ("stable", "/repo::team"):
        for endpoint in ("https://api.anthropic.com:443", "http://127.0.0.1:9"):
            kg = journal.last_known_good(profile, endpoint)
            found = found or kg is not None
            assert kg is None or kg.outcome == "ok"
            journal.known_bad(profile, endpoint)
        journal.last_check(profile)
    event(f"a last known-good found: {found}")
    assert journal.known_good_versions() <= {e.version for e in entries}
    assert not home.journal.exists()  # taken over
    _render_history(home)


def _render_history(home: Paths) -> None:
    """`pinman history`, both renderings, over this journal."""
    from pinman.cli import verbs_health

    old = os.environ.get("PINMAN_HOME")
    os.environ["PINMAN_HOME"] = str(home.config.parent)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            verbs_health.history(None, 50, False)
            verbs_health.history(None, 50, True)
    finally:
        if old is None:
            os.environ.pop("PINMAN_HOME", None)
        else:
            os.environ["PINMAN_HOME"] = old


@PROPERTY
@given(st.builds(Entry, event=st.sampled_from(["check", "switch"]), profile=TEXT, version=TEXT,
                 endpoint=st.one_of(st.none(), TEXT), outcome=st.one_of(st.none(), TEXT), message=TEXT,
                 status=st.one_of(st.none(), st.integers(0, 999)), ts=st.floats(0, 4e9)),
       st.sampled_from(["", "sk-ant-api03-journal-SECRET-0123456789", "sk"]))
def test_what_is_appended_reads_back_the_same_without_secrets(base: Path, entry: Entry, key: str) -> None:
    home = _fresh(base)
    entry.message += key
    journal = Journal(home)
    journal.append(entry, {"ANTHROPIC_API_KEY": key} if key else {})
    journal.close()
    (back,) = Journal(home).entries()
    _well_typed(back)
    assert (back.profile, back.version, back.event, back.status) == (entry.profile, entry.version, entry.event,
                                                                     entry.status)
    assert Journal(home).history(entry.profile) == [back]  # found by its profile, whatever its characters
    if entry.event == "check" and entry.endpoint is not None:
        assert Journal(home).verdicts(entry.profile, entry.endpoint) == {entry.version: back}
    if len(key) >= 8:
        stored = b"".join(f.read_bytes() for f in home.state.glob("journal.db*"))
        assert key.encode() not in stored
    else:
        assert back.message == entry.message
