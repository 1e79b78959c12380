"""The fake API's good answers: a Messages reply (whole, or as the SSE stream the real API sends),
a token count, the model list. A stream can be made to end in an `error` event, as a failing one
does on the real API.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

from pinman.fingerprint.fake_wordings import error_body


def message(body: Any, text: str) -> dict[str, Any]:
    model = body.get("model") if isinstance(body, dict) else None
    return {
        "id": f"msg_fake_{uuid.uuid4().hex[:24]}",
        "type": "message",
        "role": "assistant",
        "model": model or "claude-sonnet-4-5-20250929",
        "content": [{"type": "text", "text": text}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {
            "input_tokens": estimate_tokens(body),
            "output_tokens": max(1, len(text) // 4),
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
        },
    }


def estimate_tokens(body: Any) -> int:
    # Roughly four characters a token, like the real tokenizer on English text.
    return max(1, len(json.dumps(body)) // 4) if body is not None else 1


def _sse(event: str, data: dict[str, Any]) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data)}\n\n".encode()


def sse_events(body: Any, text: str, *, fail: bool) -> Iterator[bytes]:
    msg = message(body, "")
    msg["content"] = []
    msg["stop_reason"] = None
    msg["usage"]["output_tokens"] = 1
    yield _sse("message_start", {"type": "message_start", "message": msg})
    yield _sse(
        "content_block_start",
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
    )
    yield _sse("ping", {"type": "ping"})
    if fail:
        # The real API ends a failing stream with an `error` event and no message_stop.
        yield _sse("error", error_body("overloaded_error", "Overloaded"))
        return
    yield _sse(
        "content_block_delta",
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": text}},
    )
    yield _sse("content_block_stop", {"type": "content_block_stop", "index": 0})
    yield _sse(
        "message_delta",
        {
            "type": "message_delta",
            "delta": {"stop_reason": "end_turn", "stop_sequence": None},
            "usage": {"output_tokens": max(1, len(text) // 4)},
        },
    )
    yield _sse("message_stop", {"type": "message_stop"})


def models() -> dict[str, Any]:
    found = [
        ("claude-sonnet-4-5-20250929", "Claude Sonnet 4.5", "2025-09-29T00:00:00Z"),
        ("claude-haiku-4-5-20251001", "Claude Haiku 4.5", "2025-10-01T00:00:00Z"),
        ("claude-opus-4-1-20250805", "Claude Opus 4.1", "2025-08-05T00:00:00Z"),
    ]
    data = [{"type": "model", "id": i, "display_name": n, "created_at": c} for i, n, c in found]
    return {"data": data, "has_more": False, "first_id": data[0]["id"], "last_id": data[-1]["id"]}
