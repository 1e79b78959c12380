"""Secrets: the API key, the auth token and custom header values never reach a file under
PINMAN_HOME or a line of output — even when the endpoint echoes them back in its errors.

The guard in tests/secret_guard.py (wired into cli_support and conftest) checks this for every
test in the suite; this module drives the worst case on purpose: a gateway that repeats every
request header, credentials included, in the error it returns, probed by the real Claude Code
(`probe = "cli"`) and by pinman's own HTTP probe, with each way of passing credentials.
"""

from __future__ import annotations

import base64
import json
import threading
import urllib.parse
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import secret_guard
from cli_support import pinman

from pinman.state.journal import Journal
from pinman.paths import Paths

pytestmark = pytest.mark.e2e

KEY = "sk-ant-api03-secrets-e2e-KEY-5f4e3d2c1b0a99887766"
TOKEN = "oauth-bearer-secrets-e2e-TOKEN-0a1b2c3d4e5f6071"
GATEWAY = "gw-secret-e2e-HEADER-VALUE-77aa88bb99cc"
V1 = "1.0.100"

STYLES = {
    "api-key": {"ANTHROPIC_API_KEY": KEY},
    "auth-token": {"ANTHROPIC_AUTH_TOKEN": TOKEN},
    "custom-headers": {"ANTHROPIC_API_KEY": KEY,
                       "ANTHROPIC_CUSTOM_HEADERS": f"X-Gateway-Token: {GATEWAY}\nX-Team: infra"},
}


def _b64(text: str, url: bool = False) -> str:
    raw = text.encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=") if url else base64.b64encode(raw).decode()


# How a gateway may echo a credential header (name, value): each is a form the secret guard knows.
ENCODINGS: dict[str, Callable[[str, str], str]] = {
    "plain": lambda name, value: value,
    # an upstream's JSON error quoted in the message, written with "/" as "\\/" (PHP's default)
    "json-slash": lambda name, value: value.replace("/", "\\/"),
    "percent": lambda name, value: urllib.parse.quote(value, safe=""),
    "base64": lambda name, value: _b64(value),
    "base64url-unpadded": lambda name, value: _b64(value, url=True),
    "base64-header-line": lambda name, value: _b64(f"{name}: {value}"),  # "x-api-key: K", "authorization: Bearer T"
    "base64url-header-line": lambda name, value: _b64(f"{name}: {value}", url=True),
}


def _is_credential(name: str) -> bool:
    return name.lower() in ("x-api-key", "authorization") or name.lower().startswith("x-gateway")


def _echoing(form: str, seen: list[str]) -> Iterator[str]:
    """A gateway answering every request with a 400 whose message repeats all the request's
    headers, the credentials first and in `form` (see ENCODINGS)."""
    encode = ENCODINGS[form]

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            self.rfile.read(length)
            # credentials first (messages are cut to a line), values only (a header name like
            # x-api-key in the text makes Claude Code reword the error and drop the body)
            creds = [v for k, v in self.headers.items() if _is_credential(k)]
            shown = [encode(k.lower(), v) for k, v in self.headers.items() if _is_credential(k)]
            echoed = ", ".join(shown + [f"{k}={v}" for k, v in self.headers.items() if v not in creds])
            seen.append(echoed)
            body = json.dumps({"type": "error", "error": {
                "type": "invalid_request_error", "message": f"gateway rejected {echoed}"}}).encode()
            self.send_response(400)
            self.send_header("Content-Type", "application/json")
            self.send_header("X-Echo", echoed.encode("ascii", "replace").decode())
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_POST = do_GET = _answer  # noqa: N815

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def echoing_gateway() -> Iterator[str]:
    yield from _echoing("plain", [])


@pytest.fixture
def profiles(pinman_home: Paths, seeded_home: Callable[..., object], tmp_path: Path) -> Path:
    seeded_home(V1)
    folder = pinman_home.user_profiles
    folder.mkdir(parents=True)
    health = '[health]\ntimeout = 60\nauto_rollback = false\n'
    (folder / "gw.toml").write_text(f'[claude-code]\nversion = "{V1}"\n{health}')
    (folder / "gwh.toml").write_text(f'[claude-code]\nversion = "{V1}"\n{health}probe = "http"\n')
    work = tmp_path / "work"
    work.mkdir()
    return work


def _secrets(style: dict[str, str]) -> set[str]:
    return secret_guard.secrets_in(style)


