"""A loopback recording proxy: what a Claude Code version sends, without secrets.

pinman starts one `RecordingProxy` for one probe and points the pinned `claude` at it through
`ANTHROPIC_BASE_URL`. Each request is forwarded unchanged (only `Host` is rewritten) to the
upstream endpoint, http or https, and the answer comes back unchanged, streamed chunk by chunk so
SSE events reach the client as the endpoint sends them. With no upstream the proxy answers itself
through a private `FakeAPI` in `ok` mode, which is how an offline fingerprint is taken.

What is recorded per request: method, path, the names of query parameters and headers, the set
of body key paths (list indices folded to `*`), the `anthropic-beta` values, the user agent, the
requested model, and the status that came back. Never recorded: header values other than those
three, query values, body values. So `x-api-key`, `authorization` and cookies cannot leak through
a recording, a fingerprint file or `--json` output.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import sys
import threading
from collections.abc import Iterable, Mapping
from dataclasses import asdict, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from pinman.fingerprint.fakeapi import FakeAPI, key_paths
from pinman.fingerprint.upstream import Upstream, _reason
from pinman.record import record

# RFC 9110 §7.6.1: meaningful for one connection only, so never forwarded.
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)
# Subtrees whose keys are data, not the API's request schema: a tool's JSON Schema names its own
# parameters, and a tool call's input is whatever the tool takes. Gateways validate neither, and
# recording them would bury a new API field under tool-parameter noise in a diff.
FREE_FORM = ("tools.*.input_schema", "messages.*.content.*.input")
# Header names that describe the connection, not the client: left out of a recording.
_TRANSPORT = HOP_BY_HOP | {"host", "content-length"}
UPSTREAM_TIMEOUT = 600.0  # a streamed answer may take minutes; the probe's own timeout rules
_READ = 64 * 1024


@record
class Recorded:
    """One request as the proxy saw it; nothing here can hold a secret."""

    method: str
    path: str
    query: list[str]  # parameter names only
    headers: list[str]  # header names only, lower-cased, sorted
    key_paths: list[str]  # folded (see `fold`), sorted
    betas: list[str]  # `anthropic-beta` values, in order
    user_agent: str
    model: str | None
    status: int | None = None  # what came back; None when the upstream could not be reached

    @property
    def is_messages(self) -> bool:
        return self.method == "POST" and self.path.rstrip("/").endswith("/v1/messages")

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> Recorded:
        names = cls.__dataclass_fields__
        return cls(**{k: v for k, v in doc.items() if k in names})


def fold(paths: Iterable[str], free_form: Iterable[str] = FREE_FORM) -> list[str]:
    """Drop the keys below free-form subtrees (the subtree's own path stays), sorted."""
    roots = tuple(f"{p}." for p in free_form)
    return sorted(p for p in set(paths) if not p.startswith(roots))


def betas_of(header: str | None) -> list[str]:
    return [b.strip() for b in (header or "").split(",") if b.strip()]


def record(method: str, target: str, headers: Mapping[str, str], body: bytes) -> Recorded:
    """What to keep of one request. `headers` may hold secrets; only their names are kept."""
    split = urlsplit(target)
    data: Any = None
    if body:
        with contextlib.suppress(ValueError):
            data = json.loads(body)
    model = data.get("model") if isinstance(data, dict) else None
    lower = {k.lower(): v for k, v in headers.items()}
    return Recorded(
        method=method,
        path=split.path,
        query=sorted({k for k, _ in parse_qsl(split.query, keep_blank_values=True)}),
        headers=sorted(k for k in lower if k not in _TRANSPORT),
        key_paths=fold(key_paths(data)),
        betas=betas_of(lower.get("anthropic-beta")),
        user_agent=lower.get("user-agent", ""),
        model=model if isinstance(model, str) else None,
    )


# -- the proxy -----------------------------------------------------------------------------------


class RecordingProxy:
    """`with RecordingProxy(upstream_url) as proxy: env["ANTHROPIC_BASE_URL"] = proxy.url`.

    `upstream_url=None` answers every request from a private `FakeAPI("ok")`. `env` supplies the
    proxy and CA settings for reaching a real upstream (the probe's own environment).
    """

    def __init__(self, upstream_url: str | None = None, *, env: Mapping[str, str] | None = None,
                 timeout: float = UPSTREAM_TIMEOUT) -> None:
        self._fake: FakeAPI | None = None
        if upstream_url is None:
            self._fake = FakeAPI("ok")
            upstream_url = self._fake.url
        self.upstream = Upstream.parse(upstream_url, env)
        self.timeout = timeout
        self.requests: list[Recorded] = []
        self._lock = threading.Lock()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.proxy = self
        self._thread: threading.Thread | None = None

    @property
    def offline(self) -> bool:
        return self._fake is not None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> RecordingProxy:
        if self._fake is not None:
            self._fake.start()
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._server.server_close()
        if self._fake is not None:
            self._fake.stop()

    def __enter__(self) -> RecordingProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def messages_requests(self) -> list[Recorded]:
        return [r for r in self.requests if r.is_messages]

    def _record(self, rec: Recorded) -> int:
        with self._lock:
            self.requests.append(rec)
            return len(self.requests) - 1

    def _set_status(self, index: int, status: int | None) -> None:
        with self._lock:
            self.requests[index] = replace(self.requests[index], status=status)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    proxy: RecordingProxy

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that drops its keep-alive connection is not worth a traceback.
        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass  # requests are recorded, not logged (a log line could carry a query secret)

    def do_GET(self) -> None:
        self._forward()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = do_GET

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("transfer-encoding") or "").lower():
            return self._read_chunked()
        length = int(self.headers.get("content-length") or 0)
        return self.rfile.read(length) if length else b""

    def _read_chunked(self) -> bytes:
        parts: list[bytes] = []
        while True:
            size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
            if size == 0:
                while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass  # trailers: dropped, like every hop-by-hop field
                return b"".join(parts)
            parts.append(self.rfile.read(size))
            self.rfile.readline()

    def _forward(self) -> None:
        proxy = self.server.proxy
        body = self._read_body()
        index = proxy._record(record(self.command, self.path, dict(self.headers.items()), body))
        up = proxy.upstream
        headers = [(k, v) for k, v in self.headers.items()
                   if k.lower() not in HOP_BY_HOP and k.lower() not in ("host", "content-length")]
        headers.append(("Host", up.host_header))
        if body or self.command in ("POST", "PUT", "PATCH"):
            headers.append(("Content-Length", str(len(body))))
        try:
            conn = up.connect(proxy.timeout)
            conn.putrequest(self.command, up.target(self.path), skip_host=True,
                            skip_accept_encoding=True)
            for k, v in headers:
                conn.putheader(k, v)
            conn.endheaders(body or None)
            resp = conn.getresponse()
        except (OSError, http.client.HTTPException) as e:
            proxy._set_status(index, None)
            self._bad_gateway(e)
            return
        proxy._set_status(index, resp.status)
        try:
            self._relay(resp)
        finally:
            conn.close()

    def _relay(self, resp: http.client.HTTPResponse) -> None:
        """Status, headers and body back to the client; the body as it arrives."""
        self.send_response_only(resp.status, resp.reason)
        length = resp.getheader("content-length")
        for k, v in resp.getheaders():
            if k.lower() not in HOP_BY_HOP and k.lower() != "content-length":
                self.send_header(k, v)
        no_body = self.command == "HEAD" or resp.status in (204, 304) or 100 <= resp.status < 200
        chunked = length is None and not no_body
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
        elif length is not None:
            self.send_header("Content-Length", length)
        self.end_headers()
        if no_body:
            return
        try:
            while True:
                # read1: whatever has arrived, without waiting to fill a buffer (SSE must flow)
                data = resp.read1(_READ)
                if not data:
                    break
                self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n" if chunked else data)
                self.wfile.flush()
            if chunked:
                self.wfile.write(b"0\r\n\r\n")
                self.wfile.flush()
        except (OSError, http.client.HTTPException):
            # The upstream or the client went away mid-body: the client sees a cut stream, as it
            # would have without the proxy.
            self.close_connection = True

    def _bad_gateway(self, exc: BaseException) -> None:
        reason = _reason(exc)
        body = json.dumps({"type": "error", "error": {
            "type": "api_error", "message": f"pinman proxy: cannot reach the endpoint: {reason}"}})
        data = body.encode()
        with contextlib.suppress(OSError):
            self.send_response(502)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)


def probe_env(base: Mapping[str, str], proxy_url: str) -> dict[str, str]:
    """`base` with the client pointed at the proxy, and the proxy kept off any HTTP(S)_PROXY."""
    env = dict(base)
    env["ANTHROPIC_BASE_URL"] = proxy_url
    loopback = "127.0.0.1,localhost"
    for name in ("NO_PROXY", "no_proxy"):
        env[name] = f"{env[name]},{loopback}" if env.get(name) else loopback
    return env


def scratch_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The fixed environment an offline fingerprint runs with: nothing of the user's but PATH.

    A fingerprint is cached per version, so nothing that varies between users (their model,
    their settings, their key) may shape the requests. The key is a placeholder the private
    fake accepts; it is not a secret.
    """
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "LANG", "LC_ALL", "TMPDIR")}
    env["ANTHROPIC_API_KEY"] = "sk-ant-pinman-fingerprint-placeholder"
    env.update(extra or {})
    return env

