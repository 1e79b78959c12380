"""Each failure is acted on once, whichever hook hands it over first.

StopFailure fires as the turn fails; the client does not wait for it and kills it when it exits,
which a `claude -p` run does at once. SessionEnd, which the client waits for, hands the same
failure over again from the transcript. The first handler to claim a failure's key (session and
failing entry, `transcript.failure_key`) acts; the other only logs. Keys are kept for a day.
"""

from __future__ import annotations

import json
import time

from pinman.autopilot.files import HookFiles
from pinman.state.fsutil import atomic_write, read_regular

KEEP = 86400.0  # seconds
_MAX = 500


def claim(files: HookFiles, key: str, now: float | None = None) -> bool:
    """True for the first claim of `key`; False when a handler already took it."""
    from filelock import FileLock

    now = time.time() if now is None else now
    files.private(files.paths.locks)
    with FileLock(str(files.lock("handovers")), mode=0o600):
        seen = {k: t for k, t in _seen(files).items() if 0 <= now - t < KEEP}
        if key in seen:
            return False
        seen[key] = now
        newest = dict(sorted(seen.items(), key=lambda kv: kv[1])[-_MAX:])
        atomic_write(files.handovers, json.dumps({"schema": 1, "seen": newest}) + "\n", mode=0o600)
    return True


def _seen(files: HookFiles) -> dict[str, float]:
    try:
        doc = json.loads(read_regular(files.handovers, 1 << 20))
    except (OSError, ValueError, RecursionError):
        return {}
    seen = doc.get("seen") if isinstance(doc, dict) else None
    if not isinstance(seen, dict):
        return {}
    return {k: float(v) for k, v in seen.items()
            if isinstance(k, str) and isinstance(v, (int, float)) and not isinstance(v, bool) and abs(v) < 1e12}