@pytest.mark.parametrize("style", list(STYLES))
def test_an_echoing_gateway_never_gets_a_secret_into_output_or_files(
        pinman_home: Paths, profiles: Path, echoing_gateway: str, style: str) -> None:
    creds = {**STYLES[style], "ANTHROPIC_BASE_URL": echoing_gateway, "CLAUDE_CODE_MAX_RETRIES": "0"}
    secrets = _secrets(creds)
    assert secrets  # the guard knows what to look for
    outputs = []
    for args in (["use", "gw"], ["check", "gw"], ["check", "gw", "--json"], ["check", "gwh", "--json"],
                 ["history"], ["history", "--json"], ["status"], ["status", "--json"], ["show", "gw", "--json"],
                 ["current", "--json"], ["env", "gw"], ["doctor", "--json"]):
        r = pinman(pinman_home, profiles, *args, **creds)  # asserts: no output line holds a secret
        outputs.append(r.text)
    checks = [e for e in Journal(pinman_home).entries() if e.event == "check"]
    assert checks and all(e.outcome != "ok" for e in checks)
    # Not vacuous: the gateway did echo the credentials, and pinman said it had redacted them.
    assert any("<redacted>" in e.message for e in checks), [e.message for e in checks]
    assert secret_guard.leaks_under(pinman_home.config.parent, secrets) == []
    assert not any(s in text for s in secrets for text in outputs)


SLASHY_TOKEN = "oauth/bearer+secrets=e2e/TOKEN+0a1b2c3d4e5f6071"  # "/", "+", "=": every form differs
SLASHY_GATEWAY = "gw/secret+e2e=HEADER/VALUE/77aa88bb99cc"
ENCODED_STYLES = {
    "api-key+header": {"ANTHROPIC_API_KEY": KEY, "ANTHROPIC_CUSTOM_HEADERS": f"X-Gateway-Token: {SLASHY_GATEWAY}"},
    "auth-token": {"ANTHROPIC_AUTH_TOKEN": SLASHY_TOKEN},
}


@pytest.mark.parametrize("form", [f for f in ENCODINGS if f != "plain"])
@pytest.mark.parametrize("style", list(ENCODED_STYLES))
def test_an_encoded_echo_never_gets_a_secret_into_output_or_files(
        pinman_home: Paths, profiles: Path, style: str, form: str) -> None:
    """The gateway echoes the credentials `\\/`-escaped, percent-encoded or base64(url)-encoded,
    alone or as a whole `x-api-key: …`/`authorization: Bearer …` line; the guard looks for each
    form in every line of output (cli_support.run) and every file under PINMAN_HOME."""
    seen: list[str] = []
    gateway = _echoing(form, seen)
    creds = {**ENCODED_STYLES[style], "ANTHROPIC_BASE_URL": next(gateway), "CLAUDE_CODE_MAX_RETRIES": "0"}
    try:
        docs = [json.loads(pinman(pinman_home, profiles, "check", name, "--json", **creds).out)
                for name in ("gw", "gwh")]
        pinman(pinman_home, profiles, "history", "--json", **creds)
    finally:
        gateway.close()
    secrets = _secrets(creds)
    # Not vacuous: each credential went out in that form, and what came back was scrubbed.
    for s in secrets:
        assert any(f in echo for echo in seen for f in secret_guard.encodings(s).values()), (s, seen)
    assert all("<redacted>" in d["message"] for d in docs), [d["message"] for d in docs]
    assert secret_guard.leaks_under(pinman_home.config.parent, secrets) == []


def test_the_guard_sees_every_encoding(tmp_path: Path) -> None:
    """A secret in any form a gateway echoes fails the output check and the file scan."""
    line = f"authorization: Bearer {SLASHY_TOKEN}"
    for form, encode in ENCODINGS.items():
        for echoed in (encode("authorization", SLASHY_TOKEN), "x" + encode("authorization", SLASHY_TOKEN) + "y"):
            with pytest.raises(AssertionError, match="shows a secret"):
                secret_guard.assert_clean_output(f"ok\n{echoed}\n", {SLASHY_TOKEN}, form)
            home = tmp_path / form
            (home / "state").mkdir(parents=True, exist_ok=True)
            (home / "state" / "journal.db").write_bytes(b"\0SQLite" + echoed.encode() + b"\0")
            assert secret_guard.leaks_under(home, {SLASHY_TOKEN}), form
    for shift in range(3):  # inside a longer encoded text, at each alignment
        echoed = _b64("x" * shift + line + " and more")
        with pytest.raises(AssertionError, match="shows a secret"):
            secret_guard.assert_clean_output(echoed, {SLASHY_TOKEN}, "base64")


