"""The real Claude Code 1.0.100 and 2.1.331 against the fake API: probe, classify, and check that
what each version sends still matches the presets the fake's strict mode is built on."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable

import pytest

from pinman.health.outcome import Kind, Outcome
from pinman.health.classify import classify
from pinman.fingerprint.fakeapi import CLAUDE_CODE_1_0_100_BETAS, CLAUDE_CODE_1_0_100_KEYS, CLAUDE_CODE_2_1_331_BETAS, CLAUDE_CODE_2_1_331_KEYS, FakeAPI
from pinman.health.result import ProbeResult
from pinman.health.cli_probe import probe_cli
from pinman.install.layout import Install
from pinman.health.result import ProbeResult
from pinman.health.cli_probe import probe_cli
from pinman.install.layout import Install

pytestmark = pytest.mark.e2e

V1, V2 = "1.0.100", "2.1.331"
KEY = "sk-ant-api03-e2e-test-KEY-0123456789abcdef"
RealInstall = Callable[[str], Install]


@pytest.fixture(params=[V1, V2])
def version(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def probe(
    real_install: RealInstall, version: str, base_url: str, timeout: float = 60
) -> tuple[ProbeResult, Outcome]:
    env = {"PATH": os.environ["PATH"], "ANTHROPIC_BASE_URL": base_url, "ANTHROPIC_API_KEY": KEY}
    result = probe_cli(
        real_install(version).binary, env, prompt="say OK", timeout=timeout, isolated_home=True
    )
    assert KEY not in repr(result)
    return result, classify(result)


def test_ok_and_what_each_version_sends(real_install: RealInstall, version: str) -> None:
    with FakeAPI("ok") as api:
        result, outcome = probe(real_install, version, api.url)
    assert outcome.kind is Kind.OK, outcome
    assert result.message == "OK"
    # `claude -p` talks to /v1/messages only (no count_tokens, no models) and streams.
    assert {(r.method, r.path) for r in api.requests} == {("POST", "/v1/messages")}
    first = api.requests[0]
    assert first.query == {"beta": "true"} and first.body["stream"] is True
    assert first.user_agent.startswith(f"claude-cli/{version} ")
    assert first.headers["x-api-key"] == "<redacted>"
    if version == V1:
        assert set(first.keys) == CLAUDE_CODE_1_0_100_KEYS
        assert set(first.betas) == CLAUDE_CODE_1_0_100_BETAS
        for r in api.requests:  # the background haiku request sends a subset
            assert set(r.keys) <= CLAUDE_CODE_1_0_100_KEYS
            assert set(r.betas) <= CLAUDE_CODE_1_0_100_BETAS
    else:
        assert len(api.requests) == 1
        assert set(first.keys) == CLAUDE_CODE_2_1_331_KEYS
        assert set(first.betas) == CLAUDE_CODE_2_1_331_BETAS
        assert {"messages.*.output_config", "tools.*.defer_loading"} <= set(first.key_paths)


def test_strict_accepts_1_0_100_and_rejects_2_1_331(
    real_install: RealInstall, version: str
) -> None:
    with FakeAPI("strict") as api:  # allow-lists default to what 1.0.100 sends
        _, outcome = probe(real_install, version, api.url)
    if version == V1:
        assert outcome.kind is Kind.OK, outcome
    else:
        assert (outcome.kind, outcome.rejected, outcome.status) == (Kind.SCHEMA, "thinking", 400)
        assert outcome.message == "400 thinking: Extra inputs are not permitted"


def test_strict_names_the_key_it_rejects(real_install: RealInstall) -> None:
    allow = CLAUDE_CODE_1_0_100_KEYS | {"thinking", "context_management"}
    with FakeAPI("strict", allow_keys=allow, allow_betas=CLAUDE_CODE_2_1_331_BETAS) as api:
        _, outcome = probe(real_install, V2, api.url)
    assert (outcome.kind, outcome.rejected) == (Kind.SCHEMA, "output_config")


def test_gateway_wrapped_rejection_is_unwrapped(real_install: RealInstall) -> None:
    with FakeAPI("litellm") as api:
        result, outcome = probe(real_install, V2, api.url)
    assert "Received Model Group=" in result.message
    assert (outcome.kind, outcome.rejected) == (Kind.SCHEMA, "thinking")


def test_529_is_overloaded_with_bounded_retries(real_install: RealInstall, version: str) -> None:
    # Unbounded, the client retries for minutes and this would end as a timeout.
    with FakeAPI("529") as api:
        _, outcome = probe(real_install, version, api.url, timeout=60)
    assert outcome.kind is Kind.OVERLOADED, outcome
    assert outcome.advice == "endpoint overloaded; changing versions will not help"
    assert len(api.requests) <= 8


def test_401_is_auth(real_install: RealInstall, version: str) -> None:
    with FakeAPI("401") as api:
        _, outcome = probe(real_install, version, api.url)
    assert outcome.kind is Kind.AUTH, outcome


def test_low_credit_is_client(real_install: RealInstall, version: str) -> None:
    with FakeAPI("credit") as api:
        _, outcome = probe(real_install, version, api.url)
    assert (outcome.kind, outcome.rule) == (Kind.CLIENT, "credit_balance"), outcome


def test_rejected_beta(real_install: RealInstall, version: str) -> None:
    with FakeAPI("reject_beta", reject_beta="claude-code-20250219") as api:
        _, outcome = probe(real_install, version, api.url)
    if version == V1:
        assert (outcome.kind, outcome.rejected) == (Kind.SCHEMA, "claude-code-20250219")
    else:
        # 2.1.331 retries without a beta the endpoint refuses, so this heals itself.
        assert outcome.kind is Kind.OK, outcome
        assert "claude-code-20250219" in api.requests[0].betas
        assert "claude-code-20250219" not in api.requests[-1].betas


def test_unreachable_endpoint_is_network(real_install: RealInstall, version: str) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    _, outcome = probe(real_install, version, f"http://127.0.0.1:{port}")
    assert outcome.kind is Kind.NETWORK, outcome


def test_hanging_endpoint_times_out(real_install: RealInstall) -> None:
    with FakeAPI("hang") as api:
        result, outcome = probe(real_install, V2, api.url, timeout=3)
    assert result.timed_out and outcome.kind is Kind.TIMEOUT
