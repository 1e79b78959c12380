"""What the session transcript a hook payload names says about the failure: read with care.

The path comes from the payload, so it is read as data: a regular file only, never through a
symbolic link, without blocking (a FIFO), and only its last `TAIL` bytes (`/dev/zero`, a
multi-gigabyte file): `pinman.state.fsutil.read_regular`. Anything else reads as nothing.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from pinman.state.fsutil import read_regular

TAIL = 1 << 18  # bytes: the last entries of a session, whatever its length
_VERSION = re.compile(r"\d+\.\d+\.\d+\S*")


def entries(payload: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The JSON objects on the last lines of the payload's transcript, oldest first."""
    path = payload.get("transcript_path")
    if not isinstance(path, str) or not path or "\0" in path:
        return []
    try:
        tail = read_regular(path, TAIL, tail=True)
    except (OSError, ValueError):
        return []
    out = []
    for line in tail.splitlines():
        try:
            doc = json.loads(line)
        except (ValueError, RecursionError):
            continue  # the first line of a tail is usually cut
        if isinstance(doc, dict):
            out.append(doc)
    return out


def client_version(found: list[dict[str, Any]], environ: Mapping[str, str]) -> str | None:
    """The version of the client that wrote the transcript (its entries carry it)."""
    for doc in reversed(found):
        v = doc.get("version")
        if isinstance(v, str) and _VERSION.fullmatch(v):
            return v
    # The client names itself to its hooks as claude-code_2-1-331_… in some versions.
    m = re.match(r"claude-code_(\d+)-(\d+)-(\d+)", environ.get("AI_AGENT", ""))
    return ".".join(m.groups()) if m else None


def last_failure(found: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The session's last assistant entry when it is an API error (the turn ended on it)."""
    for doc in reversed(found):
        if doc.get("type") == "assistant":
            return doc if doc.get("isApiErrorMessage") is True else None
    return None


def failure_payload(payload: Mapping[str, Any], found: list[dict[str, Any]]) -> dict[str, Any] | None:
    """A SessionEnd payload as the StopFailure payload of the failure the session ended on."""
    doc = last_failure(found)
    if doc is None:
        return None
    message = doc.get("message")
    content = message.get("content") if isinstance(message, dict) else None
    texts = [c.get("text") for c in content if isinstance(c, dict)] if isinstance(content, list) else []
    text = "\n".join(t for t in texts if isinstance(t, str))
    error = doc.get("error")
    return {**payload, "hook_event_name": "StopFailure", "last_assistant_message": text,
            "error": error if isinstance(error, str) else "unknown"}


def failure_at(found: list[dict[str, Any]]) -> float | None:
    """When the failing entry was written (its `timestamp`), in seconds since the epoch."""
    from datetime import datetime

    doc = last_failure(found)
    stamp = doc.get("timestamp") if doc is not None else None
    if not isinstance(stamp, str) or len(stamp) > 64:
        return None
    try:
        return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def failure_key(payload: Mapping[str, Any], found: list[dict[str, Any]]) -> str | None:
    """Names one failure of one session, whichever hook hands it over (None: cannot tell)."""
    session = payload.get("session_id")
    if not isinstance(session, str) or not session:
        return None
    doc = last_failure(found)
    uuid = doc.get("uuid") if doc is not None else None
    if isinstance(uuid, str) and uuid:
        return f"{session}:{uuid}"
    prompt = payload.get("prompt_id")
    return f"{session}:{prompt}" if isinstance(prompt, str) and prompt else None