def test_the_guard_sees_every_credential_style() -> None:
    """What the suite-wide guard treats as secret: both variables and each custom header value."""
    env = {"ANTHROPIC_API_KEY": KEY, "ANTHROPIC_AUTH_TOKEN": TOKEN,
           "ANTHROPIC_CUSTOM_HEADERS": f"X-Gateway-Token: {GATEWAY}\r\nX-Team: infra\nX-Other: second-secret-value"}
    assert secret_guard.secrets_in(env) == {KEY, TOKEN, GATEWAY, "second-secret-value"}


def test_the_guard_fails_a_test_that_leaks(tmp_path: Path) -> None:
    home = tmp_path / "home"
    (home / "state").mkdir(parents=True)
    (home / "state" / "journal.jsonl").write_text(f'{{"message": "key {KEY}"}}\n')
    (home / "data" / "store" / "claude-code" / "1.0.0" / "node_modules").mkdir(parents=True)
    (home / "data" / "store" / "claude-code" / "1.0.0" / "node_modules" / "npm.js").write_text(KEY)  # npm's
    (home / "data" / "store" / "claude-code" / "1.0.0" / ".pinman-install.json").write_text(KEY)  # pinman's
    leaks = secret_guard.leaks_under(home, {KEY})
    assert [Path(line.split(":")[0]).name for line in leaks] == sorted(["journal.jsonl", ".pinman-install.json"]) \
        or sorted(Path(line.split(":")[0]).name for line in leaks) == [".pinman-install.json", "journal.jsonl"]
    with pytest.raises(AssertionError, match="shows a secret"):
        secret_guard.assert_clean_output(f"ok\nAuthorization: Bearer {TOKEN}\n", {TOKEN}, "pinman check")


def test_the_status_is_said_once(pinman_home: Paths, profiles: Path, echoing_gateway: str) -> None:
    """`check` printed "unknown: 400 400 gateway rejected ..." (the message already starts with it)."""
    r = pinman(pinman_home, profiles, "check", "gwh", ANTHROPIC_BASE_URL=echoing_gateway, ANTHROPIC_API_KEY=KEY)
    assert "unknown: 400 gateway rejected <redacted>" in r.out and "400 400" not in r.out, r.out


PLAIN_KEY = "gwkey-live-3c2b1a0f9e8d7c6b5a4"  # no sk-ant- shape: only knowing the value finds it


def _u_escaped(text: str) -> str:
    return "".join(f"\\u{ord(c):04x}" for c in text)


@pytest.fixture
def u_escaping_gateway() -> Iterator[str]:
    """A 400 whose message is JSON holding the presented key, every character `\\u`-escaped, so
    the key is only plain once the classifier decodes the nested layer."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
            self.rfile.read(int(self.headers.get("content-length") or 0))
            key = self.headers.get("x-api-key") or ""
            inner = '{"error": {"type": "invalid_request_error", "message": "key ' + _u_escaped(key) + ' not allowed"}}'
            body = json.dumps({"type": "error", "error": {"type": None, "message": f"upstream said {inner}"}}).encode()
            self.send_response(400)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_a_key_echoed_u_escaped_in_nested_json_is_not_printed(
        pinman_home: Paths, profiles: Path, u_escaping_gateway: str) -> None:
    creds = {"ANTHROPIC_API_KEY": PLAIN_KEY, "ANTHROPIC_BASE_URL": u_escaping_gateway}
    text = pinman(pinman_home, profiles, "check", "gwh", **creds)  # asserts no line holds the key
    doc = json.loads(pinman(pinman_home, profiles, "check", "gwh", "--json", **creds).out)
    for shown in (text.out, json.dumps(doc)):
        assert PLAIN_KEY not in shown
    # Not vacuous: the classifier did decode the nested layer, and what it said was scrubbed.
    assert "key <redacted> not allowed" in doc["message"], doc
    assert "key <redacted> not allowed" in text.out
    checks = [e for e in Journal(pinman_home).entries() if e.event == "check"]
    assert len(checks) == 2 and all(PLAIN_KEY not in json.dumps(e.to_json()) for e in checks)
