"""Every classifier rule, on error bodies shaped like the real ones (API, Bedrock, Vertex, LiteLLM,
and Claude Code's own wording as printed by 1.0.100 and 2.1.331)."""

from __future__ import annotations

import json
from typing import Any, NamedTuple

import pytest

from pinman.health.outcome import ADVICE, Kind
from pinman.health.classify_rules import FALLBACK_RULES, RULES
from pinman.health.classify import classify, layers
from pinman.fingerprint.fakeapi import error_body, litellm_wrap
from pinman.health.result import ProbeResult
from pinman.health.cli_probe import result_from_cli
from pinman.health.http_probe import result_from_http


def http(status: int, body: Any) -> ProbeResult:
    """What probe_http makes of this answer."""
    text = body if isinstance(body, str) else json.dumps(body)
    return result_from_http(status, text, duration=0.1)


def cli(message: str, status: int | None = None, etype: str | None = None) -> ProbeResult:
    """What probe_cli makes of claude's JSON when it reports an API error (exit 1)."""
    out = {"type": "result", "subtype": "success", "is_error": True, "result": message}
    if status is not None or etype is not None:  # 1.0.100 has neither field; 2.x has both
        out |= {"api_error_status": status, "api_error_type": etype}
    return result_from_cli(json.dumps(out), "", 1, duration=0.5)


def anthropic(message: str, etype: str = "invalid_request_error") -> dict[str, Any]:
    return error_body(etype, message)


class Case(NamedTuple):
    id: str
    result: ProbeResult
    kind: Kind
    rejected: str | None
    rule: str | None


BETA_MSG = (
    "Unexpected value(s) `effort-2025-11-24` for the `anthropic-beta` header. Please consult our "
    "documentation at docs.anthropic.com or try again without the header."
)

