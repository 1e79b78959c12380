"""Each failure is acted on once, whichever hook hands it over first, and by a handler that lives.

StopFailure fires as the turn fails; the client does not wait for it and kills it when it exits,
which a `claude -p` run does at once. SessionEnd, which the client waits for, hands the same
failure over again from the transcript. The first handler to claim a failure's key (session and
failing entry, `transcript.failure_key`) acts and marks it done; another one waits while the
claimant runs, and takes the failure over if the claimant died before it was done (the client
can kill what its hooks started). Keys are kept for a day.

The two hooks do not always see the same transcript: StopFailure can fire before the client has
written the failed turn, and then its key names the prompt, not the entry. So a claim also holds
its session and the failure's time (the entry's, or the claim's own when the entry was not seen),
and a claim that did not see the entry names the same failure as a claim of that session at most
`SAME` seconds apart. Two claims that both saw their entry are one failure only by key.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

from pinman.autopilot.files import HookFiles
from pinman.state.fsutil import atomic_write, read_regular

KEEP = 86400.0  # seconds
WAIT = 900.0  # seconds a second handler waits for the claimant (a check probes two versions at most)
SAME = 15.0  # seconds between two claims of one session that are taken to name one failure
_MAX = 500


def claim(files: HookFiles, key: str, *, session: str | None = None, at: float | None = None,
          wait: float = WAIT, poll: float = 0.5) -> bool:
    """True when this handler is to act on `key` (the failure of `session` at time `at`); False when
    another one did (or still does after `wait` seconds)."""
    deadline = time.monotonic() + wait
    while True:
        state = _take_or_see(files, key, session, at)
        if state != "running" or time.monotonic() >= deadline:
            return state == "taken"
        time.sleep(poll)


def done(files: HookFiles, key: str) -> None:
    """The claimant finished with `key` (whatever it decided)."""
    with _lock(files):
        seen = _seen(files)
        if key in seen:
            seen[key]["done"] = True
            _save(files, seen)


def _take_or_see(files: HookFiles, key: str, session: str | None, at: float | None) -> str:
    """'taken' (now ours), 'done' (another handler acted) or 'running' (another one is at it)."""
    with _lock(files):
        now = time.time()  # taken under the lock: a claim saved while this one waited is not "future"
        seen = {k: v for k, v in _seen(files).items() if now - v["ts"] < KEEP}
        same = [v for k, v in seen.items() if k == key or _same_failure(v, session, at, now)]
        if any(v["done"] for v in same):
            return "done"
        if any(_alive(v["pid"]) for v in same):
            return "running"
        seen[key] = {"ts": now, "pid": os.getpid(), "done": False,  # new, or its claimant died
                     "session": session, "at": now if at is None else at, "exact": at is not None}
        _save(files, seen)
    return "taken"


def _same_failure(entry: dict[str, Any], session: str | None, at: float | None, now: float) -> bool:
    if session is None or entry["session"] != session or (at is not None and entry["exact"]):
        return False
    return abs(entry["at"] - (now if at is None else at)) <= SAME


def _lock(files: HookFiles) -> Any:
    from filelock import FileLock

    files.private(files.paths.locks)
    return FileLock(str(files.lock("handovers")), mode=0o600)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # another user's process: alive, and not ours to judge
    try:  # a zombie not yet reaped is gone for our purposes
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[-1].split()[0] != b"Z"
    except (OSError, IndexError):
        return True


def _save(files: HookFiles, seen: dict[str, dict[str, Any]]) -> None:
    newest = dict(sorted(seen.items(), key=lambda kv: kv[1]["ts"])[-_MAX:])
    atomic_write(files.handovers, json.dumps({"schema": 2, "seen": newest}) + "\n", mode=0o600)


def _seen(files: HookFiles) -> dict[str, dict[str, Any]]:
    try:
        doc = json.loads(read_regular(files.handovers, 1 << 20))
    except (OSError, ValueError, RecursionError):
        return {}
    seen = doc.get("seen") if isinstance(doc, dict) else None
    out: dict[str, dict[str, Any]] = {}
    for k, v in (seen.items() if isinstance(seen, dict) else []):
        if not isinstance(k, str) or not isinstance(v, dict):
            continue
        ts, pid = v.get("ts"), v.get("pid")
        if _number(ts) and isinstance(pid, int) and not isinstance(pid, bool) and 0 < pid < 1 << 31:
            session, at = v.get("session"), v.get("at")
            out[k] = {"ts": float(ts), "pid": pid, "done": v.get("done") is True,
                      "session": session if isinstance(session, str) else None,
                      "at": float(at) if _number(at) else float(ts), "exact": v.get("exact") is True}
    return out


def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and abs(v) < 1e12
