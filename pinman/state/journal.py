"""The journal: every check, switch and rollback, and what follows from it (last known-good per
profile and endpoint, known-bad versions, the versions `prune` keeps, the last check).

Stored in SQLite (`state/journal.db`, WAL, a busy timeout) so that every question pinman asks is
an indexed lookup whose cost does not grow with the journal's age:

* `entries` holds one row per entry (the JSON document `history --json` prints, plus indexed
  columns). A trigger keeps `verdicts` (the latest check/good/bad per profile, endpoint and
  version) and `known_good` (per profile and endpoint) in the same transaction as the insert.
  The tables and statements live in `journal_db`; this module is what the rest of pinman calls.
* Each entry is one `BEGIN IMMEDIATE … COMMIT`: concurrent processes queue on the busy timeout
  and lose nothing; a process killed at any instant loses at most the entry it was writing (an
  uncommitted transaction is rolled back by the next open), never the rest.
* Growth is bounded: only the newest `keep` entries per profile × endpoint × version × kind stay
  (`PINMAN_JOURNAL_KEEP`, default 50; 0 keeps all). The newest verdict of each version is always
  among them, and it alone decides known-good and known-bad.
* A damaged journal (corrupt, not a database, another schema) is moved aside and a new one
  started, once, with one line on stderr (`journal_db.move_aside`); every command goes on.
* A `journal.jsonl` from earlier versions is taken over on first use: imported in one transaction
  that also records its SHA-256, then renamed aside (`journal.jsonl.imported`). Killed between
  the two, the next run finds the hash and only renames: nothing is imported twice.

Never stored: API keys, tokens, auth headers. Endpoints are reduced to scheme://host:port and every
string is scrubbed of the secret values present in the environment before it is inserted.
`sqlite3` is imported only when the journal is opened, never on the shim's or `current`'s path.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from pinman.errors import PinmanError
from pinman.faults import point
from pinman.state.fsutil import make_dirs
from pinman.paths import Paths
from pinman.state.journal_db import BOUND_ALL, BOUND_ONE, DB_VERSION, DDL, FEW_GROUPS, INSERT, VERDICT_DOCS, JournalDamaged, aside, column, failing, foreign, identity, move_aside, read_legacy, refuse_links, row, say, transaction, user_version
from pinman.redact import scrub as scrub_text
from pinman.redact import secret_values as values
from pinman.record import record

if TYPE_CHECKING:
    import sqlite3

SCHEMA = 1  # of an entry's JSON document
DEFAULT_ENDPOINT = "https://api.anthropic.com"
KEEP_VAR = "PINMAN_JOURNAL_KEEP"
DEFAULT_KEEP = 50
BUSY_SECONDS = 60.0  # how long a process waits for another's write (each holds it for one insert)


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

    return values(os.environ if environ is None else environ)


def scrub(value: Any, secrets: Iterable[str]) -> Any:
    """Replace every secret value inside strings (recursively) with <redacted>, in every encoding
    `pinman.redact.scrub` knows (`\\/`-escaped, percent-encoded, base64)."""
    if isinstance(value, str):
        return scrub_text(value, secrets)
    if isinstance(value, dict):
        return {k: scrub(v, secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [scrub(v, secrets) for v in value]
    return value


@record(frozen=False)
class Entry:
    event: str  # "check" | "switch" | "rollback" | "reset" | "bad" | "good" | "refused" | "promoted" | …
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
        self._seen: tuple[int, int] | None = None  # the file the connection opened (move_aside)

    # ------------------------------------------------------------------ writing

    def append(self, entry: Entry, environ: Mapping[str, str] | None = None) -> None:
        self.append_many([entry], environ, event=entry.event)

    def append_many(self, entries: Iterable[Entry], environ: Mapping[str, str] | None = None, *,
                    event: str | None = None) -> int:
        """Insert entries in one transaction (all or none); returns how many."""
        secrets = secret_values(environ)
        rows = [row(scrub(e.to_json(), secrets)) for e in entries]
        # pinman's own environment, not `environ` (a probe's, which a project's [env] adds to)
        keep = keep_from_env() if self.keep is None else self.keep
        for again in (False, True):
            conn = self._open(create=True)
            assert conn is not None
            try:
                with self._failing("append to"), transaction(conn):
                    point("journal.append", event)
                    self._insert(conn, rows, keep)
                    point("journal.written", event)
                return len(rows)
            except JournalDamaged as e:
                if again:
                    raise
                self._start_again(e)
        raise AssertionError("unreachable")

    def _insert(self, conn: sqlite3.Connection, rows: list[tuple[Any, ...]], keep: int) -> None:
        conn.executemany(INSERT, rows)
        if not keep or not rows:
            return
        groups = {(kind, profile, version, endpoint) for _, _, kind, profile, version, endpoint, _, _ in rows}
        if len(groups) > FEW_GROUPS:  # a take-over or a bulk load: one pass over the table
            conn.execute(BOUND_ALL, (keep,))
            return
        for kind, profile, version, endpoint in groups:
            conn.execute(BOUND_ONE, {"profile": profile, "endpoint": endpoint, "version": version,
                                      "kind": kind, "keep": keep})

    # ------------------------------------------------------------------ reading

    def entries(self) -> Iterator[Entry]:
        """Oldest first (every entry: for export and tests; pinman's own questions use the queries below)."""
        yield from self._select("SELECT doc FROM entries ORDER BY id")

    def since(self, ts: float, profile: str | None = None) -> list[Entry]:
        """Entries recorded at or after `ts`, oldest first."""
        where, args = ("AND profile = ?", (column(profile),)) if profile is not None else ("", ())
        return list(self._select(f"SELECT doc FROM entries WHERE ts >= ? {where} ORDER BY id", (ts, *args)))

    def history(self, profile: str | None = None, limit: int | None = None) -> list[Entry]:
        """Newest first; `limit` of None or 0 means all."""
        where, args = ("WHERE profile = ?", (column(profile),)) if profile is not None else ("", ())
        out = []
        for e in self._select(f"SELECT doc FROM entries {where} ORDER BY id DESC", args):
            out.append(e)
            if limit and len(out) >= limit:
                break
        return out

    def verdicts(self, profile: str, endpoint: str) -> dict[str, Entry]:
        """version -> the latest check-like verdict (check/good/bad) for this profile and endpoint."""
        rows = self._select(f"{VERDICT_DOCS} ORDER BY v.entry_id", (column(profile), column(endpoint)))
        return {e.version: e for e in rows}

    def last_known_good(self, profile: str, endpoint: str, exclude: Iterable[str] = ()) -> Entry | None:
        """The most recently verified version whose latest verdict here is still ok."""
        skip = set(exclude)
        rows = self._select(f"{VERDICT_DOCS} AND v.outcome = 'ok' ORDER BY v.ts DESC, v.entry_id DESC",
                            (column(profile), column(endpoint)))
        return next((e for e in rows if e.version not in skip), None)

    def known_bad(self, profile: str, endpoint: str) -> dict[str, Entry]:
        rows = self._select(f"{VERDICT_DOCS} AND v.outcome = 'schema' ORDER BY v.entry_id",
                            (column(profile), column(endpoint)))
        return {e.version: e for e in rows}

    def known_good_versions(self) -> set[str]:
        """Every version that is the last known-good of some (profile, endpoint): never pruned."""
        rows = self._select("SELECT e.doc FROM known_good k JOIN entries e ON e.id = k.entry_id")
        return {e.version for e in rows}

    def last_check(self, profile: str, version: str | None = None) -> Entry | None:
        """The newest check of this profile; with `version`, the newest check of that version."""
        where, args = ("AND version = ?", (column(version),)) if version is not None else ("", ())
        rows = self._select(f"SELECT doc FROM entries WHERE profile = ? AND event = 'check' {where} ORDER BY id DESC",
                            (column(profile), *args))
        return next(iter(rows), None)

    def last_of(self, profile: str, events: Iterable[str]) -> Entry | None:
        """The newest entry of one of `events` for this profile (an indexed look, however old the journal)."""
        wanted = sorted(set(events))
        marks = ", ".join("?" * len(wanted))
        rows = self._select(f"SELECT doc FROM entries WHERE profile = ? AND event IN ({marks}) ORDER BY id DESC LIMIT 1",
                            (column(profile), *wanted))
        return next(iter(rows), None)

    def _select(self, sql: str, args: tuple[Any, ...] = ()) -> Iterator[Entry]:
        """The entries a query's `doc` column holds, in its order; unreadable ones are skipped."""
        try:
            yield from self._select_once(sql, args)
        except JournalDamaged as e:
            self._start_again(e)
            yield from self._select_once(sql, args)  # a new journal: what was written since, if anything

    def _select_once(self, sql: str, args: tuple[Any, ...]) -> Iterator[Entry]:
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
        try:
            self._conn = self._connect(legacy)
        except JournalDamaged as e:
            self._start_again(e)
            if not create and not legacy and not os.path.lexists(self.path):
                return None
            self._conn = self._connect(legacy)
        return self._conn

    def _connect(self, legacy: bool) -> sqlite3.Connection:
        import sqlite3

        with self._failing("open"):
            refuse_links(self.path)
            before = identity(self.path)
            conn = sqlite3.connect(self.path, timeout=BUSY_SECONDS, isolation_level=None)
            self._seen = before if identity(self.path) == before else None  # replaced meanwhile: unknown
            try:
                conn.execute("PRAGMA synchronous = FULL")  # fsync each commit, as the JSONL append did
                found = user_version(conn)
                why = foreign(conn, found) if found <= DB_VERSION else None  # newer: refused below
                if why:
                    raise JournalDamaged(f"the journal {self.path} is not pinman's: {why}")
                if found != DB_VERSION:
                    self._set_up(conn)
                if legacy:
                    self._take_over(conn)
            except BaseException:
                conn.close()
                raise
        return conn

    def _start_again(self, e: JournalDamaged) -> None:
        """Move the damaged journal aside so that a new one starts; said once, by the process
        that moved it (another that found it damaged too finds the new one and moves nothing)."""
        seen, self._seen = self._seen, None
        with self._lock():
            moved = move_aside(self.path, seen)
            # Closed only now, under the lock: SQLite's last close of a WAL database checkpoints
            # into the file it has open and deletes `journal.db-wal` *by name*; moved aside first,
            # nothing is there yet (a new journal gets its -wal in _set_up, which takes this lock).
            self.close()
        if moved is not None:
            say(f"{e.message}; moved it aside to {moved.name} and started a new journal")

    @contextmanager
    def _lock(self) -> Iterator[None]:
        """The lock earlier versions took for each JSONL append: set-up and take-over hold it."""
        from filelock import FileLock

        make_dirs(self.paths.locks)
        with FileLock(str(self.paths.lock("journal")), mode=0o600):
            yield

    def _set_up(self, conn: sqlite3.Connection) -> None:
        with self._lock():
            found = user_version(conn)
            if found == DB_VERSION:
                return  # another process did it while we waited
            if found > DB_VERSION:
                raise PinmanError(f"the journal {self.path} was written by a newer pinman",
                                  hint="upgrade pinman to read it")
            conn.execute("PRAGMA journal_mode = WAL")
            with transaction(conn):
                for statement in DDL:
                    conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {DB_VERSION}")
                point("journal.set_up")

    def _take_over(self, conn: sqlite3.Connection) -> None:
        """Import `journal.jsonl` once, then rename it aside (kept, never deleted)."""
        import hashlib

        with self._lock():
            raw = read_legacy(self.legacy)
            if raw is None:
                return  # another process took it over while we waited
            marker = "imported:" + hashlib.sha256(raw).hexdigest()
            if conn.execute("SELECT 1 FROM meta WHERE key = ?", (marker,)).fetchone() is None:
                secrets = secret_values()
                rows = [row(scrub(e.to_json(), secrets)) for e in map(parse, raw.splitlines()) if e]
                keep = keep_from_env() if self.keep is None else self.keep
                with transaction(conn):
                    self._insert(conn, rows, keep)
                    conn.execute("INSERT INTO meta (key, value) VALUES (?, ?)", (marker, time.time()))
                    point("journal.take_over", "imported")
            point("journal.take_over", "committed")
            os.rename(self.legacy, aside(self.legacy))

    def _failing(self, doing: str) -> Any:
        return failing(doing, self.path)