SCHEMA_CASES = [
    Case(
        "api-context_management",
        http(
            400,
            anthropic("context_management: Extra inputs are not permitted")
            | {"request_id": "req_vrtx_011CYSfBejG6JC8wpMay8JFs"},
        ),
        Kind.SCHEMA,
        "context_management",
        "extra_inputs",
    ),
    Case(
        "vertex-output_config.effort",
        http(400, anthropic("output_config.effort: Extra inputs are not permitted")),
        Kind.SCHEMA,
        "output_config.effort",
        "extra_inputs",
    ),
    Case(
        "cc1-tools-defer_loading",
        cli(
            'API Error: 400 {"type":"error","error":{"type":"invalid_request_error","message":'
            '"tools.3.custom.defer_loading: Extra inputs are not permitted"}}'
        ),
        Kind.SCHEMA,
        "tools.3.custom.defer_loading",
        "extra_inputs",
    ),
    Case(
        "cc2-thinking",  # 2.1.331 against strict mode, verbatim
        cli(
            "API Error: 400 thinking: Extra inputs are not permitted", 400, "invalid_request_error"
        ),
        Kind.SCHEMA,
        "thinking",
        "extra_inputs",
    ),
    Case(
        "cc2-nested-messages",
        cli(
            "API Error: 400 messages.1.output_config: Extra inputs are not permitted",
            400,
            "invalid_request_error",
        ),
        Kind.SCHEMA,
        "messages.1.output_config",
        "extra_inputs",
    ),
    Case(
        "api-beta",
        http(400, anthropic(BETA_MSG)),
        Kind.SCHEMA,
        "effort-2025-11-24",
        "unexpected_beta",
    ),
    Case(
        "cc1-beta",
        cli(
            "API Error: 400 "
            + json.dumps(anthropic(BETA_MSG.replace("effort-2025-11-24", "claude-code-20250219")))
        ),
        Kind.SCHEMA,
        "claude-code-20250219",
        "unexpected_beta",
    ),
    Case(
        "gateway-vertex-two-betas",
        cli(
            'API Error: 400 {"error":{"message":"vertex-ai error: Unexpected value(s) '
            "`adaptive-thinking-2026-01-28`, `effort-2025-11-24` for the `anthropic-beta` header. "
            "Please consult our documentation at docs.anthropic.com or try again without the "
            'header.","type":"invalid_request_error","param":null,"code":null},"provider":"vertex"}'
        ),
        Kind.SCHEMA,
        "adaptive-thinking-2026-01-28, effort-2025-11-24",
        "unexpected_beta",
    ),
    Case(
        "bedrock-extraneous-key",
        http(
            400,
            {
                "message": "Malformed input request: #: extraneous key [context_management] "
                "is not permitted, please reformat your input and try again."
            },
        ),
        Kind.SCHEMA,
        "context_management",
        "bedrock_extraneous_key",
    ),
    Case(
        "bedrock-extraneous-nested",
        cli(
            'API Error: 400 {"message":"Malformed input request: #/tools/3: extraneous key '
            '[defer_loading] is not permitted, please reformat your input and try again."}'
        ),
        Kind.SCHEMA,
        "tools.3.defer_loading",
        "bedrock_extraneous_key",
    ),
    Case(
        "bedrock-invalid-beta",
        http(400, {"message": "invalid beta flag"}),
        Kind.SCHEMA,
        None,
        "bedrock_invalid_beta",
    ),
    Case(
        "input-tag",
        http(
            400,
            anthropic(
                "tools.12: Input tag 'web_search_20250305' found using 'type' does "
                "not match any of the expected tags: 'bash_20250124', 'custom', "
                "'text_editor_20250124'"
            ),
        ),
        Kind.SCHEMA,
        "web_search_20250305",
        "input_tag",
    ),
    Case(
        "vertex-invalid-argument",
        http(
            400,
            {
                "error": {
                    "code": 400,
                    "message": 'Invalid JSON payload received. Unknown name "context_management": '
                    "Cannot find field.",
                    "status": "INVALID_ARGUMENT",
                    "details": [
                        {
                            "@type": "type.googleapis.com/google.rpc.BadRequest",
                            "fieldViolations": [
                                {
                                    "description": "Invalid JSON payload received. "
                                    'Unknown name "context_management": Cannot find '
                                    "field."
                                }
                            ],
                        }
                    ],
                }
            },
        ),
        Kind.SCHEMA,
        "context_management",
        "vertex_unknown_name",
    ),
    Case(
        "vertex-invalid-argument-at",
        cli(
            'API Error: 400 {"error":{"code":400,"message":"Invalid JSON payload received. '
            "Unknown name \\\"id\\\" at 'contents[3].parts[1].function_call': Cannot find "
            'field.","status":"INVALID_ARGUMENT"}}'
        ),
        Kind.SCHEMA,
        "contents[3].parts[1].function_call.id",
        "vertex_unknown_name",
    ),
    Case(
        "openai-style-gateway",
        http(
            400,
            {
                "error": {
                    "message": "Unrecognized request argument supplied: thinking",
                    "type": "invalid_request_error",
                    "param": None,
                    "code": None,
                }
            },
        ),
        Kind.SCHEMA,
        "thinking",
        "unrecognized_argument",
    ),
    # A FastAPI gateway whose pydantic model forbids extra fields: the field is in `loc`.
    Case(
        "pydantic-422",
        http(422, {"detail": [{"type": "extra_forbidden", "loc": ["body", "output_config"],
                               "msg": "Extra inputs are not permitted", "input": {"effort": "medium"}}]}),
        Kind.SCHEMA,
        "output_config",
        "pydantic_extra_forbidden",
    ),
    Case(
        "pydantic-nested-cc2",  # as 2.1.331 reports it, a nested path with a list index
        cli('API Error: 422 {"detail":[{"type":"extra_forbidden","loc":["body","tools",3,"defer_loading"],'
            '"msg":"Extra inputs are not permitted","input":true}]}', 422, None),
        Kind.SCHEMA,
        "tools.3.defer_loading",
        "pydantic_extra_forbidden",
    ),
    Case(
        "jsonschema-python",
        http(400, anthropic("Additional properties are not allowed ('thinking' was unexpected)")),
        Kind.SCHEMA,
        "thinking",
        "jsonschema_additional",
    ),
    Case(
        "jsonschema-ajv",
        http(400, {"errors": [{"instancePath": "", "keyword": "additionalProperties",
                               "params": {"additionalProperty": "context_management"},
                               "message": "must NOT have additional properties"}]}),
        Kind.SCHEMA,
        "context_management",
        "jsonschema_additional",
    ),
    Case(
        "openai-unknown-parameter",
        http(400, {"error": {"message": "Unknown parameter: 'output_config'.", "type": "invalid_request_error",
                             "param": "output_config", "code": "unknown_parameter"}}),
        Kind.SCHEMA,
        "output_config",
        "unknown_parameter",
    ),
    Case(
        "serde-unknown-field",
        http(400, {"error": {"message": "Failed to deserialize the JSON body into the target type: unknown "
                                        "field `thinking`, expected one of `model`, `messages` at line 1"}}),
        Kind.SCHEMA,
        "thinking",
        "unknown_parameter",
    ),
    # Gateways: unwrap before matching.
    Case(
        "litellm-fake",
        http(400, litellm_wrap(anthropic("thinking: Extra inputs are not permitted"), "opus")),
        Kind.SCHEMA,
        "thinking",
        "extra_inputs",
    ),
    Case(
        "litellm-cc2-verbatim",  # 2.1.331 against the fake's litellm mode, verbatim
        cli(
            'API Error: 400 litellm.BadRequestError: AnthropicException - {"type": "error", '
            '"error": {"type": "invalid_request_error", "message": "thinking: Extra inputs are '
            'not permitted"}}. Received Model Group=claude-opus-5-5\nAvailable Model Group '
            "Fallbacks=None",
            400,
        ),
        Kind.SCHEMA,
        "thinking",
        "extra_inputs",
    ),
    Case(
        "litellm-bedrock-unescaped",  # as reported in the wild: inner quotes not escaped
        cli(
            'API Error: 400 {"error":{"message":"{"message":"context_management: Extra inputs '
            'are not permitted"}. Received Model Group=bedrock-sonnet-4.5\\nAvailable Model '
            'Group Fallbacks=None","type":"None","param":"None","code":"400"}}'
        ),
        Kind.SCHEMA,
        "context_management",
        "extra_inputs",
    ),
    Case(
        "litellm-bedrock-nested-path",
        http(
            400,
            anthropic(
                'litellm.BadRequestError: BedrockException - {"message":'
                '"thinking.adaptive.block_binding: Extra inputs are not permitted"}. '
                "Received Model Group=bedrock-fable\nAvailable Model Group "
                "Fallbacks=None"
            ),
        ),
        Kind.SCHEMA,
        "thinking.adaptive.block_binding",
        "extra_inputs",
    ),
    Case(
        "litellm-bytes-repr",
        cli(
            'litellm.BadRequestError: AnthropicException - b\'{"type":"error","error":'
            '{"type":"invalid_request_error","message":"extra_body: Extra inputs are not '
            "permitted\"}}'"
        ),
        Kind.SCHEMA,
        "extra_body",
        "extra_inputs",
    ),
    Case(
        "litellm-bedrock-extraneous",
        http(
            400,
            {
                "error": {
                    "message": 'litellm.BadRequestError: BedrockException - {"message":'
                    '"Malformed input request: #: extraneous key '
                    "[output_config] is not permitted, please reformat your "
                    'input and try again."}. Received Model Group=sonnet\n'
                    "Available Model Group Fallbacks=None",
                    "type": None,
                    "param": None,
                    "code": "400",
                }
            },
        ),
        Kind.SCHEMA,
        "output_config",
        "bedrock_extraneous_key",
    ),
]

