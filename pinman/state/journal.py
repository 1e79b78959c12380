"""The journal: every check, switch and rollback, and what follows from it (last known-good per
profile and endpoint, known-bad versions, the versions `prune` keeps, the last check).

Stored in SQLite (`state/journal.db`, WAL, a busy timeout) so that every question pinman asks is
an indexed lookup whose cost does not grow with the journal's age:

* `entries` holds one row per entry (the JSON document `history --json` prints, plus indexed
  columns). A trigger keeps `verdicts` (the latest check/good/bad per profile, endpoint and
  version) and `known_good` (per profile and endpoint) in the same transaction as the insert.
* Each entry is one `BEGIN IMMEDIATE … COMMIT`: concurrent processes queue on the busy timeout
  and lose nothing; a process killed at any instant loses at most the entry it was writing (an
  uncommitted transaction is rolled back by the next open), never the rest.
* Growth is bounded: only the newest `keep` entries per profile × endpoint × version × kind stay
  (`PINMAN_JOURNAL_KEEP`, default 50; 0 keeps all). The newest verdict of each version is always
  among them, and it alone decides known-good and known-bad.
* A `journal.jsonl` from earlier versions is taken over on first use: imported in one transaction
  that also records its SHA-256, then renamed aside (`journal.jsonl.imported`). Killed between
  the two, the next run finds the hash and only renames: nothing is imported twice.

Never stored: API keys, tokens, auth headers. Endpoints are reduced to scheme://host:port and every
string is scrubbed of the secret values present in the environment before it is inserted.
`sqlite3` is imported only when the journal is opened, never on the shim's or `current`'s path.
"""

from __future__ import annotations

import errno
import json
import math
import os
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from pinman.errors import PinmanError, SystemProblem, from_os_error
from pinman.faults import point
from pinman.paths import Paths

if TYPE_CHECKING:
    import sqlite3

SCHEMA = 1  # of an entry's JSON document
DB_VERSION = 1  # of the database (PRAGMA user_version)
DEFAULT_ENDPOINT = "https://api.anthropic.com"
KEEP_VAR = "PINMAN_JOURNAL_KEEP"
DEFAULT_KEEP = 50
BUSY_SECONDS = 60.0  # how long a process waits for another's write (each holds it for one insert)
VERDICTS = ("check", "good", "bad")  # the events that say whether a version works at an endpoint


def endpoint_of(base_url: str | None) -> str:
    """scheme://host:port of a base URL: no path, no query, no credentials."""
    parts = urlsplit(base_url or DEFAULT_ENDPOINT)
    scheme = parts.scheme or "https"
    host = parts.hostname or "?"
    if ":" in host:
        host = f"[{host}]"
    try:
        port = parts.port or (443 if scheme == "https" else 80)
    except ValueError:
        port = 0
    return f"{scheme}://{host}:{port}"


def secret_values(environ: Mapping[str, str] | None = None) -> list[str]:
    from pinman.redact import secret_values as values

    return values(os.environ if environ is None else environ)


