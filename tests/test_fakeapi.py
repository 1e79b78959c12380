"""The fake API answers like the real one in every mode and records requests without secrets."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from pinman.fingerprint.fakeapi import CLAUDE_CODE_1_0_100_BETAS, CLAUDE_CODE_1_0_100_KEYS, CLAUDE_CODE_2_1_331_BETAS, CLAUDE_CODE_2_1_331_KEYS, MODES, FakeAPI, key_paths

KEY = "sk-ant-api03-test-key-0123456789"
HEADERS = {"x-api-key": KEY, "anthropic-version": "2023-06-01"}
BODY: dict[str, Any] = {
    "model": "claude-sonnet-4-5",
    "max_tokens": 16,
    "messages": [{"role": "user", "content": "say OK"}],
}


@pytest.fixture
def api() -> Iterator[FakeAPI]:
    with FakeAPI() as server:
        yield server


def post(
    api: FakeAPI,
    body: dict[str, Any] | None = None,
    *,
    path: str = "/v1/messages",
    betas: list[str] | None = None,
    timeout: float = 5,
    **kw: Any,
) -> requests.Response:
    headers = dict(HEADERS)
    if betas:
        headers["anthropic-beta"] = ",".join(betas)
    return requests.post(
        api.url + path, json=BODY if body is None else body, headers=headers, timeout=timeout, **kw
    )


def sse_events(text: str) -> list[tuple[str, dict[str, Any]]]:
    events = []
    assert text.endswith("\n\n"), "every SSE event ends with a blank line"
    for block in text.split("\n\n")[:-1]:
        lines = block.split("\n")
        assert lines[0].startswith("event: ") and lines[1].startswith("data: "), block
        events.append((lines[0][7:], json.loads(lines[1][6:])))
    return events


# -- ok --------------------------------------------------------------------------------------------
def test_ok_non_streaming_message(api: FakeAPI) -> None:
    r = post(api)
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/json"
    assert r.headers["request-id"].startswith("req_")
    msg = r.json()
    assert msg["type"] == "message" and msg["role"] == "assistant"
    assert msg["model"] == "claude-sonnet-4-5"
    assert msg["content"] == [{"type": "text", "text": "OK"}]
    assert msg["stop_reason"] == "end_turn"
    assert msg["usage"]["input_tokens"] > 0


def test_ok_streaming_sse_framing(api: FakeAPI) -> None:
    r = post(api, {**BODY, "stream": True})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/event-stream")
    events = sse_events(r.text)
    names = [e for e, _ in events]
    assert names == [
        "message_start",
        "content_block_start",
        "ping",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    for name, data in events:
        assert data["type"] == name  # the data's type repeats the event name, as the API does
    assert events[0][1]["message"]["content"] == []
    assert events[3][1]["delta"] == {"type": "text_delta", "text": "OK"}
    assert events[5][1]["delta"]["stop_reason"] == "end_turn"


def test_reply_text_is_configurable() -> None:
    with FakeAPI(reply="pong") as api:
        assert post(api).json()["content"][0]["text"] == "pong"


def test_count_tokens_and_models(api: FakeAPI) -> None:
    r = post(api, path="/v1/messages/count_tokens")
    assert r.status_code == 200 and r.json()["input_tokens"] > 0
    r = requests.get(api.url + "/v1/models", headers=HEADERS, timeout=5)
    assert r.status_code == 200
    data = r.json()
    assert data["has_more"] is False
    assert all(m["type"] == "model" for m in data["data"])
    assert data["first_id"] == data["data"][0]["id"]


def test_unknown_path_is_404(api: FakeAPI) -> None:
    r = requests.get(api.url + "/v1/complete", timeout=5)
    assert r.status_code == 404
    assert r.json()["error"]["type"] == "not_found_error"


def test_unknown_mode_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown mode"):
        FakeAPI("teapot")


# -- strict, betas ---------------------------------------------------------------------------------
def test_strict_rejects_first_extra_key_in_body_order() -> None:
    with FakeAPI("strict", allow_keys={"model", "max_tokens", "messages"}) as api:
        r = post(api, {**BODY, "output_config": {"effort": "low"}, "context_management": {}})
    assert r.status_code == 400
    assert r.json() == {
        "type": "error",
        "error": {
            "type": "invalid_request_error",
            "message": "output_config: Extra inputs are not permitted",
        },
    }


def test_strict_rejects_a_beta_not_allowed() -> None:
    with FakeAPI("strict", allow_keys=set(BODY), allow_betas={"claude-code-20250219"}) as api:
        ok = post(api, betas=["claude-code-20250219"])
        bad = post(api, betas=["claude-code-20250219", "effort-2025-11-24"])
    assert ok.status_code == 200
    assert bad.status_code == 400
    assert bad.json()["error"]["message"] == (
        "Unexpected value(s) `effort-2025-11-24` for the `anthropic-beta` header. Please consult "
        "our documentation at docs.anthropic.com or try again without the header."
    )


def test_strict_default_is_the_1_0_100_preset() -> None:
    body_1 = {k: BODY.get(k, 1) for k in CLAUDE_CODE_1_0_100_KEYS} | {"stream": False}
    body_2 = {k: BODY.get(k, 1) for k in CLAUDE_CODE_2_1_331_KEYS} | {"stream": False}
    with FakeAPI("strict") as api:
        assert post(api, body_1, betas=sorted(CLAUDE_CODE_1_0_100_BETAS)).status_code == 200
        assert post(api, body_2).status_code == 400
        assert post(api, body_1, betas=sorted(CLAUDE_CODE_2_1_331_BETAS)).status_code == 400


def test_presets_differ_in_what_matters() -> None:
    assert {"thinking", "context_management", "output_config"} <= (
        CLAUDE_CODE_2_1_331_KEYS - CLAUDE_CODE_1_0_100_KEYS
    )
    assert "effort-2025-11-24" in CLAUDE_CODE_2_1_331_BETAS - CLAUDE_CODE_1_0_100_BETAS


def test_reject_named_beta() -> None:
    with FakeAPI("reject_beta", reject_beta="effort-2025-11-24") as api:
        assert post(api, betas=["claude-code-20250219"]).status_code == 200
        r = post(api, betas=["claude-code-20250219", "effort-2025-11-24"])
    assert r.status_code == 400
    assert "`effort-2025-11-24` for the `anthropic-beta` header" in r.json()["error"]["message"]


def test_reject_beta_without_a_name_rejects_the_first_beta_sent() -> None:
    with FakeAPI("reject_beta") as api:
        assert post(api).status_code == 200  # no betas, nothing to reject
        r = post(api, betas=["b1", "b2"])
    assert r.status_code == 400 and "`b1`" in r.json()["error"]["message"]


def test_litellm_wraps_the_upstream_error_in_a_string() -> None:
    with FakeAPI("litellm", allow_keys={"model", "messages"}) as api:
        r = post(api)
    assert r.status_code == 400
    err = r.json()["error"]
    assert err["type"] is None and err["code"] == "400"
    message = err["message"]
    assert message.startswith("litellm.BadRequestError: AnthropicException - {")
    assert message.endswith(
        "Received Model Group=claude-sonnet-4-5\nAvailable Model Group Fallbacks=None"
    )
    inner, _ = json.JSONDecoder().raw_decode(message, message.index("{"))
    assert inner["error"]["message"] == "max_tokens: Extra inputs are not permitted"


# -- error modes -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("mode", "status", "etype"),
    [
        ("401", 401, "authentication_error"),
        ("403", 403, "permission_error"),
        ("429", 429, "rate_limit_error"),
        ("529", 529, "overloaded_error"),
        ("500", 500, "api_error"),
        ("credit", 400, "invalid_request_error"),
    ],
)
def test_error_modes(mode: str, status: int, etype: str) -> None:
    with FakeAPI(mode) as api:
        for path in ("/v1/messages", "/v1/messages/count_tokens"):
            r = post(api, path=path)
            assert r.status_code == status
            body = r.json()
            assert body["type"] == "error" and body["error"]["type"] == etype
        assert requests.get(api.url + "/v1/models", timeout=5).status_code == status


def test_429_carries_retry_after() -> None:
    with FakeAPI("429", retry_after=7) as api:
        assert post(api).headers["retry-after"] == "7"


def test_credit_message() -> None:
    with FakeAPI("credit") as api:
        assert "credit balance is too low" in post(api).json()["error"]["message"]


def test_stream_error_ends_in_an_error_event() -> None:
    with FakeAPI("stream_error") as api:
        r = post(api, {**BODY, "stream": True})
        plain = post(api)
    assert r.status_code == 200
    events = sse_events(r.text)
    assert events[0][0] == "message_start"
    assert events[-1] == (
        "error",
        {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}},
    )
    assert "message_stop" not in [e for e, _ in events]
    assert plain.status_code == 200  # the fault is in the stream only


def test_garbage_is_a_200_that_is_not_json() -> None:
    with FakeAPI("garbage") as api:
        r = post(api)
    assert r.status_code == 200
    with pytest.raises(ValueError):
        r.json()


def test_hang_never_answers_and_stop_releases_it() -> None:
    api = FakeAPI("hang").start()
    errors: list[BaseException] = []

    def client() -> None:
        try:
            post(api, timeout=30)
        except requests.RequestException as e:
            errors.append(e)

    with pytest.raises(requests.exceptions.ReadTimeout):
        post(api, timeout=0.3)
    waiting = threading.Thread(target=client)
    waiting.start()
    stopper = threading.Thread(target=api.stop)
    stopper.start()
    stopper.join(timeout=10)
    assert not stopper.is_alive(), "stop() hung on a hanging request"
    waiting.join(timeout=10)
    assert not waiting.is_alive()
    assert errors, "the hanging client sees the connection close"


def test_mode_changes_at_runtime(api: FakeAPI) -> None:
    assert post(api).status_code == 200
    api.mode = "529"
    assert post(api).status_code == 529
    api.mode = "ok"
    assert post(api).status_code == 200


def test_require_key_accepts_x_api_key_or_bearer() -> None:
    with FakeAPI(require_key=KEY) as api:
        assert post(api).status_code == 200
        bearer = requests.post(
            api.url + "/v1/messages",
            json=BODY,
            timeout=5,
            headers={"authorization": f"Bearer {KEY}"},
        )
        assert bearer.status_code == 200
        wrong = requests.post(
            api.url + "/v1/messages", json=BODY, timeout=5, headers={"x-api-key": "sk-wrong"}
        )
        assert wrong.status_code == 401
        assert wrong.json()["error"]["type"] == "authentication_error"


# -- recording -------------------------------------------------------------------------------------
def test_records_requests_with_secrets_redacted(api: FakeAPI) -> None:
    body = {
        **BODY,
        "stream": True,
        "tools": [
            {"name": "Bash", "input_schema": {"type": "object"}},
            {"name": "Defer", "defer_loading": True},
        ],
    }
    requests.post(
        api.url + "/v1/messages?beta=true",
        json=body,
        timeout=5,
        headers={
            **HEADERS,
            "authorization": f"Bearer {KEY}",
            "anthropic-beta": "claude-code-20250219, effort-2025-11-24",
            "user-agent": "claude-cli/2.1.331 (external, sdk-cli)",
        },
    )
    (rec,) = api.requests
    assert (rec.method, rec.path, rec.query) == ("POST", "/v1/messages", {"beta": "true"})
    assert rec.keys == ["max_tokens", "messages", "model", "stream", "tools"]
    assert {
        "tools.*.name",
        "tools.*.defer_loading",
        "tools.*.input_schema.type",
        "messages.*.role",
    } <= set(rec.key_paths)
    assert rec.betas == ["claude-code-20250219", "effort-2025-11-24"]
    assert rec.user_agent == "claude-cli/2.1.331 (external, sdk-cli)"
    assert rec.headers["x-api-key"] == "<redacted>"
    assert rec.headers["authorization"] == "<redacted>"
    assert rec.headers["anthropic-version"] == "2023-06-01"
    assert KEY not in repr(api.requests)
    assert api.messages_requests() == [rec]
    api.clear()
    assert api.requests == []


def test_key_paths_folds_list_indices() -> None:
    value = {"a": {"b": 1}, "l": [{"x": 1}, {"y": [{"z": 2}]}]}
    assert key_paths(value) == {"a", "a.b", "l", "l.*.x", "l.*.y", "l.*.y.*.z"}


def test_every_mode_is_listed() -> None:
    assert set(MODES) == {
        "ok",
        "strict",
        "deny",
        "reject_beta",
        "401",
        "403",
        "429",
        "529",
        "500",
        "stream_error",
        "hang",
        "garbage",
        "litellm",
        "credit",
        "bedrock",
        "vertex",
        "stream_error_always",
    }


@pytest.mark.parametrize("mode, rule", [("bedrock", "bedrock_extraneous_key"), ("vertex", "vertex_unknown_name")])
def test_cloud_gateway_wordings_name_the_extra_key(api: FakeAPI, mode: str, rule: str) -> None:
    from pinman.health.classify import classify
    from pinman.health.http_probe import result_from_http

    api.mode = mode
    r = post(api, body={**BODY, "thinking": {"type": "adaptive"}})
    assert r.status_code == 400
    outcome = classify(result_from_http(400, r.text))
    assert (outcome.kind.value, outcome.rejected, outcome.rule) == ("schema", "thinking", rule)
    assert post(api).status_code == 200  # what the allow-list accepts passes


def test_stream_error_always_fails_the_non_streaming_retry_too(api: FakeAPI) -> None:
    api.mode = "stream_error_always"
    r = post(api)  # not asked to stream
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
    assert [e for e, _ in sse_events(r.text)][-1] == "error"


@pytest.mark.parametrize("wording", ["plain", "litellm", "bedrock", "vertex", "openai", "pydantic", "jsonschema"])
def test_deny_refuses_only_its_keys_in_the_wording_chosen_and_the_classifier_names_them(api: FakeAPI,
                                                                                        wording: str) -> None:
    from pinman.health.classify import classify
    from pinman.health.http_probe import result_from_http

    api.mode, api.deny_keys, api.wording = "deny", {"output_config", "thinking"}, wording
    assert post(api, body={**BODY, "context_management": {}}, betas=["anything-2099-01-01"]).status_code == 200
    r = post(api, body={**BODY, "context_management": {}, "output_config": {"effort": "medium"}})
    assert r.status_code in (400, 422)
    outcome = classify(result_from_http(r.status_code, r.text))
    assert (outcome.kind.value, outcome.rejected) == ("schema", "output_config")
    api.deny_keys = set()  # switched at run time
    assert post(api, body={**BODY, "output_config": {"effort": "medium"}}).status_code == 200