CLIENT_CASES = [
    Case(
        "credit-api",
        http(
            400,
            anthropic(
                "Your credit balance is too low to access the Anthropic API. Please go to Plans & "
                "Billing "
                "to upgrade or purchase credits."
            ),
        ),
        Kind.CLIENT,
        None,
        "credit_balance",
    ),
    Case("credit-cc1", cli("Credit balance is too low"), Kind.CLIENT, None, "credit_balance"),
    Case(
        "credit-cc2",
        cli("Credit balance is too low", 400, "invalid_request_error"),
        Kind.CLIENT,
        None,
        "credit_balance",
    ),
    Case(
        "usage-limit-api",
        http(
            400,
            anthropic(
                "You have reached your specified API usage limits. You will regain access on "
                "2025-11-01 at 00:00 UTC."
            ),
        ),
        Kind.CLIENT,
        None,
        "usage_limit",
    ),
    Case(
        "usage-limit-cc",
        cli("Claude AI usage limit reached|1760000000"),
        Kind.CLIENT,
        None,
        "usage_limit",
    ),
    Case(
        "prompt-too-long",
        http(400, anthropic("prompt is too long: 215432 tokens > 200000 maximum")),
        Kind.CLIENT,
        None,
        "prompt_too_long",
    ),
    Case(
        "request-too-large",
        http(
            413,
            anthropic("Request exceeds the maximum allowed number of bytes.", "request_too_large"),
        ),
        Kind.CLIENT,
        None,
        "request_too_large",
    ),
    Case(
        "request-too-large-proxy",
        cli("API Error: 413 Request Entity Too Large"),
        Kind.CLIENT,
        None,
        "request_too_large",
    ),
    Case(
        "model-not-found",
        http(404, anthropic("model: claude-opus-5-5", "not_found_error")),
        Kind.CLIENT,
        "claude-opus-5-5",
        "model_not_found",
    ),
    Case(
        "model-not-found-litellm",
        http(
            400,
            {
                "error": {
                    "message": "Invalid model name passed in model=claude-opus-5-5. Call "
                    "`/v1/models` to view "
                    "available models for your key.",
                    "type": "invalid_request_error",
                    "param": "model",
                    "code": "400",
                }
            },
        ),
        Kind.CLIENT,
        "claude-opus-5-5",
        "model_not_found",
    ),
]

