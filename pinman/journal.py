"""Append-only record of checks, switches and rollbacks (JSON Lines), and what follows from it.

Each entry is one line appended under a file lock with a single `write` on an O_APPEND descriptor,
so concurrent pinman processes never interleave or lose lines. The file is never rewritten; a torn
last line (power loss) is skipped on read. Last known-good is derived per (profile, endpoint).

Never stored: API keys, tokens, auth headers. Endpoints are reduced to scheme://host:port and every
string is scrubbed of the secret values present in the environment before it is written.
"""

from __future__ import annotations

import json
import math
import os
import time
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator, Mapping
from urllib.parse import urlsplit

from pinman.errors import PinmanError, from_os_error
from pinman.faults import point
from pinman.fsutil import make_dirs
from pinman.paths import Paths

SCHEMA = 1
DEFAULT_ENDPOINT = "https://api.anthropic.com"


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
        """The entry a journal line holds; ValueError when a field has the wrong type (hand edits)."""
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
    out = float(value)  # OverflowError (an ArithmeticError) for a huge integer: caught by entries()
    if not math.isfinite(out):
        raise ValueError("not a finite number")
    return out


class Journal:
    def __init__(self, paths: Paths) -> None:
        self.paths = paths
        self.path = paths.journal

    def append(self, entry: Entry, environ: Mapping[str, str] | None = None) -> None:
        from filelock import FileLock

        doc = scrub(entry.to_json(), secret_values(environ))
        line = (json.dumps(doc, sort_keys=True, separators=(",", ":")) + "\n").encode()
        make_dirs(self.path.parent)
        make_dirs(self.paths.locks)
        with FileLock(str(self.paths.locks / "journal.lock"), mode=0o600):
            # O_NOFOLLOW: a symlink planted at the journal path is refused, not written through.
            try:
                fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW, 0o600)
                try:
                    point("journal.append", entry.event)
                    os.write(fd, line)
                    point("journal.written", entry.event)
                    os.fsync(fd)
                finally:
                    os.close(fd)
            except OSError as e:  # disk full, a planted symlink (O_NOFOLLOW), permissions
                known = from_os_error(e)
                raise (type(known) if known else PinmanError)(
                    f"cannot append to the journal {self.path}: {e.strerror or e}",
                    hint=known.hint if known else "check the path is a plain file") from None

    def entries(self) -> Iterator[Entry]:
        """Oldest first; unreadable lines (a torn write, hand edits) are skipped."""
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return
        for line in raw.splitlines():
            try:
                doc = json.loads(line)
                entry = Entry.from_json(doc) if isinstance(doc, dict) else None
            except (ValueError, TypeError, ArithmeticError, RecursionError):
                continue  # not JSON, wrong types, or nested deeper than Python parses
            if entry is not None:
                yield entry

    def history(self, profile: str | None = None, limit: int | None = None) -> list[Entry]:
        items = [e for e in self.entries() if profile is None or e.profile == profile]
        items.reverse()
        return items[:limit] if limit else items

    def verdicts(self, profile: str, endpoint: str) -> dict[str, Entry]:
        """version -> the latest check-like verdict (check/good/bad) for this profile and endpoint."""
        latest: dict[str, Entry] = {}
        for e in self.entries():
            if e.profile == profile and e.endpoint == endpoint and e.event in ("check", "good", "bad"):
                latest[e.version] = e
        return latest

    def last_known_good(self, profile: str, endpoint: str, exclude: Iterable[str] = ()) -> Entry | None:
        """The most recently verified version whose latest verdict here is still ok."""
        skip = set(exclude)
        good = [e for v, e in self.verdicts(profile, endpoint).items() if v not in skip and e.outcome == "ok"]
        return max(good, key=lambda e: e.ts, default=None)

    def known_bad(self, profile: str, endpoint: str) -> dict[str, Entry]:
        return {v: e for v, e in self.verdicts(profile, endpoint).items() if e.outcome == "schema"}

    def known_good_versions(self) -> set[str]:
        """Every version that is the last known-good of some (profile, endpoint): never pruned."""
        pairs = {(e.profile, e.endpoint) for e in self.entries() if e.endpoint}
        out: set[str] = set()
        for profile, endpoint in pairs:
            kg = self.last_known_good(profile, endpoint or "")
            if kg:
                out.add(kg.version)
        return out

    def last_check(self, profile: str) -> Entry | None:
        for e in self.history(profile):
            if e.event == "check":
                return e
        return None

