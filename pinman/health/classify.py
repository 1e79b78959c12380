"""The classifier: one probe result in, one outcome out. Pure and table-driven.

Only `schema` ("the endpoint rejects what this client version sends") justifies a rollback; every
other outcome comes with advice saying why changing versions will not help.

Order of judgement:
1. the probe's own verdict: timed out, could not connect, or a good reply;
2. `RULES`, matched against every message nested in the error (gateways wrap upstream errors:
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
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from pinman.health.result import ProbeResult


class Kind(StrEnum):
    OK = "ok"
    SCHEMA = "schema"
    AUTH = "auth"
    PERMISSION = "permission"
    BILLING = "billing"
    RATE_LIMIT = "rate_limit"
    OVERLOADED = "overloaded"
    SERVER = "server"
    TIMEOUT = "timeout"
    NETWORK = "network"
    CLIENT = "client"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Outcome:
    kind: Kind
    status: int | None
    rejected: str | None  # the field path or beta named in the error, when it can be named
    message: str  # short human message
    advice: str  # one line: what to do
    rule: str | None = None  # which table entry decided (for diagnostics and tests)


NO_VERSION_FIX = "changing versions will not help"

ADVICE: dict[Kind, str] = {
    Kind.OK: "",
    Kind.SCHEMA: "the endpoint rejects what this version sends; roll back to the last known-good",
    Kind.AUTH: f"check ANTHROPIC_API_KEY / ANTHROPIC_AUTH_TOKEN; {NO_VERSION_FIX}",
    Kind.PERMISSION: f"the key may not use this model or resource; {NO_VERSION_FIX}",
    Kind.BILLING: f"fix billing for this account; {NO_VERSION_FIX}",
    Kind.RATE_LIMIT: f"rate limited: wait and check again; {NO_VERSION_FIX}",
    Kind.OVERLOADED: f"endpoint overloaded; {NO_VERSION_FIX}",
    Kind.SERVER: f"endpoint error: try again later; {NO_VERSION_FIX}",
    Kind.TIMEOUT: "no answer in time: check the endpoint, or raise [health] timeout",
    Kind.NETWORK: f"cannot reach the endpoint: check ANTHROPIC_BASE_URL; {NO_VERSION_FIX}",
    Kind.CLIENT: f"the endpoint refused this request for a reason of its own; {NO_VERSION_FIX}",
    Kind.UNKNOWN: "unrecognised failure: read the message; no automatic rollback",
}

# Statuses that are never a schema problem, whatever the body says.
_NOT_SCHEMA_STATUSES = frozenset({401, 402, 403, 429, 529})
# The API's error types for those statuses: a stream's `error` event carries the type, its HTTP
# status is the 200 the stream began with.
_NOT_SCHEMA_TYPES = frozenset({"authentication_error", "billing_error", "permission_error", "rate_limit_error",
                               "overloaded_error"})


@dataclass(frozen=True)
class Rule:
    name: str
    kind: Kind
    pattern: re.Pattern[str]
    # How to name what was rejected: None -> the pattern's `rejected` group, if it has one.
    rejected: Callable[[re.Match[str]], str | None] | None = None
    advice: str | None = None
    statuses: frozenset[int] | None = None  # only with these statuses (or none known)

    def applies(self, status: int | None) -> bool:
        return self.statuses is None or status is None or status in self.statuses


def _rule(
    name: str,
    kind: Kind,
    pattern: str,
    rejected: Callable[[re.Match[str]], str | None] | None = None,
    advice: str | None = None,
    statuses: frozenset[int] | None = None,
) -> Rule:
    flags = re.IGNORECASE | re.DOTALL
    return Rule(name, kind, re.compile(pattern, flags), rejected, advice, statuses)


def _betas(m: re.Match[str]) -> str:
    # "`a`, `b`" or "a, b" (some gateways drop the backticks) -> "a, b"
    return ", ".join(re.findall(r"[\w.\-]+", m.group("values")))


def _bedrock_key(m: re.Match[str]) -> str:
    # "#/tools/3: extraneous key [defer_loading]" -> "tools.3.defer_loading"
    parts = [p for p in (m.group("path") or "").split("/") if p]
    return ".".join([*parts, m.group("key")])


def _vertex_name(m: re.Match[str]) -> str:
    at = m.group("at")
    return f"{at}.{m.group('name')}" if at else m.group("name")


RULES: tuple[Rule, ...] = (
    # Anthropic API (and Vertex / Bedrock passing its validator's words through):
    # "output_config.effort: Extra inputs are not permitted", "tools.3.custom.defer_loading: …"
    _rule(
        "extra_inputs",
        Kind.SCHEMA,
        r"(?P<rejected>[A-Za-z_][\w.\[\]\-]*)\s*:\s*Extra inputs are not permitted",
    ),
    # "Unexpected value(s) `effort-2025-11-24` for the `anthropic-beta` header. Please consult…"
    _rule(
        "unexpected_beta",
        Kind.SCHEMA,
        r"Unexpected value\(s\)\s+(?P<values>.+?)\s+for the `?anthropic-beta`? header",
        _betas,
    ),
    # Bedrock ValidationException: "Malformed input request: #: extraneous key [context_management]
    # is not permitted, please reformat your input and try again."
    _rule(
        "bedrock_extraneous_key",
        Kind.SCHEMA,
        r"#(?P<path>/[^\s:#]*)?:\s*extraneous key \[(?P<key>[^\]]+)\] is not permitted",
        _bedrock_key,
    ),
    # Bedrock ValidationException for a beta it does not know; it does not say which.
    _rule("bedrock_invalid_beta", Kind.SCHEMA, r"invalid beta flag"),
    # "tools.12: Input tag 'web_search_20250305' found using 'type' does not match any of the
    # expected tags: 'bash_20250124', 'custom', …" (a tool or block type the endpoint lacks)
    _rule(
        "input_tag",
        Kind.SCHEMA,
        r"Input tag '(?P<rejected>[^']+)' found using 'type' does not match any of the expected",
    ),
    # Vertex (Google front end), INVALID_ARGUMENT: 'Invalid JSON payload received. Unknown name
    # "context_management": Cannot find field.' or '… Unknown name "id" at 'contents[3].parts[1]'…'
    _rule(
        "vertex_unknown_name",
        Kind.SCHEMA,
        r"Invalid JSON payload received\.\s*Unknown name \\?\"(?P<name>[^\"\\]+)\\?\""
        r"(?:\s+at\s+'(?P<at>[^']+)')?",
        _vertex_name,
    ),
    # OpenAI-style gateways (Azure, some proxies): "Unrecognized request argument supplied: x"
    _rule(
        "unrecognized_argument",
        Kind.SCHEMA,
        r"Unrecognized request arguments? supplied:\s*(?P<rejected>[\w.\-]+(?:,\s*[\w.\-]+)*)",
    ),
    # 400s that no version change fixes.
    _rule(
        "credit_balance",
        Kind.CLIENT,
        r"credit balance is too low",
        advice=f"add credits (Plans & Billing) or use another key; {NO_VERSION_FIX}",
    ),
    _rule(
        "usage_limit",
        Kind.CLIENT,
        r"usage limits?\b[^.]{0,40}\b(?:reached|exceeded)"
        r"|reached your specified (?:API )?usage limits",
        advice=f"usage limit reached: wait for the reset or raise the limit; {NO_VERSION_FIX}",
    ),
    _rule(
        "prompt_too_long",
        Kind.CLIENT,
        r"prompt is too long",
        advice=f"the probe prompt is too long here: shorten [health] prompt; {NO_VERSION_FIX}",
    ),
    _rule(
        "request_too_large",
        Kind.CLIENT,
        r"request_too_large|request (?:entity )?too large"
        r"|exceeds the maximum (?:allowed )?(?:request size|size|number of bytes)",
        advice=f"request too large for this endpoint; {NO_VERSION_FIX}",
    ),
    # The API's 404 says "model: claude-opus-5-5"; LiteLLM's 400 "Invalid model name passed in
    # model=…". A newer client may default to a newer model, but the fix is ANTHROPIC_MODEL.
    _rule(
        "model_not_found",
        Kind.CLIENT,
        r"^model:\s*(?P<m1>[\w.:@/\-]+)$|Invalid model name passed in model=(?P<m2>[\w.:@/\-]+)",
        lambda m: (m.group("m1") or m.group("m2")).rstrip("."),
        advice="the endpoint does not serve this model: set ANTHROPIC_MODEL to one it serves",
        statuses=frozenset({400, 404}),
    ),
)

# The API's own error types, then HTTP statuses.
ERROR_TYPES: dict[str, Kind] = {
    "authentication_error": Kind.AUTH,
    "permission_error": Kind.PERMISSION,
    "billing_error": Kind.BILLING,
    "rate_limit_error": Kind.RATE_LIMIT,
    "overloaded_error": Kind.OVERLOADED,
    "api_error": Kind.SERVER,
    "timeout_error": Kind.TIMEOUT,
    "request_too_large": Kind.CLIENT,
    "not_found_error": Kind.CLIENT,
}
STATUSES: dict[int, Kind] = {
    401: Kind.AUTH,
    402: Kind.BILLING,
    403: Kind.PERMISSION,
    404: Kind.CLIENT,
    408: Kind.TIMEOUT,
    413: Kind.CLIENT,
    429: Kind.RATE_LIMIT,
    504: Kind.TIMEOUT,
    529: Kind.OVERLOADED,
}

# Claude Code's reworded messages, used when no status or type came through.
FALLBACK_RULES: tuple[Rule, ...] = (
    _rule(
        "auth_text",
        Kind.AUTH,
        r"Invalid API key|invalid x-api-key|invalid bearer token"
        r"|OAuth token (?:has expired|revoked)"
        r"|authentication_error|Failed to authenticate",
    ),
    # Claude Code 2.x with no key and no login (`api_error_status` null): nothing was sent.
    _rule(
        "not_logged_in",
        Kind.AUTH,
        r"\bNot logged in\b|Please run /login",
        advice="no credentials reached the client: set ANTHROPIC_API_KEY (or ANTHROPIC_AUTH_TOKEN) "
        f"where pinman runs, or run `claude` and /login; {NO_VERSION_FIX}",
    ),
    _rule("permission_text", Kind.PERMISSION, r"permission_error|does not have permission"),
    _rule("overloaded_text", Kind.OVERLOADED, r"\bOverloaded\b|overloaded_error"),
    _rule("rate_limit_text", Kind.RATE_LIMIT, r"rate_limit_error|\brate limit"),
    _rule("timeout_text", Kind.TIMEOUT, r"Request timed out|\bETIMEDOUT\b|\btimed out\b"),
    _rule(
        "network_text",
        Kind.NETWORK,
        r"Connection error|Connection refused|ECONNREFUSED|ECONNRESET|ENOTFOUND|EAI_AGAIN"
        r"|Can't reach the API server|getaddrinfo|socket hang up|UNABLE_TO_VERIFY|self[- ]signed",
    ),
    _rule(
        "malformed_response",
        Kind.SERVER,
        r"empty or malformed response|malformed response",
        advice=f"the endpoint (or a proxy before it) did not answer like the API; {NO_VERSION_FIX}",
    ),
)

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

    from pinman.health.result import scrub

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
