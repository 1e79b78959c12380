"""The journal's SQLite database: its tables, the statements pinman runs on it, transactions,
the old JSON Lines file it takes over, and SQLite's refusals as one-line errors.

`pinman.state.journal` is the only user. Tables: `entries` (one row per entry: indexed columns plus
the JSON document `history --json` prints), `verdicts` (the latest check/good/bad per profile,
endpoint and version) and `known_good` (per profile and endpoint), both kept by a trigger in the
insert's own transaction, and `meta` (the hashes of JSON Lines files already imported).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pinman.errors import PinmanError, SystemProblem

if TYPE_CHECKING:
    import sqlite3

DB_VERSION = 1  # of the database (PRAGMA user_version)
# The events that say whether a version works at an endpoint (unless they carry a `remedy`: the
# switches the version ran with, kind "probe"). `refused`: a guarded channel's candidate the
# endpoint rejected (outcome schema), so it is known-bad there until a later verdict.
VERDICTS = ("check", "good", "bad", "refused")

DDL = (
    """CREATE TABLE IF NOT EXISTS entries (
        id INTEGER PRIMARY KEY,  -- append order: newest last
        ts REAL NOT NULL, event, kind, profile, version, endpoint, outcome,
        doc TEXT NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS entries_by_profile ON entries (profile, id)",
    "CREATE INDEX IF NOT EXISTS entries_by_event ON entries (profile, event, id)",
    "CREATE INDEX IF NOT EXISTS entries_by_version ON entries (profile, endpoint, version, kind, id)",
    "CREATE INDEX IF NOT EXISTS entries_by_time ON entries (ts)",
    """CREATE TABLE IF NOT EXISTS verdicts (
        profile, endpoint, version, outcome, ts REAL, entry_id INTEGER NOT NULL,
        PRIMARY KEY (profile, endpoint, version)) WITHOUT ROWID""",
    "CREATE INDEX IF NOT EXISTS verdicts_by_outcome ON verdicts (profile, endpoint, outcome, ts, entry_id)",
    """CREATE TABLE IF NOT EXISTS known_good (
        profile, endpoint, entry_id INTEGER NOT NULL, PRIMARY KEY (profile, endpoint)) WITHOUT ROWID""",
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value) WITHOUT ROWID",
    # Kept in the insert's own transaction, so they always agree with `entries`.
    """CREATE TRIGGER IF NOT EXISTS entries_verdict AFTER INSERT ON entries
       WHEN NEW.kind = 'verdict' AND NEW.endpoint IS NOT NULL BEGIN
         INSERT INTO verdicts (profile, endpoint, version, outcome, ts, entry_id)
         VALUES (NEW.profile, NEW.endpoint, NEW.version, NEW.outcome, NEW.ts, NEW.id)
         ON CONFLICT (profile, endpoint, version) DO UPDATE
         SET outcome = excluded.outcome, ts = excluded.ts, entry_id = excluded.entry_id
         WHERE excluded.entry_id > verdicts.entry_id;
         DELETE FROM known_good WHERE profile = NEW.profile AND endpoint = NEW.endpoint;
         INSERT INTO known_good (profile, endpoint, entry_id)
         SELECT profile, endpoint, entry_id FROM verdicts
         WHERE profile = NEW.profile AND endpoint = NEW.endpoint AND outcome = 'ok'
         ORDER BY ts DESC, entry_id DESC LIMIT 1;
       END""",
)
INSERT = "INSERT INTO entries (ts, event, kind, profile, version, endpoint, outcome, doc) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
_GROUP = "profile = :profile AND endpoint IS :endpoint AND version = :version AND kind = :kind"
# The (keep+1)-th newest of the new entry's group and everything older go.
BOUND_ONE = (f"DELETE FROM entries WHERE {_GROUP} AND id <= "
              f"(SELECT id FROM entries WHERE {_GROUP} ORDER BY id DESC LIMIT 1 OFFSET :keep)")
