"""The journal's SQLite database: its tables, the statements pinman runs on it, transactions,
the old JSON Lines file it takes over, SQLite's refusals as one-line errors, and what is done with
a damaged journal.

A journal that SQLite calls corrupt or "not a database", or that holds another schema (a foreign
file, a WAL of another database beside it), is moved aside with its `-wal` and `-shm` as
`journal.db.corrupt-YYYYmmddTHHMMSS` and a new one starts: the journal is pinman's memory, not a
reason for status, history or the autopilot to stop. Only the file that was found damaged moves:
two processes finding it at once move it once, never the new journal the first one started.

`pinman.state.journal` is the only user. Tables: `entries` (one row per entry: indexed columns plus
the JSON document `history --json` prints), `verdicts` (the latest check/good/bad per profile,
endpoint and version) and `known_good` (per profile and endpoint), both kept by a trigger in the
insert's own transaction, and `meta` (the hashes of JSON Lines files already imported).
"""

from __future__ import annotations

import errno
import json
import os
import sys
import time
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


TABLES = {"entries": "id, ts, event, kind, profile, version, endpoint, outcome, doc",
          "verdicts": "profile, endpoint, version, outcome, ts, entry_id",
          "known_good": "profile, endpoint, entry_id", "meta": "key, value"}


class JournalDamaged(SystemProblem):
    """The journal file is damaged or not pinman's: it can be moved aside and started again."""


def damaged(e: Exception) -> bool:
    name = str(getattr(e, "sqlite_errorname", "") or "")
    return name == "SQLITE_NOTADB" or name.startswith("SQLITE_CORRUPT")


def foreign(conn: sqlite3.Connection, version: int) -> str | None:
    """Why the open database is not a journal of pinman's (another schema), or None."""
    import sqlite3

    names = {n for (n,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
             if not str(n).startswith("sqlite_")}
    if names - set(TABLES):
        return f"it holds tables pinman does not use: {', '.join(sorted(map(str, names - set(TABLES))))}"
    if version == DB_VERSION and names != set(TABLES):
        return f"tables are missing: {', '.join(sorted(set(TABLES) - names))}"
    for table in sorted(names):
        try:
            conn.execute(f"SELECT {TABLES[table]} FROM {table} LIMIT 0")
        except sqlite3.OperationalError as e:
            return f"table {table} is not pinman's ({e})"
    return None


def identity(path: Path) -> tuple[int, int] | None:
    try:
        st = os.lstat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


def move_aside(path: Path, seen: tuple[int, int] | None) -> Path | None:
    """Move the damaged journal `seen` (its identity when it was opened) and its `-wal`/`-shm`
    aside; None when `path` is another file by now (someone already did) or was never seen.
    The caller holds the journal lock, so the check and the renames are one step."""
    if seen is None or identity(path) != seen:
        return None
    stamp = time.strftime("%Y%m%dT%H%M%S")
    out = path.with_name(f"{path.name}.corrupt-{stamp}")
    n = 1
    while any(os.path.lexists(f"{out}{side}") for side in ("", "-wal", "-shm")):
        n += 1
        out = path.with_name(f"{path.name}.corrupt-{stamp}.{n}")
    # The side files first: a -wal left beside a new journal would be read into it.
    for side in ("-wal", "-shm", ""):
        try:
            os.rename(f"{path}{side}", f"{out}{side}")
        except FileNotFoundError:
            pass
    return out


def say(line: str) -> None:
    """One line on stderr (a detached hook's stderr is its log)."""
    try:
        sys.stderr.write(f"pinman: {line}\n")
        sys.stderr.flush()
    except (OSError, ValueError):  # no stderr: the aside file itself still says what happened
        pass


def refuse_links(path: Path) -> None:
    """Create the file ourselves (0600, O_NOFOLLOW): SQLite would write through a planted symlink.

    An existing file is only looked at (lstat), never opened and closed here: closing any
    descriptor of a database file drops every POSIX lock this process holds on it, so another
    connection of this process would go on writing unlocked (SQLite's "how to corrupt" 2.2;
    seen here as a malformed database after kills at random instants)."""
    from pinman.state.fsutil import make_dirs

    make_dirs(path.parent)
    try:
        os.close(os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600))
    except FileExistsError:
        pass  # there already (or made by another process just now): checked below, not opened
    for f in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        if f.is_symlink():
            raise OSError(errno.ELOOP, os.strerror(errno.ELOOP), str(f))  # as O_NOFOLLOW says it


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


@contextmanager
def failing(doing: str, path: Path) -> Iterator[None]:
    """SQLite's and the OS's refusals as one-line errors naming the journal at `path`."""
    import sqlite3

    from pinman.errors import from_os_error

    try:
        yield
    except OSError as e:
        known = from_os_error(e)
        where = e.filename or path
        raise (type(known) if known else PinmanError)(
            f"cannot {doing} the journal {where}: {e.strerror or e}",
            hint=known.hint if known else "check the path is a plain file") from None
    except sqlite3.Error as e:
        raise db_error(e, f"cannot {doing} the journal {path}", path) from None


def db_error(e: Exception, what: str, path: Path) -> PinmanError:
    name = str(getattr(e, "sqlite_errorname", "") or "")
    base = next((k for k in _HINTS if name == k or name.startswith(k + "_")), "")
    if base == "SQLITE_FULL" or (name.startswith("SQLITE_IOERR") and _disk_full(path)):
        return SystemProblem(f"{what}: No space left on device ({e})", hint=_HINTS["SQLITE_FULL"])
    kind = JournalDamaged if damaged(e) else SystemProblem
    return kind(f"{what}: {e}", hint=_HINTS.get(base, "check the disk and the file, then run the command again"))


def _disk_full(path: Path) -> bool:
    try:
        st = os.statvfs(path.parent)
    except OSError:
        return False
    return st.f_bavail == 0
