"""Probes: probe_http against the fake API in every mode, probe_cli against a fake `claude`."""

from __future__ import annotations

import json
import os
import socket
import sys
import time
from pathlib import Path

import pytest

from pinman.health.outcome import Kind
from pinman.health.classify import classify
from pinman.errors import HealthError
from pinman.fingerprint.fakeapi import FakeAPI
from pinman.health.result import REDACTED, ProbeResult, scrub, secret_values
from pinman.health.cli_probe import probe_cli, result_from_cli
from pinman.health.http_probe import probe_http

KEY = "sk-ant-api03-probe-test-KEY-0123456789abcdef"
TOKEN = "gw-token-0123456789-abcdef"

FAKE_CLAUDE = r"""
import json, os, subprocess, sys, time
mode = os.environ.get("FAKE_CLAUDE", "ok")
def result(text, is_error=False, **extra):
    print(json.dumps({"type": "result", "subtype": "success", "is_error": is_error,
                      "result": text, **extra}))
if mode == "ok":
    result("OK")
elif mode == "warn":
    print("Warning: config file has a typo")
    result("OK")
elif mode == "api_error":
    result("API Error: 400 thinking: Extra inputs are not permitted", True,
           api_error_status=400, api_error_type="invalid_request_error")
    sys.exit(1)
elif mode == "garbage":
    print("<<< not json >>>")
    print("boom: something broke", file=sys.stderr)
    sys.exit(3)
elif mode == "hang":
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    with open(os.environ["FAKE_CLAUDE_PIDFILE"], "w") as f:
        f.write(str(child.pid))
    time.sleep(60)
elif mode == "echo_secret":
    key = os.environ.get("ANTHROPIC_API_KEY", "")
    tok = os.environ.get("ANTHROPIC_AUTH_TOKEN", "")
    print(f"key={key} Authorization: Bearer {tok}", file=sys.stderr)
    result(f"API Error: 401 invalid x-api-key {key} / {tok}", True, api_error_status=401,
           api_error_type="authentication_error")
    sys.exit(1)
elif mode == "env":
    names = ["HOME", "DISABLE_AUTOUPDATER", "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC",
             "CLAUDE_CODE_MAX_RETRIES", "CLAUDE_CONFIG_DIR", "USER_VAR"]
    result(json.dumps({"env": {n: os.environ.get(n) for n in names}, "cwd": os.getcwd(),
                       "argv": sys.argv[1:], "stdin": sys.stdin.read()}))
"""


@pytest.fixture
def fake_claude(tmp_path: Path) -> Path:
    path = tmp_path / "bin" / "claude"
    path.parent.mkdir()
    path.write_text(f"#!{sys.executable}\n{FAKE_CLAUDE}")
    path.chmod(0o755)
    return path


def cli_env(mode: str, **extra: str) -> dict[str, str]:
    return {"PATH": os.environ["PATH"], "FAKE_CLAUDE": mode, "ANTHROPIC_API_KEY": KEY, **extra}


# -- probe_cli -----------------------------------------------------------------------------------
def test_cli_ok(fake_claude: Path) -> None:
    r = probe_cli(fake_claude, cli_env("ok"), prompt="say OK", timeout=30)
    assert (r.probe, r.exit_code, r.is_error, r.message) == ("cli", 0, False, "OK")
    assert classify(r).kind is Kind.OK


def test_cli_runs_the_pinned_client_with_the_pin_held(fake_claude: Path, tmp_path: Path) -> None:
    env = cli_env("env", USER_VAR="kept", HOME=str(tmp_path))
    r = probe_cli(fake_claude, env, prompt="Reply OK", timeout=30, max_retries=3)
    seen = json.loads(r.message)
    assert seen["argv"] == ["-p", "Reply OK", "--output-format", "json"]
    assert seen["env"] == {
        "HOME": str(tmp_path),
        "DISABLE_AUTOUPDATER": "1",
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "CLAUDE_CODE_MAX_RETRIES": "3",
        "CLAUDE_CONFIG_DIR": None,
        "USER_VAR": "kept",
    }
    assert seen["stdin"] == ""  # stdin is closed: a prompt for input cannot hang the probe
    assert not Path(seen["cwd"]).exists()  # ran in a scratch folder, removed afterwards


def test_cli_isolated_home_is_temporary(fake_claude: Path, tmp_path: Path) -> None:
    env = cli_env("env", HOME=str(tmp_path), CLAUDE_CONFIG_DIR=str(tmp_path / ".claude"))
    r = probe_cli(fake_claude, env, prompt="p", timeout=30, isolated_home=True)
    seen = json.loads(r.message)
    home = Path(seen["env"]["HOME"])
    assert home != tmp_path and not home.exists()
    assert seen["env"]["CLAUDE_CONFIG_DIR"] is None


