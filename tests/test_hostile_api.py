"""Hostile endpoints: whatever `claude -p --output-format json` prints, or an endpoint (or a gateway
before it) answers, the classifier returns one outcome with a printable one-line message — and the
outcomes that decide a rollback are right however the error is wrapped.
"""

from __future__ import annotations

import json
import unicodedata

from hypothesis import given
from hypothesis import strategies as st
from hostile_support import PROPERTY, TEXT

from pinman.health.outcome import Kind, Outcome
from pinman.health.classify import classify
from pinman.health.result import ProbeResult
from pinman.health.cli_probe import result_from_cli
from pinman.health.http_probe import result_from_http
from pinman.health.sdk_probe import result_from_sdk

_NEVER_SCHEMA = {401, 402, 403, 429, 529}  # no version change fixes these: never a rollback

_FIELD = st.from_regex(r"[a-z_][a-z0-9_]{0,12}(\.[a-z_][a-z0-9_]{0,8}){0,2}", fullmatch=True)
_ANY = st.recursive(st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), TEXT),
                    lambda inner: st.one_of(st.lists(inner, max_size=3),
                                            st.dictionaries(st.one_of(TEXT, st.sampled_from(
                                                ["message", "error", "type", "detail", "result"])), inner,
                                                max_size=3)), max_leaves=6)


def _clean(text: str, limit: int = 400) -> None:
    """Printable on one line and writable to a UTF-8 terminal or file."""
    assert len(text) <= limit, len(text)
    assert all(unicodedata.category(c) not in ("Cc", "Cs") for c in text), repr(text)
    text.encode("utf-8")


def _sane(outcome: Outcome, status: int | None = None) -> Outcome:
    assert isinstance(outcome.kind, Kind)
    _clean(outcome.message)
    _clean(outcome.advice)
    if outcome.rejected is not None:
        assert outcome.rejected
        _clean(outcome.rejected, 200)
    assert outcome.status is None or isinstance(outcome.status, int)
    if status in _NEVER_SCHEMA or outcome.status in _NEVER_SCHEMA:
        assert outcome.kind != Kind.SCHEMA, outcome
    return outcome


# --------------------------------------------------------------------------- error bodies


def _api_error(etype: str, message: str) -> str:
    return json.dumps({"type": "error", "error": {"type": etype, "message": message}})


def _wrap(text: str, how: int) -> str:
    """Ways gateways and clients wrap an upstream error, nested."""
    if how == 0:
        return text
    if how == 1:
        return f"API Error: 400 {text}"
    if how == 2:  # LiteLLM: the upstream JSON as a string inside its own message
        return json.dumps({"error": {"message": f"litellm.BadRequestError: AnthropicException - {text}. "
                                                f"Received Model Group=claude", "type": None, "code": "400"}})
    if how == 3:
        return json.dumps({"detail": text})
    return "upstream said: " + text + " (request id req_123)"


@st.composite
def schema_errors(draw: st.DrawFn) -> tuple[str, str]:
    """(body, the field or beta it rejects), wrapped 0-3 times."""
    field = draw(_FIELD)
    kind = draw(st.integers(0, 2))
    if kind == 0:
        body, rejected = _api_error("invalid_request_error", f"{field}: Extra inputs are not permitted"), field
    elif kind == 1:
        beta = field.replace(".", "-").replace("_", "-") + "-2025-01-01"
        body = _api_error("invalid_request_error",
                          f"Unexpected value(s) `{beta}` for the `anthropic-beta` header. Please consult our docs")
        rejected = beta
    else:
        key = field.split(".")[-1]
        body = json.dumps({"message": f"Malformed input request: #: extraneous key [{key}] is not permitted, "
                                      "please reformat your input and try again."})
        rejected = key
    for how in draw(st.lists(st.integers(0, 4), max_size=3)):
        body = _wrap(body, how)
    return body, rejected


@PROPERTY
@given(schema_errors(), st.sampled_from([400, 400, 422, None]), st.booleans())
def test_a_schema_error_is_schema_however_it_is_wrapped(error: tuple[str, str], status: int | None,
                                                         through_cli: bool) -> None:
    body, rejected = error
    if through_cli:  # Claude Code prints the API's words inside its own JSON result
        out = json.dumps({"type": "result", "subtype": "success", "is_error": True,
                          "result": f"API Error: {status or 400} {body}", "api_error_status": status})
        result = result_from_cli("warning: something\n" + out, "", 1)
    else:
        result = result_from_http(status or 400, body)
    outcome = _sane(classify(result), status)
    assert outcome.kind == Kind.SCHEMA, (body, outcome)
    assert outcome.rejected == rejected, (body, outcome)


