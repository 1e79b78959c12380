"""The recording proxy: forwards unchanged (http, https, through an HTTP proxy, streaming chunk by
chunk), answers offline through FakeAPI, records key paths and betas, and never a secret."""

from __future__ import annotations

import http.client
import json
import os
import ssl
import subprocess
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from pinman.errors import PinmanError
from pinman.fingerprint.fakeapi import FakeAPI
from pinman.fingerprint.proxy import RecordingProxy, fold, probe_env, record, scratch_env
from pinman.fingerprint.upstream import Upstream, _proxy_for

KEY = "sk-ant-api03-proxy-test-KEY-0123456789"
TOKEN = "oauth-token-proxy-test-abcdef0123456789"
COOKIE = "session=cookie-secret-0123456789"
BODY = {
    "model": "claude-sonnet-4-6",
    "max_tokens": 16,
    "stream": False,
    "messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}],
                  "output_config": {"effort": "low"}}],
    "tools": [
        {"name": "Bash", "defer_loading": True,
         "input_schema": {"type": "object", "properties": {"command": {"type": "string"}}}},
        {"name": "Read", "input_schema": {"type": "object"}},
    ],
    "output_config": {"effort": "medium"},
    "metadata": {"user_id": "user_abc"},
}
SECRET_HEADERS = {"x-api-key": KEY, "authorization": f"Bearer {TOKEN}", "cookie": COOKIE}


def post(url: str, path: str = "/v1/messages?beta=true", body: Any = BODY,
         headers: dict[str, str] | None = None, method: str = "POST") -> tuple[int, dict[str, str], bytes]:
    host, port = url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    data = json.dumps(body).encode() if body is not None else None
    hdrs = {"content-type": "application/json", "anthropic-version": "2023-06-01",
            "anthropic-beta": "claude-code-20250219, effort-2025-11-24", **SECRET_HEADERS,
            **(headers or {})}
    conn.request(method, path, body=data, headers=hdrs)
    resp = conn.getresponse()
    out = resp.read()
    conn.close()
    return resp.status, {k.lower(): v for k, v in resp.getheaders()}, out


# ------------------------------------------------------------------ what is recorded


def test_record_keeps_key_paths_betas_and_names_only() -> None:
    rec = record("POST", "/v1/messages?beta=true&key=SECRETQ", {**SECRET_HEADERS,
                 "Anthropic-Beta": "a-1, b-2", "User-Agent": "claude-cli/2.1.331 (external)",
                 "Host": "x", "Content-Length": "9", "Connection": "keep-alive"},
                 json.dumps(BODY).encode())
    assert rec.method == "POST" and rec.path == "/v1/messages" and rec.is_messages
    assert rec.query == ["beta", "key"]
    assert rec.betas == ["a-1", "b-2"]
    assert rec.user_agent == "claude-cli/2.1.331 (external)" and rec.model == "claude-sonnet-4-6"
    assert rec.headers == ["anthropic-beta", "authorization", "cookie", "user-agent", "x-api-key"]
    assert {"output_config.effort", "messages.*.output_config.effort", "tools.*.defer_loading",
            "tools.*.input_schema", "metadata.user_id"} <= set(rec.key_paths)
    # a tool's JSON Schema is the tool's data, not the API's request schema
    assert not [p for p in rec.key_paths if p.startswith("tools.*.input_schema.")]
    text = json.dumps(rec.to_json())
    for secret in (KEY, TOKEN, COOKIE, "SECRETQ", "user_abc"):
        assert secret not in text


def test_record_survives_bodies_that_are_not_json() -> None:
    rec = record("GET", "/v1/models", {}, b"")
    assert (rec.key_paths, rec.betas, rec.model, rec.is_messages) == ([], [], None, False)
    assert record("POST", "/v1/messages", {}, b"\xff not json").key_paths == []


