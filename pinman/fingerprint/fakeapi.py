"""A loopback fake of the Anthropic Messages API, for tests and demos.

`FakeAPI` is a threaded HTTP server on 127.0.0.1 (a free port) that answers like the real API in
one of several modes, and records every request it sees with secrets redacted:

    with FakeAPI("strict", allow_keys=CLAUDE_CODE_1_0_100_KEYS) as api:
        env["ANTHROPIC_BASE_URL"] = api.url
        ...
        api.mode = "529"            # switch at runtime
        api.requests[-1].keys       # top-level body keys of the last request

Endpoints: `POST /v1/messages` (streaming SSE or not, following the body's `stream`),
`POST /v1/messages/count_tokens`, `GET /v1/models`. Error modes apply to all three.

What the real clients send for `claude -p PROMPT --output-format json` (recorded against this
server with `CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1`): only `POST /v1/messages?beta=true`,
streaming; never count_tokens or models. Headers: `anthropic-version: 2023-06-01`, `x-api-key`,
`x-app: cli`, `user-agent: claude-cli/<version> (external, sdk-cli)`, the SDK's `x-stainless-*`.

* 1.0.100 (node `cli.js`, SDK 0.60.0) sends two requests. The prompt: keys `model, messages,
  temperature, system, tools, metadata, max_tokens, stream` (claude-opus-4-1, 15 tools), betas
  `claude-code-20250219, interleaved-thinking-2025-05-14, fine-grained-tool-streaming-2025-05-14`.
  Then a background haiku request: the same keys without `tools`, beta
  `fine-grained-tool-streaming-2025-05-14` only.
* 2.1.331 (native `claude.exe`, SDK 0.128.0, adds `x-claude-code-session-id`) sends one: keys
  `model, messages, system, tools, metadata, max_tokens, thinking, context_management,
  output_config, stream` (no `temperature`; `thinking` is `{"type": "adaptive"}`,
  `output_config` `{"effort": "medium"}`); new nested paths `messages.*.output_config` and
  `tools.*.defer_loading`; betas `claude-code-20250219, interleaved-thinking-2025-05-14,
  context-management-2025-06-27, per-turn-control-2026-07-01,
  mid-conversation-tool-changes-2026-07-01, thinking-token-count-2026-05-13,
  advanced-tool-use-2025-11-20, effort-2025-11-24`.

Worth knowing when writing tests: 2.1.331 answers "Unexpected value(s) `X` for the
`anthropic-beta` header" by retrying without X (and without the body field X enables), so a beta
rejection heals itself; 1.0.100 reports it. Both retry a stream that fails mid-way once without
streaming (which `stream_error` answers normally), so that mode does not fail `claude -p`.

`CLAUDE_CODE_1_0_100_KEYS` / `_BETAS` are the allow-list presets: `strict` mode with them (its
default) accepts 1.0.100 and rejects 2.1.331 with `thinking: Extra inputs are not permitted`
(this fake names the first extra top-level key in body order).

Modes: `ok`; `strict` (allow-lists of top-level body keys and betas); `reject_beta` (the named
`reject_beta`, or else the first beta sent); `401`, `403`, `429` (with retry-after), `529`, `500`;
`credit` (the 400 for a low credit balance); `litellm` (strict, but errors wrapped the way a LiteLLM
proxy wraps an upstream 400); `bedrock` / `vertex` (strict, in the words of a gateway before AWS
Bedrock, `extraneous key [x] is not permitted`, or Google Vertex, `Unknown name "x"`); `stream_error` (a 200 stream that ends in an `error` event;
non-streaming requests succeed); `stream_error_always` (every answer, asked for a stream or not, is
a stream that ends in an `error` event, so the client's retry without streaming fails too); `hang` (no answer until the server stops); `garbage` (200, HTML).
"""

from __future__ import annotations

import contextlib
import json
import socket
import sys
import threading
import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

# Recorded from `claude -p "say OK" --output-format json` (see the module docstring).
CLAUDE_CODE_1_0_100_KEYS: frozenset[str] = frozenset(
    {"max_tokens", "messages", "metadata", "model", "stream", "system", "temperature", "tools"}
)
CLAUDE_CODE_1_0_100_BETAS: frozenset[str] = frozenset(
    {
        "claude-code-20250219",
        "fine-grained-tool-streaming-2025-05-14",
        "interleaved-thinking-2025-05-14",
    }
)
CLAUDE_CODE_2_1_331_KEYS: frozenset[str] = frozenset(
    {
        "context_management",
        "max_tokens",
        "messages",
        "metadata",
        "model",
        "output_config",
        "stream",
        "system",
        "thinking",
        "tools",
    }
)
CLAUDE_CODE_2_1_331_BETAS: frozenset[str] = frozenset(
    {
        "advanced-tool-use-2025-11-20",
        "claude-code-20250219",
        "context-management-2025-06-27",
        "effort-2025-11-24",
        "interleaved-thinking-2025-05-14",
        "mid-conversation-tool-changes-2026-07-01",
        "per-turn-control-2026-07-01",
        "thinking-token-count-2026-05-13",
    }
)