@PROPERTY
@given(schema_errors(), st.sampled_from(sorted(_NEVER_SCHEMA)))
def test_an_outage_or_auth_failure_never_reads_as_schema(error: tuple[str, str], status: int) -> None:
    """A 529 or 401 whose body happens to carry schema words never triggers a rollback."""
    body, _ = error
    _sane(classify(result_from_http(status, body)), status)
    out = json.dumps({"is_error": True, "result": f"API Error: {status} {body}", "api_error_status": status})
    _sane(classify(result_from_cli(out, "", 1)), status)


# --------------------------------------------------------------------------- anything at all

_CLI_DOC = st.fixed_dictionaries({}, optional={
    "type": st.one_of(st.just("result"), _ANY),
    "subtype": st.one_of(st.sampled_from(["success", "error_max_turns", "error_during_execution"]), _ANY),
    "is_error": st.one_of(st.booleans(), _ANY),
    "result": st.one_of(TEXT, schema_errors().map(lambda e: "API Error: 400 " + e[0]), _ANY),
    "api_error_status": st.one_of(st.sampled_from([400, 401, 429, 500, 529, 0, -1, 10**30]), _ANY),
    "api_error_type": st.one_of(st.sampled_from(["invalid_request_error", "overloaded_error"]), _ANY),
    "error": _ANY,
})
_DEEP = st.sampled_from(["[" * 1200, '{"a":' * 1200, '{"error": {"message": "' + "\\\"" * 1200 + '"}}',
                         json.dumps({"error": {"message": '{"error": {"message": "x\\ud800\\u001b[2J"}}'}}),
                         '{"result": "\\ud800 \\u0000 \\u001b]0;pwned\\u0007", "is_error": true}'])


@st.composite
def cli_stdout(draw: st.DrawFn) -> str:
    parts = draw(st.lists(st.one_of(_CLI_DOC.map(json.dumps), TEXT, _DEEP), max_size=3))
    return "\n".join(parts)


@PROPERTY
@given(cli_stdout(), st.one_of(TEXT, _DEEP), st.sampled_from([0, 1, 2, 143, -9, None]), st.booleans())
def test_any_cli_output_gives_one_outcome(out: str, err: str, code: int | None, timed_out: bool) -> None:
    result = result_from_cli(out, err, code, timed_out=timed_out)
    outcome = _sane(classify(result), result.status)
    if timed_out:
        assert outcome.kind == Kind.TIMEOUT


@st.composite
def sse(draw: st.DrawFn) -> str:
    events = draw(st.lists(st.tuples(
        st.sampled_from(["message_start", "content_block_delta", "error", "message_stop", "ping", "x"]),
        st.one_of(_ANY.map(json.dumps), TEXT, st.just('{"delta": {"text": "OK"}}'),
                  st.just('{"error": {"type": "overloaded_error", "message": "Overloaded"}}'))), max_size=5))
    return "".join(f"event: {e}\ndata: {d}\n\n" for e, d in events)


@PROPERTY
@given(st.integers(0, 999), st.one_of(TEXT, _ANY.map(json.dumps), schema_errors().map(lambda e: e[0]), _DEEP,
                                      sse()), st.booleans())
def test_any_http_answer_gives_one_outcome(status: int, text: str, stream: bool) -> None:
    result = result_from_http(status, text, stream=stream)
    outcome = _sane(classify(result), status)
    if not 200 <= status < 300:
        assert outcome.kind != Kind.OK  # an error status is never a healthy endpoint


@PROPERTY
@given(st.one_of(st.fixed_dictionaries({}, optional={
    "sdk_version": st.one_of(st.just("0.40.0"), _ANY), "status": st.one_of(st.integers(0, 999), _ANY),
    "body": st.one_of(TEXT, _ANY), "network": st.one_of(TEXT, _ANY), "timeout": _ANY, "error": _ANY,
}).map(json.dumps), TEXT, _DEEP), st.sampled_from([0, 1, None]))
def test_any_sdk_probe_output_gives_one_outcome(out: str, code: int | None) -> None:
    from pinman.errors import HealthError

    try:
        result = result_from_sdk(out, "", code)
    except HealthError:
        return  # "cannot import anthropic": the probe cannot run, said in one line by the CLI
    assert isinstance(result, ProbeResult)
    _sane(classify(result), result.status)
