"""The classifier's tables: which error texts, API error types and HTTP statuses mean which kind.

`RULES` are matched against every message nested in an error, schema rules first, then the 400s no
version change fixes (`client`); `ERROR_TYPES` and `STATUSES` judge what a known status says;
`FALLBACK_RULES` read the client's reworded texts when no status survived. A rule names what was
rejected (the field path or beta) when the endpoint's words let it.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from pinman.health.outcome import NO_VERSION_FIX, Kind
from pinman.record import record


@record
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


def _pydantic_loc(m: re.Match[str]) -> str | None:
    # ["body", "tools", 3, "defer_loading"] -> "tools.3.defer_loading"
    parts = [p.strip().strip('\\"').strip("'") for p in (m.group("loc") or m.group("loc2") or "").split(",")]
    parts = [p for p in parts if p]
    return ".".join(parts[1:] if parts[:1] == ["body"] else parts) or None


def _schema_names(m: re.Match[str]) -> str:
    # "'a', 'b'" -> "a, b"
    return m.group("name") or ", ".join(re.findall(r"'([^']+)'", m.group("names")))


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
    # A FastAPI/pydantic gateway forbidding extra fields (a 422): {"detail": [{"type":
    # "extra_forbidden", "loc": ["body", "thinking"], "msg": "Extra inputs are not permitted", …}]}
    _rule(
        "pydantic_extra_forbidden",
        Kind.SCHEMA,
        r'\\?"loc\\?"\s*:\s*\[(?P<loc>[^\]]*)\][^{}]{0,200}?(?:extra_forbidden|Extra inputs are not permitted)'
        r'|extra_forbidden\\?"[^{}]{0,200}?\\?"loc\\?"\s*:\s*\[(?P<loc2>[^\]]*)\]',
        _pydantic_loc,
    ),
    # JSON Schema validators: Python's jsonschema "Additional properties are not allowed ('thinking'
    # was unexpected)"; ajv's "must NOT have additional properties" with params.additionalProperty.
    _rule(
        "jsonschema_additional",
        Kind.SCHEMA,
        r"Additional properties are not allowed \((?P<names>'[^)]*?')\s+(?:was|were) unexpected\)"
        r'|additionalProperty\\?"\s*:\s*\\?"(?P<name>[^"\\]+)',
        _schema_names,
    ),
    # OpenAI's newer wording, "Unknown parameter: 'thinking'.", and serde's "unknown field `thinking`".
    _rule(
        "unknown_parameter",
        Kind.SCHEMA,
        r"Unknown parameter:?\s*'(?P<p1>[\w.\[\]\-]+)'|unknown field `(?P<p2>[^`]+)`",
        lambda m: m.group("p1") or m.group("p2"),
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
