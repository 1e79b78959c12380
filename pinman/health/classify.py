"""The classifier: one probe result in, one outcome out. Pure and table-driven.

Only `schema` ("the endpoint rejects what this client version sends") justifies a rollback; every
other outcome comes with advice saying why changing versions will not help.

Order of judgement:
1. the probe's own verdict: timed out, could not connect, or a good reply;
2. `RULES` (in `classify_rules`), matched against every message nested in the error (gateways wrap upstream errors:
   LiteLLM puts the upstream JSON in a string inside `error.message` and appends
   `Received Model Group=…`; Claude Code prints `API Error: 400 {...}`): schema rules first, then
   the 400s no version change fixes (`client`);
3. the API error type, then the HTTP status (`ERROR_TYPES`, `STATUSES`);
4. `FALLBACK_RULES`: the client's reworded texts when no status survived (Claude Code 1.x reports
   none: "Invalid API key · Fix external API key", "Credit balance is too low", …; 2.x with no
   credentials at all: "Not logged in · Please run /login").

Billing: a low credit balance arrives as a 400 `invalid_request_error`, and Claude Code rewords it
to "Credit balance is too low"; it is `client` (a 400 no version change fixes), like "prompt is too
long". `billing` is kept for what the API itself labels billing: HTTP 402 / `billing_error`.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterable, Iterator
from typing import Any

from pinman.health.classify_rules import ERROR_TYPES, FALLBACK_RULES, RULES, STATUSES, Rule
from pinman.health.outcome import ADVICE, Kind, Outcome
from pinman.health.result import ProbeResult
from pinman.health.result import scrub


# Statuses that are never a schema problem, whatever the body says.
_NOT_SCHEMA_STATUSES = frozenset({401, 402, 403, 429, 529})
# The API's error types for those statuses: a stream's `error` event carries the type, its HTTP
# status is the 200 the stream began with.
_NOT_SCHEMA_TYPES = frozenset({"authentication_error", "billing_error", "permission_error", "rate_limit_error",
                               "overloaded_error"})


_STATUS_IN_TEXT = (
    re.compile(r"API Error:\s*(\d{3})\b"),
    re.compile(r"Request rejected \((\d{3})\)"),
    re.compile(r"\bHTTP (\d{3})\b"),
)
_GATEWAY_TRAILER = re.compile(r"\.?\s*Received Model Group=.*$", re.DOTALL)
_MESSAGE_KEYS = frozenset({"message", "description", "detail", "msg", "error", "result", "reason"})
_MAX_DEPTH = 6


def classify(result: ProbeResult, secrets: Iterable[str] = ()) -> Outcome:
    """What happened, in one word, with the field or beta to blame when it is a schema error.

    The probe scrubbed `secrets` from the raw text, but judging decodes the JSON nested in it,
    and a key the endpoint echoed `\\u`-escaped is plain again once decoded: what comes out is
    scrubbed again, after judging (pass the secrets of the env the probe ran with).
    """
    return _scrub_outcome(_judge(result), list(secrets))


def _scrub_outcome(outcome: Outcome, secrets: list[str]) -> Outcome:
    from dataclasses import replace


    rejected = scrub(outcome.rejected, secrets) if outcome.rejected else outcome.rejected
    return replace(outcome, message=scrub(outcome.message, secrets), rejected=rejected,
                   advice=scrub(outcome.advice, secrets))


def _judge(result: ProbeResult) -> Outcome:
    if result.timed_out:
        return _outcome(Kind.TIMEOUT, result.status, result.message or "timed out")
    if result.network_error:
        return _outcome(Kind.NETWORK, None, f"cannot connect: {result.network_error}")
    if _succeeded(result):
        return _outcome(Kind.OK, result.status, _shorten(result.message) or "ok")

    texts = layers(result.message or result.raw)
    status = result.status or _status_in(texts)
    if status not in _NOT_SCHEMA_STATUSES and result.error_type not in _NOT_SCHEMA_TYPES:
        hit = _first_match(RULES, texts, status)
        if hit:
            return _from_rule(*hit, status)

    kind = ERROR_TYPES.get(result.error_type or "") or _status_kind(status)
    if kind is not None:
        return _outcome(kind, status, _describe(texts[0] if texts else "", status))

    hit = _first_match(FALLBACK_RULES, texts, status)
    if hit:
        return _from_rule(*hit, status)
    text = texts[0] if texts else f"claude exited with {result.exit_code}"
    return _outcome(Kind.UNKNOWN, status, _describe(text, status))


def _succeeded(r: ProbeResult) -> bool:
    if r.is_error is not None:
        return not r.is_error
    # Built without a verdict: judge by exit code and status alone.
    return r.exit_code in (0, None) and r.error_type is None and (r.status or 200) < 400


def _status_kind(status: int | None) -> Kind | None:
    if status is None:
        return None
    if status in STATUSES:
        return STATUSES[status]
    return Kind.SERVER if status >= 500 else None


def _status_in(texts: list[str]) -> int | None:
    for text in texts:
        for pat in _STATUS_IN_TEXT:
            m = pat.search(text)
            if m:
                return int(m.group(1))
    return None


def _first_match(
    rules: tuple[Rule, ...], texts: list[str], status: int | None
) -> tuple[Rule, re.Match[str], str] | None:
    for rule in rules:
        if not rule.applies(status):
            continue
        for text in texts:  # deepest first: the upstream's own words name the field cleanly
            m = rule.pattern.search(text)
            if m:
                return rule, m, text
    return None


def _from_rule(rule: Rule, m: re.Match[str], text: str, status: int | None) -> Outcome:
    rejected = rule.rejected(m) if rule.rejected else m.groupdict().get("rejected")
    return _outcome(
        rule.kind,
        status,
        _describe(text, status),
        rejected=rejected,
        advice=rule.advice,
        rule=rule.name,
    )


def _outcome(
    kind: Kind,
    status: int | None,
    message: str,
    *,
    rejected: str | None = None,
    advice: str | None = None,
    rule: str | None = None,
) -> Outcome:
    rejected = _printable(rejected) if rejected else None
    return Outcome(kind, status, rejected or None, _printable(message), advice or ADVICE[kind], rule)


def _printable(text: str) -> str:
    """What an endpoint said, fit for a terminal and a UTF-8 file: control characters (a terminal
    escape, a NUL) and lone surrogates (from a JSON "\\ud800") become U+FFFD."""
    if text.isprintable():
        return text
    return "".join("\ufffd" if unicodedata.category(c) in ("Cc", "Cs") else c for c in text)


def _describe(text: str, status: int | None) -> str:
    """`400 output_config: Extra inputs are not permitted`, from whatever layer said it."""
    text = _GATEWAY_TRAILER.sub("", text)
    text = re.sub(r"^API Error:\s*(?:\d{3}\b)?\s*", "", text.strip())
    text = _shorten(text)
    if status and status >= 400 and not text.startswith(str(status)):
        text = f"{status} {text}".strip()
    return text


def _shorten(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


# -- unwrapping ----------------------------------------------------------------------------------
def layers(text: str) -> list[str]:
    """Every message nested in `text`, deepest first, the text itself last.

    A gateway error is an onion: `API Error: 400 {"error":{"message":"litellm.BadRequestError:
    AnthropicException - {\\"type\\":\\"error\\",…\\"message\\":\\"thinking: Extra inputs…\\"}…"}}`.
    Each JSON object found in a string contributes its message-like strings as a deeper layer.
    """
    found: list[tuple[int, str]] = []
    seen: set[str] = set()

    def walk(s: str, depth: int) -> None:
        if not s or s in seen or depth > _MAX_DEPTH:
            return
        seen.add(s)
        found.append((depth, s))
        for obj in _json_objects(s):
            for inner in _message_strings(obj):
                walk(inner, depth + 1)

    walk(text, 0)
    found.sort(key=lambda item: -item[0])  # stable: same-depth layers keep their order
    return [s for _, s in found]


def _json_objects(text: str) -> Iterator[Any]:
    decoder = json.JSONDecoder()
    pos = text.find("{")
    tries = 0
    while pos != -1 and tries < 50:
        tries += 1
        try:
            obj, end = decoder.raw_decode(text, pos)
        except (ValueError, RecursionError):
            pos = text.find("{", pos + 1)  # maybe a well-formed object starts further in
            continue
        yield obj
        pos = text.find("{", end)


def _message_strings(obj: Any) -> Iterator[str]:
    if isinstance(obj, dict):
        for k, v in obj.items():
            if isinstance(v, str) and k in _MESSAGE_KEYS:
                yield v
            elif isinstance(v, (dict, list)):
                yield from _message_strings(v)
    elif isinstance(obj, list):
        for item in obj:
            yield from _message_strings(item)