def test_cli_api_error(fake_claude: Path) -> None:
    r = probe_cli(fake_claude, cli_env("api_error"), prompt="p", timeout=30)
    assert (r.exit_code, r.status, r.error_type, r.is_error) == (
        1,
        400,
        "invalid_request_error",
        True,
    )
    outcome = classify(r)
    assert (outcome.kind, outcome.rejected) == (Kind.SCHEMA, "thinking")


def test_cli_garbage_output(fake_claude: Path) -> None:
    r = probe_cli(fake_claude, cli_env("garbage"), prompt="p", timeout=30)
    assert r.exit_code == 3 and r.is_error
    assert r.message.startswith("no JSON result from claude (exit 3)")
    assert "boom: something broke" in r.raw and "<<< not json >>>" in r.raw
    assert classify(r).kind is Kind.UNKNOWN


def test_cli_tolerates_lines_before_the_json(fake_claude: Path) -> None:
    r = probe_cli(fake_claude, cli_env("warn"), prompt="p", timeout=30)
    assert classify(r).kind is Kind.OK


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] != "Z"  # a zombie is dead, just not reaped
    except FileNotFoundError:
        return False
    except OSError:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True


def test_cli_timeout_kills_the_process_group(fake_claude: Path, tmp_path: Path) -> None:
    pidfile = tmp_path / "child.pid"
    env = cli_env("hang", FAKE_CLAUDE_PIDFILE=str(pidfile))
    r = probe_cli(fake_claude, env, prompt="p", timeout=1.5)
    assert r.timed_out and r.exit_code is None and r.is_error
    assert classify(r).kind is Kind.TIMEOUT
    child = int(pidfile.read_text())
    for _ in range(50):  # the kill is delivered at once; reaping may lag a little
        if not _alive(child):
            break
        time.sleep(0.05)
    assert not _alive(child), "the client's helper process outlived the timeout"


def test_cli_missing_binary(tmp_path: Path) -> None:
    with pytest.raises(HealthError, match="cannot run"):
        probe_cli(tmp_path / "nope" / "claude", cli_env("ok"), prompt="p", timeout=5)


def test_cli_scrubs_secrets_everywhere(fake_claude: Path) -> None:
    env = cli_env("echo_secret", ANTHROPIC_AUTH_TOKEN=TOKEN)
    r = probe_cli(fake_claude, env, prompt="p", timeout=30)
    assert KEY not in repr(r) and TOKEN not in repr(r)
    assert REDACTED in r.message and REDACTED in r.raw
    assert classify(r).kind is Kind.AUTH


def test_result_from_cli_reads_a_real_2_1_331_error() -> None:
    # Trimmed from what 2.1.331 printed against the fake API in strict mode.
    out = json.dumps(
        {
            "duration_api_ms": 0,
            "stop_reason": "stop_sequence",
            "terminal_reason": "api_error",
            "is_error": True,
            "num_turns": 1,
            "subtype": "success",
            "api_error_status": 400,
            "api_error_type": "invalid_request_error",
            "type": "result",
            "result": "API Error: 400 thinking: Extra inputs are not permitted",
        }
    )
    r = result_from_cli(out, "", 1, duration=0.6)
    assert (r.status, r.error_type, r.message) == (
        400,
        "invalid_request_error",
        "API Error: 400 thinking: Extra inputs are not permitted",
    )


# -- probe_http ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("mode", "kwargs", "kind", "rejected"),
    [
        ("ok", {}, Kind.OK, None),
        # the probe's body is minimal, so only a very strict endpoint rejects it
        ("strict", {}, Kind.OK, None),
        ("strict", {"allow_keys": {"model", "messages"}}, Kind.SCHEMA, "max_tokens"),
        ("litellm", {"allow_keys": {"model", "messages"}}, Kind.SCHEMA, "max_tokens"),
        ("reject_beta", {}, Kind.OK, None),  # the probe sends no betas
        ("401", {}, Kind.AUTH, None),
        ("403", {}, Kind.PERMISSION, None),
        ("429", {}, Kind.RATE_LIMIT, None),
        ("529", {}, Kind.OVERLOADED, None),
        ("500", {}, Kind.SERVER, None),
        ("credit", {}, Kind.CLIENT, None),
        ("garbage", {}, Kind.SERVER, None),
        ("stream_error", {}, Kind.OK, None),  # non-streaming: the fault is in the stream only
    ],
)
def test_http_modes(mode: str, kwargs: dict[str, object], kind: Kind, rejected: str | None) -> None:
    with FakeAPI(mode, **kwargs) as api:  # type: ignore[arg-type]
        r = probe_http(api.url, {"ANTHROPIC_API_KEY": KEY}, timeout=10)
    outcome = classify(r)
    assert (outcome.kind, outcome.rejected) == (kind, rejected), outcome
    assert r.probe == "http" and r.duration >= 0