def test_fold() -> None:
    paths = ["tools", "tools.*.input_schema", "tools.*.input_schema.properties.x",
             "messages.*.content.*.input", "messages.*.content.*.input.command", "a.b"]
    assert fold(paths) == ["a.b", "messages.*.content.*.input", "tools", "tools.*.input_schema"]


# ------------------------------------------------------------------ forwarding


@pytest.fixture
def fake() -> Iterator[FakeAPI]:
    with FakeAPI("ok", require_key=KEY) as api:
        yield api


def test_forwards_unchanged_and_records_without_secrets(fake: FakeAPI) -> None:
    with RecordingProxy(fake.url) as proxy:
        status, _, body = post(proxy.url)
    assert status == 200, body  # require_key: the key reached the upstream untouched
    seen = fake.requests[0]
    assert seen.body == BODY and seen.query == {"beta": "true"}
    assert seen.betas == ["claude-code-20250219", "effort-2025-11-24"]
    assert seen.headers["host"] == f"127.0.0.1:{fake.port}"
    assert json.loads(body)["type"] == "message"
    [rec] = proxy.requests
    assert rec.status == 200 and "output_config.effort" in rec.key_paths
    dumped = json.dumps([r.to_json() for r in proxy.requests]) + repr(proxy.requests)
    for secret in (KEY, TOKEN, COOKIE):
        assert secret not in dumped


def test_errors_pass_through_with_their_status(fake: FakeAPI) -> None:
    fake.mode = "strict"
    with RecordingProxy(fake.url) as proxy:
        status, headers, body = post(proxy.url)
    assert status == 400 and headers["content-type"] == "application/json"
    assert json.loads(body)["error"]["message"] == "output_config: Extra inputs are not permitted"
    assert proxy.requests[0].status == 400


def test_streaming_passes_through(fake: FakeAPI) -> None:
    with RecordingProxy(fake.url) as proxy:
        status, headers, body = post(proxy.url, body={**BODY, "stream": True})
    assert status == 200 and headers["content-type"].startswith("text/event-stream")
    events = [ln for ln in body.decode().splitlines() if ln.startswith("event:")]
    assert events[0] == "event: message_start" and events[-1] == "event: message_stop"