OTHER_CASES = [
    # auth
    Case(
        "401-api",
        http(401, anthropic("invalid x-api-key", "authentication_error")),
        Kind.AUTH,
        None,
        None,
    ),
    Case(
        "401-cc2",
        cli("Invalid API key · Fix external API key", 401, "authentication_error"),
        Kind.AUTH,
        None,
        None,
    ),
    Case(
        "401-cc1-reworded",
        cli("Invalid API key · Fix external API key"),
        Kind.AUTH,
        None,
        "auth_text",
    ),
    Case(  # real 2.1.331 with no key and no login: api_error_status is null
        "not-logged-in-cc2",
        cli("Not logged in · Please run /login"),
        Kind.AUTH,
        None,
        "not_logged_in",
    ),
    Case(  # real 1.0.100 in the same situation
        "no-key-cc1",
        cli("Invalid API key · Please run /login"),
        Kind.AUTH,
        None,
        "auth_text",
    ),
    Case(
        "oauth-expired",
        cli(
            "OAuth token has expired. Please obtain a new token or refresh your "
            "existing token. · Please run /login"
        ),
        Kind.AUTH,
        None,
        "auth_text",
    ),
    # permission: 1.0.100 appends "Please run /login" to a 403; it is still not an auth problem
    Case(
        "403-api",
        http(
            403,
            anthropic(
                "Your API key does not have permission to use the specified resource.",
                "permission_error",
            ),
        ),
        Kind.PERMISSION,
        None,
        None,
    ),
    Case(
        "403-cc1",
        cli(
            'API Error: 403 {"type":"error","error":{"type":"permission_error",'
            '"message":"Your API key does not have permission to use the specified '
            'resource."}} · Please run /login'
        ),
        Kind.PERMISSION,
        None,
        None,
    ),
    Case(
        "403-cc2",
        cli(
            "Failed to authenticate. API Error: 403 Your API key does not have "
            "permission to use the specified resource.",
            403,
            "permission_error",
        ),
        Kind.PERMISSION,
        None,
        None,
    ),
    Case(
        "permission-text",
        cli(
            'API Error: {"type":"error","error":{"type":"permission_error",'
            '"message":"no access to claude-opus-5-5"}}'
        ),
        Kind.PERMISSION,
        None,
        "permission_text",
    ),
    # billing
    Case(
        "402-api",
        http(402, anthropic("Your account has a billing issue.", "billing_error")),
        Kind.BILLING,
        None,
        None,
    ),
    # rate limit
    Case(
        "429-api",
        http(
            429,
            anthropic(
                "Number of request tokens has exceeded your per-minute rate limit",
                "rate_limit_error",
            ),
        ),
        Kind.RATE_LIMIT,
        None,
        None,
    ),
    Case(
        "429-cc2-no-status",
        cli(
            "API Error: Request rejected (429) · Number of request tokens "
            "has exceeded your per-minute rate limit"
        ),
        Kind.RATE_LIMIT,
        None,
        None,
    ),
    Case(
        "rate-limit-text",
        cli("API Error: rate_limit_error"),
        Kind.RATE_LIMIT,
        None,
        "rate_limit_text",
    ),
    # overloaded
    Case(
        "529-api",
        http(529, anthropic("Overloaded", "overloaded_error")),
        Kind.OVERLOADED,
        None,
        None,
    ),
    Case(
        "529-cc1",
        cli(
            'API Error: 529 {"type":"error","error":{"type":"overloaded_error",'
            '"message":"Overloaded"}}'
        ),
        Kind.OVERLOADED,
        None,
        None,
    ),
    Case(
        "529-cc2-reworded-no-status",
        cli(
            "API Error: 529 Overloaded. This is a server-side issue, usually temporary — try "
            "again in a moment. If it persists, check your inference gateway (127.0.0.1:43075)."
        ),
        Kind.OVERLOADED,
        None,
        None,
    ),
    Case("overloaded-text", cli("API Error: Overloaded"), Kind.OVERLOADED, None, "overloaded_text"),
    Case(
        "stream-error-event",
        result_from_http(
            200,
            'event: message_start\ndata: {"type":"message_start"}\n\n'
            'event: error\ndata: {"type":"error","error":{"type":'
            '"overloaded_error","message":"Overloaded"}}\n\n',
            stream=True,
        ),
        Kind.OVERLOADED,
        None,
        None,
    ),
    # server
    Case(
        "500-api",
        http(500, anthropic("Internal server error", "api_error")),
        Kind.SERVER,
        None,
        None,
    ),
    Case(
        "502-html",
        http(502, "<html><body><h1>502 Bad Gateway</h1></body></html>"),
        Kind.SERVER,
        None,
        None,
    ),
    Case(
        "503-cc",
        cli("API Error: 503 upstream connect error or disconnect/reset before headers"),
        Kind.SERVER,
        None,
        None,
    ),
    Case(
        "garbage-http",
        http(200, "<html><body>Sign in to the proxy</body></html>"),
        Kind.SERVER,
        None,
        "malformed_response",
    ),
    Case(
        "garbage-cc2",
        cli(
            "API Error: API returned an empty or malformed response (HTTP 200) — check for a "
            "proxy or gateway intercepting the request."
        ),
        Kind.SERVER,
        None,
        "malformed_response",
    ),
    # timeout
    Case(
        "probe-timeout",
        ProbeResult("cli", None, None, None, "no answer", 60.0, timed_out=True),
        Kind.TIMEOUT,
        None,
        None,
    ),
    Case(
        "504", http(504, anthropic("Request timed out", "timeout_error")), Kind.TIMEOUT, None, None
    ),
    Case(
        "timeout-cc2",
        cli(
            "Request timed out. If the API is slow to answer, or a proxy or gateway "
            "holds responses, set API_TIMEOUT_MS above 2000."
        ),
        Kind.TIMEOUT,
        None,
        "timeout_text",
    ),
    # network
    Case(
        "probe-network",
        ProbeResult(
            "http",
            None,
            None,
            None,
            "cannot connect",
            0.01,
            network_error="[Errno 111] Connection refused",
        ),
        Kind.NETWORK,
        None,
        None,
    ),
    Case("refused-cc1", cli("API Error: Connection error."), Kind.NETWORK, None, "network_text"),
    Case(
        "refused-cc2",
        cli(
            "API Error: Connection refused — a firewall or proxy may be blocking it (ECONNREFUSED)"
        ),
        Kind.NETWORK,
        None,
        "network_text",
    ),
    Case(
        "dns-cc2",
        cli("API Error: Can't reach the API server — check your internet or DNS (ENOTFOUND)"),
        Kind.NETWORK,
        None,
        "network_text",
    ),
    # unknown: a 400 that names no field, a client crash, silence
    Case(
        "400-other",
        http(
            400,
            anthropic(
                'messages: roles must alternate between "user" and '
                '"assistant", but found multiple "user" roles in a row'
            ),
        ),
        Kind.UNKNOWN,
        None,
        None,
    ),
    Case(
        "cc1-crash-on-garbage",
        cli("API Error: Cannot read properties of undefined (reading 'filter')"),
        Kind.UNKNOWN,
        None,
        None,
    ),
    Case("no-output", result_from_cli("", "Segmentation fault", 139), Kind.UNKNOWN, None, None),
    # ok
    Case(
        "ok-cli",
        result_from_cli(json.dumps({"is_error": False, "result": "OK"}), "", 0),
        Kind.OK,
        None,
        None,
    ),
    Case(
        "ok-http",
        http(200, {"type": "message", "content": [{"type": "text", "text": "OK"}]}),
        Kind.OK,
        None,
        None,
    ),
    Case("ok-without-verdict", ProbeResult("cli", 0, None, None, "OK", 0.4), Kind.OK, None, None),
    Case(
        "ok-reply-quoting-an-error",
        result_from_cli(
            json.dumps({"is_error": False, "result": "thinking: Extra inputs are not permitted"}),
            "",
            0,
        ),
        Kind.OK,
        None,
        None,
    ),
    # a schema-looking body on a status that is never a schema problem
    Case(
        "401-with-schema-words",
        http(401, anthropic("thinking: Extra inputs are not permitted", "authentication_error")),
        Kind.AUTH,
        None,
        None,
    ),
    *[Case(f"529-with-schema-words-{i}", r, Kind.OVERLOADED, None, None) for i, r in enumerate([
        http(529, anthropic("thinking: Extra inputs are not permitted", "overloaded_error")),
        http(529, anthropic("context_management: Extra inputs are not permitted")),  # a gateway's odd type
        http(529, litellm_wrap(anthropic("output_config: Extra inputs are not permitted"), "claude")),
        cli('API Error: 529 {"type":"error","error":{"type":"overloaded_error",'
            '"message":"output_config.effort: Extra inputs are not permitted"}}'),  # 1.0.100: status in text
        cli("API Error: 529 thinking: Extra inputs are not permitted", 529, "invalid_request_error"),
        cli(f"API Error: 529 {BETA_MSG}", 529, "overloaded_error"),
        # a stream that began with 200 and then failed: only the error type says 529
        result_from_http(200, 'event: message_start\ndata: {"type":"message_start"}\n\n'
                         'event: error\ndata: {"type":"error","error":{"type":"overloaded_error",'
                         '"message":"thinking: Extra inputs are not permitted"}}\n\n', stream=True),
    ])],
    Case(
        "stream-rate-limit-with-schema-words",
        result_from_http(200, 'event: error\ndata: {"type":"error","error":{"type":"rate_limit_error",'
                         '"message":"context_management: Extra inputs are not permitted"}}\n\n', stream=True),
        Kind.RATE_LIMIT,
        None,
        None,
    ),
]

