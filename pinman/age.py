"""How long ago something happened, said the way people say it ("3 minutes ago")."""

from __future__ import annotations

import time


def ago(ts: float, now: float | None = None) -> str:
    secs = max(0.0, (time.time() if now is None else now) - ts)
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if secs >= size:
            n = int(secs // size)
            return f"{n} {unit}{'s' if n != 1 else ''} ago"
    return "just now"
