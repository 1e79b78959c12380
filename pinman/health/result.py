"""What a health probe reports: one `ProbeResult` whichever probe asked, with every secret scrubbed.

Probes never raise for what the endpoint did (that is data for `pinman.health.classify`); they raise
`HealthError` only when the probe itself cannot run. Every string in a `ProbeResult` has the key and
token values from the environment scrubbed out, so results are safe to journal and print.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import fields, replace
from typing import Any
from pinman.redact import REDACTED  # noqa: F401 - the marker, as results show it
from pinman.redact import scrub as _scrub_text
from pinman.redact import secret_values as values
from pinman.record import record

DEFAULT_PROMPT = "Reply with the single word OK."
DEFAULT_MODEL = "claude-sonnet-4-5"  # probe_http only; ANTHROPIC_MODEL in the env wins

_MESSAGE_MAX = 2000
RAW_MAX = 4000


@record(frozen=False)
class ProbeResult:
    probe: str  # "cli" | "http" | "sdk"
    exit_code: int | None
    status: int | None  # HTTP status if known
    error_type: str | None  # API error type if known
    message: str  # result text / error message (short, no secrets)
    duration: float
    timed_out: bool = False
    network_error: str | None = None
    raw: str = ""  # tail of stdout/stderr for diagnostics, secrets scrubbed
    # What the client itself said: `is_error` from claude's JSON, or "not a usable reply" for HTTP.
    # None means unknown; the classifier then judges by exit code and status alone.
    is_error: bool | None = None
    sdk_version: str | None = None  # probe_sdk: the `anthropic` version that sent the request


@record
class Waiting:
    """A CLI probe still waiting for the client's answer (for a live line on a terminal)."""

    version: str
    endpoint: str  # scheme://host:port
    elapsed: float  # seconds since the client started
    timeout: float
    done: bool = False  # the probe is over: clear the line


def secret_values(env: Mapping[str, str]) -> list[str]:
    """Values in `env` that must never appear in output, longest first (none half-scrubbed)."""

    return values(env)


def scrub(text: str, secrets: Iterable[str]) -> str:
    """Every secret out of `text`, in every encoding `pinman.redact.scrub` knows."""
    return _scrub_text(text, secrets)


def scrubbed(result: ProbeResult, secrets: list[str]) -> ProbeResult:
    changes: dict[str, Any] = {}
    for f in fields(result):
        value = getattr(result, f.name)
        if isinstance(value, str):
            changes[f.name] = scrub(value, secrets)
    return replace(result, **changes)


def tail(text: str, limit: int) -> str:
    return text if len(text) <= limit else "…" + text[-limit:]


def short(text: str, limit: int = _MESSAGE_MAX) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[:limit] + "…"


def result_json(stdout: str) -> dict[str, Any] | None:
    """claude prints one JSON object; tolerate warnings printed before it."""
    candidates = [stdout.strip()] + [
        ln for ln in reversed(stdout.splitlines()) if ln.startswith("{")
    ]
    for text in candidates:
        try:
            obj = json.loads(text)
        except (ValueError, RecursionError):  # nested too deeply to parse
            continue
        if isinstance(obj, dict):
            return obj
    return None


def error_result(
    probe: str,
    message: str,
    duration: float,
    *,
    exit_code: int | None = None,
    status: int | None = None,
    error_type: str | None = None,
    raw: str = "",
    timed_out: bool = False,
    network_error: str | None = None,
) -> ProbeResult:
    return ProbeResult(
        probe,
        exit_code,
        status,
        error_type,
        message,
        duration,
        timed_out=timed_out,
        network_error=network_error,
        raw=raw,
        is_error=True,
    )


def reply_result(probe: str, text: str, duration: float, status: int, raw: str) -> ProbeResult:
    return ProbeResult(probe, None, status, None, short(text), duration, raw=raw, is_error=False)