ALL_CASES = SCHEMA_CASES + CLIENT_CASES + OTHER_CASES


@pytest.mark.parametrize("case", ALL_CASES, ids=[c.id for c in ALL_CASES])
def test_classify(case: Case) -> None:
    outcome = classify(case.result)
    assert (outcome.kind, outcome.rejected, outcome.rule) == (case.kind, case.rejected, case.rule)
    assert outcome.advice == (outcome.advice and outcome.advice.strip())
    assert "\n" not in outcome.message and len(outcome.message) <= 210


def test_what_decoding_unescapes_is_scrubbed_after_judging() -> None:
    """The probe scrubbed the raw text, but a `\\u`-escaped key is plain once the nested JSON is
    decoded: the outcome is scrubbed again with the same secrets."""
    from pinman.health.result import ProbeResult

    key = "gw-plain-key-0123456789abcdef"
    escaped = "".join(f"\\u{ord(c):04x}" for c in key)
    inner = '{"error": {"message": "context_management: Extra inputs are not permitted (key ' + escaped + ')"}}'
    result = ProbeResult("http", None, 400, None, f"upstream: {inner}", 0.1, is_error=True)
    assert key not in result.message
    assert key in classify(result).message  # what the outcome would hold unscrubbed
    outcome = classify(result, [key])
    assert outcome.kind.value == "schema" and outcome.rejected == "context_management"
    assert key not in repr(outcome) and "<redacted>" in outcome.message