class _Slow(BaseHTTPRequestHandler):
    """An upstream that sends one SSE event, waits for the test, then the rest."""

    protocol_version = "HTTP/1.1"
    release: threading.Event
    seen: list[tuple[str, str, dict[str, str], bytes]]

    def log_message(self, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length") or 0))
        self.seen.append((self.command, self.path, dict(self.headers.items()), body))
        if self.path.endswith("/plain"):
            data = b'{"echo": true}'
            self.send_response(200)
            self.send_header("content-length", str(len(data)))
            self.send_header("x-upstream", "yes")
            self.end_headers()
            self.wfile.write(data)
            return
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("transfer-encoding", "chunked")
        self.end_headers()
        for i, chunk in enumerate((b"event: one\ndata: {}\n\n", b"event: two\ndata: {}\n\n")):
            if i == 1:
                self.release.wait(10)
            self.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
            self.wfile.flush()
        self.wfile.write(b"0\r\n\r\n")

    do_GET = do_POST


@pytest.fixture
def slow() -> Iterator[tuple[str, threading.Event, list[Any], ThreadingHTTPServer]]:
    release = threading.Event()
    seen: list[Any] = []
    handler = type("H", (_Slow,), {"release": release, "seen": seen})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    t = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    t.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", release, seen, server
    finally:
        release.set()
        server.shutdown()
        server.server_close()


def test_each_chunk_reaches_the_client_as_it_arrives(slow: Any) -> None:
    url, release, _, _ = slow
    with RecordingProxy(url) as proxy:
        host, port = proxy.url.removeprefix("http://").split(":")
        conn = http.client.HTTPConnection(host, int(port), timeout=10)
        conn.request("POST", "/v1/messages", body=b"{}", headers={"content-type": "application/json"})
        resp = conn.getresponse()
        first = resp.read1(65536)
        # The upstream holds the second event until released: the first arrived on its own.
        assert first == b"event: one\ndata: {}\n\n"
        release.set()
        assert resp.read() == b"event: two\ndata: {}\n\n"
        conn.close()


def test_base_path_and_plain_bodies(slow: Any) -> None:
    url, _, seen, _ = slow
    with RecordingProxy(url + "/gateway/anthropic/") as proxy:
        status, headers, body = post(proxy.url, "/plain")
    assert (status, body, headers["x-upstream"], headers["content-length"]) == (
        200, b'{"echo": true}', "yes", "14")
    method, path, hdrs, sent = seen[0]
    assert (method, path) == ("POST", "/gateway/anthropic/plain")
    assert json.loads(sent) == BODY and hdrs["x-api-key"] == KEY


def test_a_chunked_request_body_is_forwarded_whole(slow: Any) -> None:
    url, _, seen, _ = slow
    with RecordingProxy(url) as proxy:
        host, port = proxy.url.removeprefix("http://").split(":")
        conn = http.client.HTTPConnection(host, int(port), timeout=10)
        parts = [json.dumps(BODY)[:20].encode(), json.dumps(BODY)[20:].encode()]
        conn.request("POST", "/plain", body=iter(parts), encode_chunked=True,
                     headers={"content-type": "application/json"})
        assert conn.getresponse().read() == b'{"echo": true}'
        conn.close()
    assert json.loads(seen[0][3]) == BODY
    assert "output_config.effort" in proxy.requests[0].key_paths


def test_through_an_http_proxy_the_request_line_is_absolute(slow: Any) -> None:
    url, _, seen, _ = slow
    env = {"HTTP_PROXY": url}
    with RecordingProxy("http://gateway.invalid:8080/base", env=env) as proxy:
        status, _, _ = post(proxy.url, "/plain")
    assert status == 200
    assert seen[0][1] == "http://gateway.invalid:8080/base/plain"
    assert seen[0][2]["Host"] == "gateway.invalid:8080"


def test_proxy_settings_follow_no_proxy() -> None:
    env = {"HTTPS_PROXY": "http://corp:3128", "NO_PROXY": "localhost,.internal.example"}
    assert _proxy_for(env, "https", "api.anthropic.com") == ("corp", 3128)
    assert _proxy_for(env, "https", "gw.internal.example") is None
    assert _proxy_for(env, "http", "api.anthropic.com") is None  # HTTP_PROXY not set
    assert _proxy_for({"https_proxy": "corp:8080"}, "https", "x") == ("corp", 8080)


def test_unreachable_upstream_is_a_502_without_secrets(unused_port: int) -> None:
    with RecordingProxy(f"http://127.0.0.1:{unused_port}") as proxy:
        status, _, body = post(proxy.url)
    assert status == 502
    err = json.loads(body)["error"]
    assert err["type"] == "api_error" and "cannot reach the endpoint" in err["message"]
    assert proxy.requests[0].status is None


def test_bad_base_urls() -> None:
    with pytest.raises(PinmanError, match="not an http"):
        Upstream.parse("ftp://x")
    with pytest.raises(PinmanError) as info:
        Upstream.parse("https://user:pw@host:99999/")
    assert "pw" not in info.value.message


@pytest.fixture
def unused_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# ------------------------------------------------------------------ https


@pytest.fixture(scope="module")
def cert(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("tls")
    crt, key = folder / "cert.pem", folder / "key.pem"
    done = subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(crt)], capture_output=True)
    assert done.returncode == 0, f"openssl could not make a test certificate: {done.stderr[-300:]!r}"
    return crt, key


@pytest.fixture
def tls_fake(cert: tuple[Path, Path]) -> Iterator[FakeAPI]:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(*cert)
    api = FakeAPI("ok", require_key=KEY)
    api._server.socket = ctx.wrap_socket(api._server.socket, server_side=True)
    with api:
        yield api


