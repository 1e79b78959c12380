"""What the fake API keeps of each request it sees: parsed, with its secrets redacted.

`RecordedRequest` is one request (method, path, query, headers with `x-api-key`, `authorization`
and cookies replaced by `<redacted>`, body keys and key paths, betas, the parsed body). Tests read
them from `FakeAPI.requests`; `key_paths` is shared with the recording proxy.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import field
from typing import Any

from pinman.record import record
from urllib.parse import parse_qsl, urlsplit

REDACTED = "<redacted>"
SECRET_HEADERS = frozenset({"x-api-key", "authorization", "proxy-authorization", "cookie"})


@record(frozen=False)
class RecordedRequest:
    """One request as the server saw it; secrets are already redacted."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # lower-cased names; x-api-key / authorization -> "<redacted>"
    keys: list[str]  # top-level body keys, sorted
    key_paths: list[str]  # every nested key path, list indices folded to `*`, sorted
    betas: list[str]  # `anthropic-beta` split on commas, in order
    user_agent: str
    body: Any = None  # parsed JSON body (None if absent or not JSON)
    time: float = field(default_factory=time.time)


def key_paths(value: Any, prefix: str = "") -> set[str]:
    """Every key path in a JSON value: `a`, `a.b`, `tools.*.name` (list indices become `*`)."""
    out: set[str] = set()
    if isinstance(value, dict):
        for k, v in value.items():
            p = f"{prefix}.{k}" if prefix else str(k)
            out.add(p)
            out |= key_paths(v, p)
    elif isinstance(value, list):
        p = f"{prefix}.*" if prefix else "*"
        for item in value:
            out |= key_paths(item, p)
    return out


def parse_request(method: str, target: str, headers: Mapping[str, str], raw: bytes) -> RecordedRequest:
    """What is kept of one request; `headers` may hold secrets, which never reach the record."""
    body: Any = None
    if raw:
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
    split = urlsplit(target)
    kept = {k.lower(): (REDACTED if k.lower() in SECRET_HEADERS else v) for k, v in headers.items()}
    betas = [b.strip() for b in (kept.get("anthropic-beta") or "").split(",") if b.strip()]
    return RecordedRequest(
        method=method,
        path=split.path,
        query=dict(parse_qsl(split.query)),
        headers=kept,
        keys=sorted(body) if isinstance(body, dict) else [],
        key_paths=sorted(key_paths(body)),
        betas=betas,
        user_agent=kept.get("user-agent", ""),
        body=body,
    )


def presented_key(headers: Any) -> str | None:
    """The key a request carries, as `x-api-key` or a bearer token (for `require_key`)."""
    key: str | None = headers.get("x-api-key")
    auth: str = headers.get("authorization") or ""
    if key is None and auth.lower().startswith("bearer "):
        key = auth[7:].strip()
    return key