def test_every_rule_has_a_real_shaped_case() -> None:
    covered = {c.rule for c in ALL_CASES}
    assert {r.name for r in RULES + FALLBACK_RULES} <= covered


def test_every_kind_has_a_case() -> None:
    assert {c.kind for c in ALL_CASES} == set(Kind)


def test_kind_values() -> None:
    assert [k.value for k in Kind] == [
        "ok",
        "schema",
        "auth",
        "permission",
        "billing",
        "rate_limit",
        "overloaded",
        "server",
        "timeout",
        "network",
        "client",
        "unknown",
    ]


def test_schema_message_is_the_upstream_words_with_status() -> None:
    outcome = classify(
        http(
            400, litellm_wrap(anthropic("output_config: Extra inputs are not permitted"), "sonnet")
        )
    )
    assert outcome.message == "400 output_config: Extra inputs are not permitted"
    assert outcome.status == 400
    outcome = classify(cli("API Error: 400 thinking: Extra inputs are not permitted", 400))
    assert outcome.message == "400 thinking: Extra inputs are not permitted"


def test_status_is_read_from_claude_text_when_missing() -> None:
    assert (
        classify(
            cli(
                'API Error: 529 {"type":"error","error":{"type":"overloaded_error",'
                '"message":"Overloaded"}}'
            )
        ).status
        == 529
    )
    assert classify(cli("API Error: 400 thinking: Extra inputs are not permitted")).status == 400