MODES: tuple[str, ...] = (
    "ok",
    "strict",
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
)

REDACTED = "<redacted>"
_SECRET_HEADERS = frozenset({"x-api-key", "authorization", "proxy-authorization", "cookie"})

# mode -> (HTTP status, error type, message): plain errors that ignore the request.
_PLAIN_ERRORS: dict[str, tuple[int, str, str]] = {
    "401": (401, "authentication_error", "invalid x-api-key"),
    "403": (
        403,
        "permission_error",
        "Your API key does not have permission to use the specified resource.",
    ),
    "429": (
        429,
        "rate_limit_error",
        "Number of request tokens has exceeded your per-minute rate limit "
        "(https://docs.anthropic.com/en/api/rate-limits); see the response headers for current "
        "usage. Please reduce the prompt length or the maximum tokens requested, or try again "
        "later.",
    ),
    "529": (529, "overloaded_error", "Overloaded"),
    "500": (500, "api_error", "Internal server error"),
    "credit": (
        400,
        "invalid_request_error",
        "Your credit balance is too low to access the Anthropic API. Please go to Plans & Billing "
        "to upgrade or purchase credits.",
    ),
}


@dataclass
class RecordedRequest:
    """One request as the server saw it; secrets are already redacted."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # lower-cased names; x-api-key / authorization -> "<redacted>"
    keys: list[str]  # top-level body keys, sorted
    key_paths: list[str]  # every nested key path, list indices folded to `*`, sorted
    betas: list[str]  # `anthropic-beta` split on commas, in order
    user_agent: str
    body: Any = None  # parsed JSON body (None if absent or not JSON)
    time: float = field(default_factory=time.time)


def key_paths(value: Any, prefix: str = "") -> set[str]:
    """Every key path in a JSON value: `a`, `a.b`, `tools.*.name` (list indices become `*`)."""
    out: set[str] = set()
    if isinstance(value, dict):
        for k, v in value.items():
            p = f"{prefix}.{k}" if prefix else str(k)
            out.add(p)
            out |= key_paths(v, p)
    elif isinstance(value, list):
        p = f"{prefix}.*" if prefix else "*"
        for item in value:
            out |= key_paths(item, p)
    return out


def error_body(error_type: str, message: str) -> dict[str, Any]:
    return {"type": "error", "error": {"type": error_type, "message": message}}


def extra_inputs_message(key: str) -> str:
    return f"{key}: Extra inputs are not permitted"


def unexpected_beta_message(betas: Iterable[str]) -> str:
    names = ", ".join(f"`{b}`" for b in betas)
    return (
        f"Unexpected value(s) {names} for the `anthropic-beta` header. Please consult our "
        "documentation at docs.anthropic.com or try again without the header."
    )


def litellm_wrap(upstream: dict[str, Any], model_group: str) -> dict[str, Any]:
    """How a LiteLLM proxy reports an upstream 400: the upstream JSON as a string in a message."""
    message = (
        f"litellm.BadRequestError: AnthropicException - {json.dumps(upstream)}. "
        f"Received Model Group={model_group}\nAvailable Model Group Fallbacks=None"
    )
    return {"error": {"message": message, "type": None, "param": None, "code": "400"}}


class FakeAPI:
    """The fake server. Attributes may be changed while it runs (`api.mode = "529"`)."""

    def __init__(
        self,
        mode: str = "ok",
        *,
        allow_keys: Iterable[str] | None = None,
        allow_betas: Iterable[str] | None = None,
        reject_beta: str | None = None,
        require_key: str | None = None,
        reply: str = "OK",
        retry_after: int = 1,
        port: int = 0,
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}; one of {', '.join(MODES)}")
        self.mode = mode
        # strict/litellm default to what Claude Code 1.0.100 sends: the common demo scenario.
        self.allow_keys: set[str] = set(
            CLAUDE_CODE_1_0_100_KEYS if allow_keys is None else allow_keys
        )
        self.allow_betas: set[str] = set(
            CLAUDE_CODE_1_0_100_BETAS if allow_betas is None else allow_betas
        )
        # Named beta to refuse in any mode that validates; in mode "reject_beta" with no name,
        # the first beta a request carries is refused.
        self.reject_beta = reject_beta
        # When set, any request whose x-api-key / bearer token differs gets a 401 (in every mode
        # that answers), so tests can prove a key was sent although recordings redact it.
        self.require_key = require_key
        self.reply = reply
        self.retry_after = retry_after
        self.requests: list[RecordedRequest] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._conns: set[socket.socket] = set()
        self._server = _Server(("127.0.0.1", port), _Handler)
        self._server.api = self
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------------------
    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> FakeAPI:
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving for good; hanging handlers are released and open connections closed."""
        self._stopping.set()
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        with self._lock:
            conns = list(self._conns)
        for conn in conns:
            with contextlib.suppress(OSError):  # already closed by the client
                conn.shutdown(socket.SHUT_RDWR)
        self._server.server_close()

    def __enter__(self) -> FakeAPI:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- helpers for tests -----------------------------------------------------------------------
    def messages_requests(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path == "/v1/messages"]

    def clear(self) -> None:
        with self._lock:
            self.requests.clear()

    def _record(self, req: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(req)

    # -- validation ------------------------------------------------------------------------------
    def schema_error(self, req: RecordedRequest) -> str | None:
        """The message of the 400 this request earns in the current mode, or None."""
        if self.reject_beta is not None and self.reject_beta in req.betas:
            return unexpected_beta_message([self.reject_beta])
        if self.mode == "reject_beta" and self.reject_beta is None and req.betas:
            return unexpected_beta_message(req.betas[:1])
        if self.mode not in ("strict", "litellm", "bedrock", "vertex"):
            return None
        bad_betas = [b for b in req.betas if b not in self.allow_betas]
        if req.path == "/v1/messages" and isinstance(req.body, dict):
            # One field per error, like the real API; this fake names the first in body order.
            for key in req.body:
                if key not in self.allow_keys:
                    return extra_inputs_message(key)
        if bad_betas:
            return unexpected_beta_message(bad_betas)
        return None


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    api: FakeAPI

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients drop keep-alive connections without ceremony; that is not worth a traceback.
        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive and chunked streaming, as the real API
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass  # the server is quiet; requests are recorded instead

    def setup(self) -> None:
        super().setup()
        with self.server.api._lock:
            self.server.api._conns.add(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            with self.server.api._lock:
                self.server.api._conns.discard(self.connection)

    # -- request parsing -------------------------------------------------------------------------
    def _read_request(self) -> RecordedRequest:
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length else b""
        body: Any = None
        if raw:
            try:
                body = json.loads(raw)
            except ValueError:
                body = None
        split = urlsplit(self.path)
        headers = {
            k.lower(): (REDACTED if k.lower() in _SECRET_HEADERS else v)
            for k, v in self.headers.items()
        }
        betas = [b.strip() for b in self.headers.get("anthropic-beta", "").split(",") if b.strip()]
        return RecordedRequest(
            method=self.command,
            path=split.path,
            query=dict(parse_qsl(split.query)),
            headers=headers,
            keys=sorted(body) if isinstance(body, dict) else [],
            key_paths=sorted(key_paths(body)),
            betas=betas,
            user_agent=self.headers.get("user-agent", ""),
            body=body,
        )

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        api = self.server.api
        req = self._read_request()
        api._record(req)
        route = (req.method, req.path.rstrip("/"))
        if route not in (
            ("POST", "/v1/messages"),
            ("POST", "/v1/messages/count_tokens"),
            ("GET", "/v1/models"),
        ):
            self._json(404, error_body("not_found_error", f"{req.method} {req.path} not found"))
            return
        if api.require_key is not None and _presented_key(self.headers) != api.require_key:
            self._json(401, error_body("authentication_error", "invalid x-api-key"))
            return
        mode = api.mode
        if mode == "hang":
            api._stopping.wait()  # until the server stops; then drop the connection
            self.close_connection = True
            return
        if mode == "garbage":
            self._send(200, b"<html><body>502 Bad Gateway</body></html>\n", "text/html")
            return
        if mode in _PLAIN_ERRORS:
            status, etype, message = _PLAIN_ERRORS[mode]
            extra = {"retry-after": str(api.retry_after)} if status == 429 else {}
            self._json(status, error_body(etype, message), extra)
            return
        problem = api.schema_error(req)
        if problem is not None:
            upstream = error_body("invalid_request_error", problem)
            if mode == "litellm":
                model = req.body.get("model", "claude") if isinstance(req.body, dict) else "claude"
                self._json(400, litellm_wrap(upstream, str(model)))
            elif mode in ("bedrock", "vertex") and problem.endswith(": Extra inputs are not permitted"):
                self._json(400, _cloud_error(mode, problem.split(":", 1)[0]))
            else:
                self._json(400, upstream)
            return
        if req.path == "/v1/models":
            self._json(200, _models())
        elif req.path.endswith("/count_tokens"):
            self._json(200, {"input_tokens": _estimate_tokens(req.body)})
        elif (isinstance(req.body, dict) and req.body.get("stream")) or mode == "stream_error_always":
            self._stream(req, fail=mode in ("stream_error", "stream_error_always"))
        else:
            self._json(200, _message(req, api.reply))

    # -- responses -------------------------------------------------------------------------------
    def _send(
        self, status: int, data: bytes, ctype: str, extra: dict[str, str] | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("content-type", ctype)
        self.send_header("content-length", str(len(data)))
        self.send_header("request-id", f"req_fake_{uuid.uuid4().hex[:20]}")
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def _json(self, status: int, obj: Any, extra: dict[str, str] | None = None) -> None:
        self._send(status, json.dumps(obj).encode(), "application/json", extra)

    def _stream(self, req: RecordedRequest, *, fail: bool) -> None:
        self.send_response(200)
        self.send_header("content-type", "text/event-stream; charset=utf-8")
        self.send_header("cache-control", "no-cache")
        self.send_header("transfer-encoding", "chunked")
        self.send_header("request-id", f"req_fake_{uuid.uuid4().hex[:20]}")
        self.end_headers()
        try:
            for chunk in _sse_events(req, self.server.api.reply, fail=fail):
                self.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")
        except OSError:
            self.close_connection = True


def _cloud_error(mode: str, key: str) -> dict[str, Any]:
    """An extra body key rejected in the words of Bedrock's or Vertex's request validation."""
    if mode == "bedrock":
        return {"message": f"Malformed input request: #: extraneous key [{key}] is not permitted, "
                           "please reformat your input and try again."}
    said = f'Invalid JSON payload received. Unknown name "{key}": Cannot find field.'
    return {"error": {"code": 400, "message": said, "status": "INVALID_ARGUMENT",
                      "details": [{"@type": "type.googleapis.com/google.rpc.BadRequest",
                                   "fieldViolations": [{"description": said}]}]}}


def _presented_key(headers: Any) -> str | None:
    key: str | None = headers.get("x-api-key")
    auth: str = headers.get("authorization") or ""
    if key is None and auth.lower().startswith("bearer "):
        key = auth[7:].strip()
    return key


def _sse(event: str, data: dict[str, Any]) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data)}\n\n".encode()


def _sse_events(req: RecordedRequest, text: str, *, fail: bool) -> Iterator[bytes]:
    msg = _message(req, "")
    msg["content"] = []
    msg["stop_reason"] = None
    msg["usage"]["output_tokens"] = 1
    yield _sse("message_start", {"type": "message_start", "message": msg})
    yield _sse(
        "content_block_start",
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
    )
    yield _sse("ping", {"type": "ping"})
    if fail:
        # The real API ends a failing stream with an `error` event and no message_stop.
        yield _sse("error", error_body("overloaded_error", "Overloaded"))
        return
    yield _sse(
        "content_block_delta",
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": text}},
    )
    yield _sse("content_block_stop", {"type": "content_block_stop", "index": 0})
    yield _sse(
        "message_delta",
        {
            "type": "message_delta",
            "delta": {"stop_reason": "end_turn", "stop_sequence": None},
            "usage": {"output_tokens": max(1, len(text) // 4)},
        },
    )
    yield _sse("message_stop", {"type": "message_stop"})


def _message(req: RecordedRequest, text: str) -> dict[str, Any]:
    model = req.body.get("model") if isinstance(req.body, dict) else None
    return {
        "id": f"msg_fake_{uuid.uuid4().hex[:24]}",
        "type": "message",
        "role": "assistant",
        "model": model or "claude-sonnet-4-5-20250929",
        "content": [{"type": "text", "text": text}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {
            "input_tokens": _estimate_tokens(req.body),
            "output_tokens": max(1, len(text) // 4),
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
        },
    }


def _estimate_tokens(body: Any) -> int:
    # Roughly four characters a token, like the real tokenizer on English text.
    return max(1, len(json.dumps(body)) // 4) if body is not None else 1


def _models() -> dict[str, Any]:
    models = [
        ("claude-sonnet-4-5-20250929", "Claude Sonnet 4.5", "2025-09-29T00:00:00Z"),
        ("claude-haiku-4-5-20251001", "Claude Haiku 4.5", "2025-10-01T00:00:00Z"),
        ("claude-opus-4-1-20250805", "Claude Opus 4.1", "2025-08-05T00:00:00Z"),
    ]
    data = [{"type": "model", "id": i, "display_name": n, "created_at": c} for i, n, c in models]
    return {"data": data, "has_more": False, "first_id": data[0]["id"], "last_id": data[-1]["id"]}