BOUND_ALL = ("DELETE FROM entries WHERE id IN (SELECT id FROM (SELECT id, row_number() OVER "
              "(PARTITION BY profile, endpoint, version, kind ORDER BY id DESC) AS n FROM entries) WHERE n > ?)")
FEW_GROUPS = 64
VERDICT_DOCS = "SELECT e.doc FROM verdicts v JOIN entries e ON e.id = v.entry_id WHERE v.profile = ? AND v.endpoint = ?"


def column(value: Any) -> Any:
    """A column value: a string SQLite can store (a lone surrogate, from an undecodable path,
    cannot be UTF-8) becomes bytes, the same way on insert and in queries."""
    if not isinstance(value, str):
        return value
    try:
        value.encode("utf-8")
        return value
    except UnicodeEncodeError:
        return value.encode("utf-8", "surrogatepass")


def row(doc: dict[str, Any]) -> tuple[Any, ...]:
    """What is inserted for one (already scrubbed) document: its indexed columns and the document."""
    event = doc.get("event")
    # A probe run with a remedy's switches says nothing about the plain version: not a verdict.
    kind = ("probe" if doc.get("remedy") else "verdict") if event in VERDICTS else event
    return (doc.get("ts", 0.0), column(event), column(kind), column(doc.get("profile")), column(doc.get("version")),
            column(doc.get("endpoint")), column(doc.get("outcome")),
            json.dumps(doc, sort_keys=True, separators=(",", ":")))


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[None]:
    """BEGIN IMMEDIATE takes the write lock first, so a writer waits (busy timeout) instead of failing."""
    import sqlite3

    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
        conn.execute("COMMIT")
    except BaseException:
        try:
            conn.execute("ROLLBACK")
        except sqlite3.Error:
            pass  # already rolled back by SQLite (a full disk ends the transaction itself)
        raise


def user_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def read_legacy(path: Path) -> bytes | None:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)  # a planted symlink is refused, not read through
    except FileNotFoundError:
        return None
    with os.fdopen(fd, "rb") as f:
        return f.read()


def aside(path: Path) -> Path:
    """Where a taken-over JSONL goes: `journal.jsonl.imported`, never over an earlier one."""
    out = path.with_name(path.name + ".imported")
    n = 1
    while os.path.lexists(out):
        n += 1
        out = path.with_name(f"{path.name}.imported.{n}")
    return out


_HINTS = {
    "SQLITE_FULL": "free some disk space, then run the command again",
    "SQLITE_READONLY": "the journal cannot be written: check its owner and permissions, or set PINMAN_HOME",
    "SQLITE_CANTOPEN": "check the owner and permissions of that path",
    "SQLITE_PERM": "check the owner and permissions of that path",
    "SQLITE_BUSY": "another pinman process holds the journal for too long: run the command again",
    "SQLITE_LOCKED": "another pinman process holds the journal for too long: run the command again",
    "SQLITE_CORRUPT": "the file is damaged: move it aside (pinman starts a new journal)",
    "SQLITE_NOTADB": "the file is not a journal: move it aside (pinman starts a new journal)",
}


def db_error(e: Exception, what: str, path: Path) -> PinmanError:
    name = str(getattr(e, "sqlite_errorname", "") or "")
    base = next((k for k in _HINTS if name == k or name.startswith(k + "_")), "")
    if base == "SQLITE_FULL" or (name.startswith("SQLITE_IOERR") and _disk_full(path)):
        return SystemProblem(f"{what}: No space left on device ({e})", hint=_HINTS["SQLITE_FULL"])
    return SystemProblem(f"{what}: {e}", hint=_HINTS.get(base, "check the disk and the file, then run the "
                                                               "command again"))


def _disk_full(path: Path) -> bool:
    try:
        st = os.statvfs(path.parent)
    except OSError:
        return False
    return st.f_bavail == 0