def scrub(value: Any, secrets: Iterable[str]) -> Any:
    """Replace every secret value inside strings (recursively) with <redacted>."""
    if isinstance(value, str):
        for s in secrets:
            value = value.replace(s, "<redacted>")
        return value
    if isinstance(value, dict):
        return {k: scrub(v, secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [scrub(v, secrets) for v in value]
    return value


@dataclass
class Entry:
    event: str  # "check" | "switch" | "rollback" | "reset" | "bad" | "good"
    profile: str  # profile key: NAME, or ROOT::NAME for a project's profile
    version: str
    endpoint: str | None = None
    outcome: str | None = None
    status: int | None = None
    message: str = ""
    rejected: str | None = None
    duration: float | None = None
    sdk_version: str | None = None
    previous: str | None = None
    ts: float = field(default_factory=time.time)
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        doc = {k: v for k, v in vars(self).items() if v is not None and v != {} and k != "extra"}
        doc.update(self.extra)
        doc["schema"] = SCHEMA
        doc["time"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.ts))
        return doc

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> Entry:
        """The entry a journal document holds; ValueError when a field has the wrong type (hand edits)."""
        known = {k: doc[k] for k in cls.__dataclass_fields__ if k in doc and k != "extra"}
        for k in ("event", "profile", "version", "message"):
            if k in known and not isinstance(known[k], str):
                raise ValueError(f"{k} is not a string")
        for k in ("endpoint", "outcome", "rejected", "sdk_version", "previous"):
            if known.get(k) is not None and not isinstance(known[k], str):
                raise ValueError(f"{k} is not a string")
        if known.get("status") is not None and (type(known["status"]) is not int):
            raise ValueError("status is not an integer")
        if known.get("duration") is not None:
            known["duration"] = _number(known["duration"])
        known["ts"] = _number(known.get("ts", 0.0))
        if not 0 <= known["ts"] <= _LAST_SECOND:
            raise ValueError("ts is not a time")
        extra = {k: v for k, v in doc.items() if k not in cls.__dataclass_fields__ and k not in ("schema", "time")}
        return cls(**known, extra=extra)


_LAST_SECOND = 253402300799  # 9999-12-31T23:59:59Z, the last time `time.gmtime` can render


def _number(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError("not a number")
    out = float(value)  # OverflowError (an ArithmeticError) for a huge integer: caught by the readers
    if not math.isfinite(out):
        raise ValueError("not a finite number")
    return out


def parse(line: bytes | str) -> Entry | None:
    """The entry one JSON document holds, or None when it holds none (torn, foreign, hand-edited)."""
    try:
        doc = json.loads(line)
        return Entry.from_json(doc) if isinstance(doc, dict) else None
    except (ValueError, TypeError, ArithmeticError, RecursionError):
        return None  # not JSON, wrong types, or nested deeper than Python parses


# --------------------------------------------------------------------------- the database

_DDL = (
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
_INSERT = "INSERT INTO entries (ts, event, kind, profile, version, endpoint, outcome, doc) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
_GROUP = "profile = :profile AND endpoint IS :endpoint AND version = :version AND kind = :kind"
# The (keep+1)-th newest of the new entry's group and everything older go.
_BOUND_ONE = (f"DELETE FROM entries WHERE {_GROUP} AND id <= "
              f"(SELECT id FROM entries WHERE {_GROUP} ORDER BY id DESC LIMIT 1 OFFSET :keep)")
_BOUND_ALL = ("DELETE FROM entries WHERE id IN (SELECT id FROM (SELECT id, row_number() OVER "
              "(PARTITION BY profile, endpoint, version, kind ORDER BY id DESC) AS n FROM entries) WHERE n > ?)")
_FEW_GROUPS = 64
_VERDICT_DOCS = "SELECT e.doc FROM verdicts v JOIN entries e ON e.id = v.entry_id WHERE v.profile = ? AND v.endpoint = ?"


def _text(value: Any) -> Any:
    """A column value: a string SQLite can store (a lone surrogate, from an undecodable path,
    cannot be UTF-8) becomes bytes, the same way on insert and in queries."""
    if not isinstance(value, str):
        return value
    try:
        value.encode("utf-8")
        return value
    except UnicodeEncodeError:
        return value.encode("utf-8", "surrogatepass")


def _row(doc: dict[str, Any]) -> tuple[Any, ...]:
    """What is inserted for one (already scrubbed) document: its indexed columns and the document."""
    event = doc.get("event")
    kind = "verdict" if event in VERDICTS else event
    return (doc.get("ts", 0.0), _text(event), _text(kind), _text(doc.get("profile")), _text(doc.get("version")),
            _text(doc.get("endpoint")), _text(doc.get("outcome")),
            json.dumps(doc, sort_keys=True, separators=(",", ":")))


def keep_from_env(environ: Mapping[str, str] | None = None) -> int:
    raw = (os.environ if environ is None else environ).get(KEEP_VAR, "").strip()
    if not raw:
        return DEFAULT_KEEP
    if not raw.isdigit():
        raise PinmanError(f"{KEEP_VAR}={raw!r} is not a whole number",
                          hint=f"entries kept per profile, endpoint and version, e.g. {DEFAULT_KEEP}; 0 keeps all")
    return int(raw)


class Journal:
    def __init__(self, paths: Paths, keep: int | None = None) -> None:
        self.paths = paths
        self.path = paths.journal_db
        self.legacy = paths.journal  # the JSON Lines journal of earlier versions
        self.keep = keep
        self._conn: sqlite3.Connection | None = None

    # ------------------------------------------------------------------ writing

    def append(self, entry: Entry, environ: Mapping[str, str] | None = None) -> None:
        self.append_many([entry], environ, event=entry.event)

    def append_many(self, entries: Iterable[Entry], environ: Mapping[str, str] | None = None, *,
                    event: str | None = None) -> int:
        """Insert entries in one transaction (all or none); returns how many."""
        secrets = secret_values(environ)
        rows = [_row(scrub(e.to_json(), secrets)) for e in entries]
        # pinman's own environment, not `environ` (a probe's, which a project's [env] adds to)
        keep = keep_from_env() if self.keep is None else self.keep
        conn = self._open(create=True)
        assert conn is not None
        with self._failing("append to"), _transaction(conn):
            point("journal.append", event)
            self._insert(conn, rows, keep)
            point("journal.written", event)
        return len(rows)

    def _insert(self, conn: sqlite3.Connection, rows: list[tuple[Any, ...]], keep: int) -> None:
        conn.executemany(_INSERT, rows)
        if not keep or not rows:
            return
        groups = {(kind, profile, version, endpoint) for _, _, kind, profile, version, endpoint, _, _ in rows}
        if len(groups) > _FEW_GROUPS:  # a take-over or a bulk load: one pass over the table
            conn.execute(_BOUND_ALL, (keep,))
            return
        for kind, profile, version, endpoint in groups:
            conn.execute(_BOUND_ONE, {"profile": profile, "endpoint": endpoint, "version": version,
                                      "kind": kind, "keep": keep})

    # ------------------------------------------------------------------ reading

    def entries(self) -> Iterator[Entry]:
        """Oldest first (every entry: for export and tests; pinman's own questions use the queries below)."""
        yield from self._select("SELECT doc FROM entries ORDER BY id")

    def since(self, ts: float, profile: str | None = None) -> list[Entry]:
        """Entries recorded at or after `ts`, oldest first."""
        where, args = ("AND profile = ?", (_text(profile),)) if profile is not None else ("", ())
        return list(self._select(f"SELECT doc FROM entries WHERE ts >= ? {where} ORDER BY id", (ts, *args)))

    def history(self, profile: str | None = None, limit: int | None = None) -> list[Entry]:
        """Newest first; `limit` of None or 0 means all."""
        where, args = ("WHERE profile = ?", (_text(profile),)) if profile is not None else ("", ())
        out = []
        for e in self._select(f"SELECT doc FROM entries {where} ORDER BY id DESC", args):
            out.append(e)
            if limit and len(out) >= limit:
                break
        return out

    def verdicts(self, profile: str, endpoint: str) -> dict[str, Entry]:
        """version -> the latest check-like verdict (check/good/bad) for this profile and endpoint."""
        rows = self._select(f"{_VERDICT_DOCS} ORDER BY v.entry_id", (_text(profile), _text(endpoint)))
        return {e.version: e for e in rows}

    def last_known_good(self, profile: str, endpoint: str, exclude: Iterable[str] = ()) -> Entry | None:
        """The most recently verified version whose latest verdict here is still ok."""
        skip = set(exclude)
        rows = self._select(f"{_VERDICT_DOCS} AND v.outcome = 'ok' ORDER BY v.ts DESC, v.entry_id DESC",
                            (_text(profile), _text(endpoint)))
        return next((e for e in rows if e.version not in skip), None)

    def known_bad(self, profile: str, endpoint: str) -> dict[str, Entry]:
        rows = self._select(f"{_VERDICT_DOCS} AND v.outcome = 'schema' ORDER BY v.entry_id",
                            (_text(profile), _text(endpoint)))
        return {e.version: e for e in rows}

    def known_good_versions(self) -> set[str]:
        """Every version that is the last known-good of some (profile, endpoint): never pruned."""
        rows = self._select("SELECT e.doc FROM known_good k JOIN entries e ON e.id = k.entry_id")
        return {e.version for e in rows}

    def last_check(self, profile: str) -> Entry | None:
        rows = self._select("SELECT doc FROM entries WHERE profile = ? AND event = 'check' ORDER BY id DESC",
                            (_text(profile),))
        return next(iter(rows), None)

    def _select(self, sql: str, args: tuple[Any, ...] = ()) -> Iterator[Entry]:
        """The entries a query's `doc` column holds, in its order; unreadable ones are skipped."""
        conn = self._open(create=False)
        if conn is None:
            return
        with self._failing("read"):
            cursor = conn.execute(sql, args)
            try:
                for (doc,) in cursor:
                    entry = parse(doc) if isinstance(doc, (str, bytes)) else None
                    if entry is not None:
                        yield entry
            finally:
                cursor.close()  # a caller that stops early ends the read at once

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    # ------------------------------------------------------------------ opening

    def _open(self, *, create: bool) -> sqlite3.Connection | None:
        """The connection; None for a reader when there is no journal at all (nothing is created)."""
        if self._conn is not None:
            return self._conn
        legacy = os.path.lexists(self.legacy)
        if not create and not legacy and not os.path.lexists(self.path):
            return None
        import sqlite3

        with self._failing("open"):
            self._refuse_links()
            conn = sqlite3.connect(self.path, timeout=BUSY_SECONDS, isolation_level=None)
            try:
                conn.execute("PRAGMA synchronous = FULL")  # fsync each commit, as the JSONL append did
                if _user_version(conn) != DB_VERSION:
                    self._set_up(conn)
                if legacy:
                    self._take_over(conn)
            except BaseException:
                conn.close()
                raise
        self._conn = conn
        return conn

    def _refuse_links(self) -> None:
        """Create the file ourselves (0600, O_NOFOLLOW): SQLite would write through a planted symlink."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        os.close(os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600))
        for side in (Path(f"{self.path}-wal"), Path(f"{self.path}-shm")):
            if side.is_symlink():
                raise OSError(errno.ELOOP, os.strerror(errno.ELOOP), str(side))  # as O_NOFOLLOW says it

    @contextmanager
    def _lock(self) -> Iterator[None]:
        """The lock earlier versions took for each JSONL append: set-up and take-over hold it."""
        from filelock import FileLock

        self.paths.locks.mkdir(parents=True, exist_ok=True)
        with FileLock(str(self.paths.locks / "journal.lock")):
            yield

    def _set_up(self, conn: sqlite3.Connection) -> None:
        with self._lock():
            found = _user_version(conn)
            if found == DB_VERSION:
                return  # another process did it while we waited
            if found > DB_VERSION:
                raise PinmanError(f"the journal {self.path} was written by a newer pinman",
                                  hint="upgrade pinman to read it")
            conn.execute("PRAGMA journal_mode = WAL")
            with _transaction(conn):
                for statement in _DDL:
                    conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {DB_VERSION}")
                point("journal.set_up")

    def _take_over(self, conn: sqlite3.Connection) -> None:
        """Import `journal.jsonl` once, then rename it aside (kept, never deleted)."""
        import hashlib

        with self._lock():
            raw = _read_legacy(self.legacy)
            if raw is None:
                return  # another process took it over while we waited
            marker = "imported:" + hashlib.sha256(raw).hexdigest()
            if conn.execute("SELECT 1 FROM meta WHERE key = ?", (marker,)).fetchone() is None:
                secrets = secret_values()
                rows = [_row(scrub(e.to_json(), secrets)) for e in map(parse, raw.splitlines()) if e]
                keep = keep_from_env() if self.keep is None else self.keep
                with _transaction(conn):
                    self._insert(conn, rows, keep)
                    conn.execute("INSERT INTO meta (key, value) VALUES (?, ?)", (marker, time.time()))
                    point("journal.take_over", "imported")
            point("journal.take_over", "committed")
            os.rename(self.legacy, _aside(self.legacy))

    @contextmanager
    def _failing(self, doing: str) -> Iterator[None]:
        """SQLite's and the OS's refusals as one-line errors naming the journal."""
        import sqlite3

        try:
            yield
        except OSError as e:
            known = from_os_error(e)
            where = e.filename or self.path
            raise (type(known) if known else PinmanError)(
                f"cannot {doing} the journal {where}: {e.strerror or e}",
                hint=known.hint if known else "check the path is a plain file") from None
        except sqlite3.Error as e:
            raise _db_error(e, f"cannot {doing} the journal {self.path}", self.path) from None


@contextmanager
def _transaction(conn: sqlite3.Connection) -> Iterator[None]:
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


def _user_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def _read_legacy(path: Path) -> bytes | None:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)  # a planted symlink is refused, not read through
    except FileNotFoundError:
        return None
    with os.fdopen(fd, "rb") as f:
        return f.read()


def _aside(path: Path) -> Path:
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


def _db_error(e: Exception, what: str, path: Path) -> PinmanError:
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