def test_advice_says_when_versions_will_not_help() -> None:
    assert classify(http(529, anthropic("Overloaded", "overloaded_error"))).advice == (
        "endpoint overloaded; changing versions will not help"
    )
    for kind in (
        Kind.AUTH,
        Kind.PERMISSION,
        Kind.BILLING,
        Kind.RATE_LIMIT,
        Kind.OVERLOADED,
        Kind.SERVER,
        Kind.NETWORK,
        Kind.CLIENT,
    ):
        assert "changing versions will not help" in ADVICE[kind]
    assert "roll back" in ADVICE[Kind.SCHEMA]


def test_layers_deepest_first() -> None:
    text = "API Error: 400 " + json.dumps(
        litellm_wrap(anthropic("x: Extra inputs are not permitted"), "m")
    )
    got = layers(text)
    assert got[0] == "x: Extra inputs are not permitted"
    assert got[-1] == text


def test_classify_is_pure() -> None:
    result = cli("API Error: 400 thinking: Extra inputs are not permitted", 400)
    assert classify(result) == classify(result)


def test_not_logged_in_says_how_to_give_the_probe_credentials() -> None:
    outcome = classify(cli("Not logged in · Please run /login"))
    assert outcome.kind is Kind.AUTH
    assert "ANTHROPIC_API_KEY" in outcome.advice and "/login" in outcome.advice