def test_https_upstream_with_the_clients_extra_ca(tls_fake: FakeAPI, cert: tuple[Path, Path]) -> None:
    url = f"https://127.0.0.1:{tls_fake.port}"
    with RecordingProxy(url, env={"NODE_EXTRA_CA_CERTS": str(cert[0])}) as proxy:
        status, _, body = post(proxy.url, body={**BODY, "stream": True})
    assert status == 200 and b"message_stop" in body
    assert tls_fake.requests[0].body == {**BODY, "stream": True}


def test_https_upstream_that_is_not_trusted_is_a_502(tls_fake: FakeAPI) -> None:
    with RecordingProxy(f"https://127.0.0.1:{tls_fake.port}", env={}) as proxy:
        status, _, body = post(proxy.url)
    assert status == 502 and "TLS certificate not trusted" in json.loads(body)["error"]["message"]


# ------------------------------------------------------------------ offline, and the probe env


def test_offline_answers_through_fakeapi() -> None:
    with RecordingProxy() as proxy:
        assert proxy.offline
        status, _, body = post(proxy.url, body={**BODY, "stream": True})
        status2, _, _ = post(proxy.url, "/v1/models", body=None, method="GET")
    assert status == 200 and b"event: message_stop" in body
    assert status2 == 200
    assert [r.path for r in proxy.requests] == ["/v1/messages", "/v1/models"]
    assert len(proxy.messages_requests()) == 1


def test_probe_env_points_at_the_proxy_and_keeps_it_off_http_proxies() -> None:
    env = probe_env({"ANTHROPIC_BASE_URL": "https://gw", "NO_PROXY": "corp"}, "http://127.0.0.1:5")
    assert env["ANTHROPIC_BASE_URL"] == "http://127.0.0.1:5"
    assert env["NO_PROXY"] == "corp,127.0.0.1,localhost" and env["no_proxy"] == "127.0.0.1,localhost"


def test_scratch_env_holds_nothing_of_the_user(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
    monkeypatch.setenv("ANTHROPIC_MODEL", "claude-opus-4-1")
    monkeypatch.setenv("ANTHROPIC_BASE_URL", "https://gw")
    env = scratch_env()
    assert KEY not in env.values() and "ANTHROPIC_MODEL" not in env
    assert "ANTHROPIC_BASE_URL" not in env and env["PATH"] == os.environ["PATH"]


# ------------------------------------------------------------------ real clients


RealInstall = Callable[[str], Any]


@pytest.mark.e2e
@pytest.mark.parametrize("version", ["1.0.100", "2.1.331"])
def test_real_client_through_the_proxy_sees_what_it_sees_directly(
    real_install: RealInstall, version: str
) -> None:
    from pinman.health.classify import classify
    from pinman.health.cli_probe import probe_cli

    binary = real_install(version).binary
    base = {"PATH": os.environ["PATH"], "ANTHROPIC_API_KEY": KEY}
    with FakeAPI("strict", require_key=KEY) as api:
        direct = classify(probe_cli(binary, {**base, "ANTHROPIC_BASE_URL": api.url},
                                    prompt="say OK", timeout=60, isolated_home=True))
        sent_direct = [r.key_paths for r in api.messages_requests()]
        api.clear()
        with RecordingProxy(api.url, env=base) as proxy:
            via = classify(probe_cli(binary, probe_env(base, proxy.url), prompt="say OK",
                                     timeout=60, isolated_home=True))
        sent_via = [r.key_paths for r in api.messages_requests()]
    assert (via.kind, via.rejected, via.message) == (direct.kind, direct.rejected, direct.message)
    assert sent_via[0] == sent_direct[0]  # the upstream saw the same body
    assert fold(sent_via[0]) == proxy.messages_requests()[0].key_paths
    assert proxy.messages_requests()[0].user_agent.startswith(f"claude-cli/{version}")
    assert KEY not in repr(proxy.requests)