def test_http_hang_times_out() -> None:
    with FakeAPI("hang") as api:
        r = probe_http(api.url, {"ANTHROPIC_API_KEY": KEY}, timeout=0.5)
    assert r.timed_out and classify(r).kind is Kind.TIMEOUT


def test_http_stream() -> None:
    with FakeAPI("ok") as api:
        ok = probe_http(api.url, {"ANTHROPIC_API_KEY": KEY}, timeout=10, stream=True)
        api.mode = "stream_error"
        broken = probe_http(api.url, {"ANTHROPIC_API_KEY": KEY}, timeout=10, stream=True)
    assert (ok.is_error, ok.message) == (False, "OK")
    assert (broken.status, broken.error_type) == (200, "overloaded_error")
    assert classify(broken).kind is Kind.OVERLOADED


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_http_connection_refused() -> None:
    r = probe_http(f"http://127.0.0.1:{_closed_port()}", {"ANTHROPIC_API_KEY": KEY}, timeout=5)
    assert r.network_error and "refused" in r.network_error.lower()
    assert classify(r).kind is Kind.NETWORK


def test_http_sends_one_minimal_request_with_the_key() -> None:
    with FakeAPI(require_key=KEY) as api:
        r = probe_http(api.url + "/", {"ANTHROPIC_API_KEY": KEY}, timeout=10)
    assert classify(r).kind is Kind.OK
    (req,) = api.requests
    assert (req.method, req.path) == ("POST", "/v1/messages")
    assert req.keys == ["max_tokens", "messages", "model"]
    assert req.betas == []
    assert req.headers["anthropic-version"] == "2023-06-01"
    assert req.headers["x-api-key"] == "<redacted>" and "authorization" not in req.headers
    assert req.user_agent.startswith("pinman/")


def test_http_bearer_token_and_model() -> None:
    env = {"ANTHROPIC_AUTH_TOKEN": TOKEN, "ANTHROPIC_MODEL": "gateway-sonnet"}
    with FakeAPI(require_key=TOKEN) as api:
        assert classify(probe_http(api.url, env, timeout=10)).kind is Kind.OK
        assert classify(probe_http(api.url, env, timeout=10, model="other")).kind is Kind.OK
    assert "x-api-key" not in api.requests[0].headers
    assert api.requests[0].headers["authorization"] == "<redacted>"
    assert [r.body["model"] for r in api.requests] == ["gateway-sonnet", "other"]


def test_http_wrong_key_is_auth() -> None:
    with FakeAPI(require_key=KEY) as api:
        r = probe_http(api.url, {"ANTHROPIC_API_KEY": "sk-ant-wrong-key-000000"}, timeout=10)
    assert classify(r).kind is Kind.AUTH


def test_http_scrubs_a_key_the_endpoint_echoes() -> None:
    with FakeAPI(reply=f"your key is {KEY}") as api:
        r = probe_http(api.url, {"ANTHROPIC_API_KEY": KEY}, timeout=10)
    assert KEY not in repr(r)
    assert r.message == f"your key is {REDACTED}"


# -- scrubbing -----------------------------------------------------------------------------------
def test_secret_values_by_name_and_length() -> None:
    env = {
        "ANTHROPIC_API_KEY": KEY,
        "AWS_SECRET_ACCESS_KEY": "aws-secret-0123456789",
        "MY_GATEWAY_TOKEN": TOKEN,
        "SHORT_TOKEN": "abc",  # too short to scrub without mangling ordinary text
        "PATH": "/usr/bin:/bin",
    }
    assert set(secret_values(env)) == {KEY, "aws-secret-0123456789", TOKEN}


def test_scrub_known_values_and_shapes() -> None:
    text = (
        f"x-api-key: {KEY} Authorization: Bearer abcdefgh12345678 sk-ant-oat01-ZZZZZZZZZZZZ {TOKEN}"
    )
    out = scrub(text, [TOKEN])
    assert KEY not in out and TOKEN not in out and "abcdefgh12345678" not in out
    assert "sk-ant-oat01" not in out
    assert out.count(REDACTED) == 4


def test_probe_result_defaults() -> None:
    r = ProbeResult("http", None, 200, None, "OK", 0.1)
    assert (r.timed_out, r.network_error, r.raw, r.is_error) == (False, None, "", None)


def test_http_proxy_comes_from_env_and_no_proxy_is_honoured() -> None:
    with FakeAPI() as api:
        # A proxy that does not exist: going through it would fail; NO_PROXY must skip it.
        env = {"ANTHROPIC_API_KEY": KEY, "HTTP_PROXY": f"http://127.0.0.1:{_closed_port()}"}
        through = probe_http(api.url, env, timeout=5)
        around = probe_http(api.url, {**env, "NO_PROXY": "localhost,127.0.0.1"}, timeout=5)
    assert classify(through).kind is Kind.NETWORK
    assert classify(around).kind is Kind.OK
    assert len(api.requests) == 1
