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

Modes: `ok`; `strict` (allow-lists of top-level body keys and betas); `deny` (a deny-list of
top-level body keys, `deny_keys`: every other key passes, as a gateway that refuses a few fields);
`reject_beta` (the named `reject_beta`, or else the first beta sent); `401`, `403`, `429` (with
retry-after), `529`, `500`; `credit` (the 400 for a low credit balance); `litellm` (strict, but
errors wrapped the way a LiteLLM proxy wraps an upstream 400); `bedrock` / `vertex` (strict, in the
words of a gateway before AWS Bedrock, `extraneous key [x] is not permitted`, or Google Vertex,
`Unknown name "x"`); `stream_error` (a 200 stream that ends in an `error` event; non-streaming
requests succeed); `stream_error_always` (every answer, asked for a stream or not, is a stream that
ends in an `error` event, so the client's retry without streaming fails too); `hang` (no answer
until the server stops); `garbage` (200, HTML).

`strict` and `deny` refuse a key in the words of `wording` (`fake_wordings.WORDINGS`: `plain`, the
API's own, `litellm`, `bedrock`, `vertex`, `openai`, `pydantic`, `jsonschema`); `mode`, `wording`,
`allow_keys` and `deny_keys` may all change while the server runs. The parts: `fake_requests`
(what is recorded of a request), `fake_wordings` (refusals), `fake_answers` (good answers).
"""


from __future__ import annotations

import contextlib
import json
import socket
import sys
import threading
import uuid
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from pinman.fingerprint import fake_answers
from pinman.fingerprint.fake_requests import RecordedRequest, key_paths, parse_request, presented_key
from pinman.fingerprint.fake_wordings import (PLAIN_ERRORS, WORDINGS, error_body, litellm_wrap, rejection,
                                              unexpected_beta_message)

__all__ = ["CLAUDE_CODE_1_0_100_BETAS", "CLAUDE_CODE_1_0_100_KEYS", "CLAUDE_CODE_2_1_331_BETAS",
           "CLAUDE_CODE_2_1_331_KEYS", "MODES", "WORDINGS", "FakeAPI", "RecordedRequest", "error_body",
           "key_paths", "litellm_wrap"]

# Recorded from `claude -p "say OK" --output-format json` (see the module docstring).
CLAUDE_CODE_1_0_100_KEYS: frozenset[str] = frozenset(
    {"max_tokens", "messages", "metadata", "model", "stream", "system", "temperature", "tools"}
)
CLAUDE_CODE_1_0_100_BETAS: frozenset[str] = frozenset(
    {"claude-code-20250219", "fine-grained-tool-streaming-2025-05-14", "interleaved-thinking-2025-05-14"}
)
CLAUDE_CODE_2_1_331_KEYS: frozenset[str] = frozenset(
    {"context_management", "max_tokens", "messages", "metadata", "model", "output_config", "stream", "system",
     "thinking", "tools"}
)
CLAUDE_CODE_2_1_331_BETAS: frozenset[str] = frozenset(
    {"advanced-tool-use-2025-11-20", "claude-code-20250219", "context-management-2025-06-27", "effort-2025-11-24",
     "interleaved-thinking-2025-05-14", "mid-conversation-tool-changes-2026-07-01", "per-turn-control-2026-07-01",
     "thinking-token-count-2026-05-13"}
)

MODES: tuple[str, ...] = ("ok", "strict", "deny", "reject_beta", "401", "403", "429", "529", "500", "stream_error",
                          "hang", "garbage", "litellm", "credit", "bedrock", "vertex", "stream_error_always")
# Modes that validate bodies, and the wording each refuses a key in (None: the server's `wording`).
_VALIDATING: dict[str, str | None] = {"strict": None, "deny": None, "litellm": "litellm", "bedrock": "bedrock",
                                      "vertex": "vertex"}


class FakeAPI:
    """The fake server. Attributes may be changed while it runs (`api.mode = "529"`)."""

    def __init__(
        self,
        mode: str = "ok",
        *,
        allow_keys: Iterable[str] | None = None,
        allow_betas: Iterable[str] | None = None,
        deny_keys: Iterable[str] = (),
        wording: str = "plain",
        reject_beta: str | None = None,
        require_key: str | None = None,
        reply: str = "OK",
        retry_after: int = 1,
        port: int = 0,
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}; one of {', '.join(MODES)}")
        if wording not in WORDINGS:
            raise ValueError(f"unknown wording {wording!r}; one of {', '.join(WORDINGS)}")
        self.mode = mode
        # strict/litellm default to what Claude Code 1.0.100 sends: the common demo scenario.
        self.allow_keys: set[str] = set(CLAUDE_CODE_1_0_100_KEYS if allow_keys is None else allow_keys)
        self.allow_betas: set[str] = set(CLAUDE_CODE_1_0_100_BETAS if allow_betas is None else allow_betas)
        self.deny_keys: set[str] = set(deny_keys)  # mode "deny": these top-level keys are refused
        self.wording = wording  # how "strict" and "deny" word a refused key
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
    def refused(self, req: RecordedRequest) -> tuple[str, str] | None:
        """What this request earns a 400 for in the current mode: ("beta", message) or ("key", the
        body key), or None."""
        if self.reject_beta is not None and self.reject_beta in req.betas:
            return "beta", unexpected_beta_message([self.reject_beta])
        if self.mode == "reject_beta" and self.reject_beta is None and req.betas:
            return "beta", unexpected_beta_message(req.betas[:1])
        if self.mode not in _VALIDATING:
            return None
        if req.path == "/v1/messages" and isinstance(req.body, dict):
            # One field per error, like the real API; this fake names the first in body order.
            for key in req.body:
                if (key in self.deny_keys) if self.mode == "deny" else (key not in self.allow_keys):
                    return "key", key
        bad_betas = [b for b in req.betas if b not in self.allow_betas] if self.mode != "deny" else []
        return ("beta", unexpected_beta_message(bad_betas)) if bad_betas else None

    def refusal(self, req: RecordedRequest) -> tuple[int, Any] | None:
        """The status and body of the 400 (or 422) this request earns, or None."""
        found = self.refused(req)
        if found is None:
            return None
        what, detail = found
        model = str(req.body.get("model", "claude")) if isinstance(req.body, dict) else "claude"
        wording = _VALIDATING.get(self.mode) or self.wording
        if what == "key":
            return rejection(wording, detail, model)
        upstream = error_body("invalid_request_error", detail)
        return 400, (litellm_wrap(upstream, model) if wording == "litellm" else upstream)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    api: FakeAPI

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients drop keep-alive connections without ceremony; that is not worth a traceback.
        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)


_ROUTES = (("POST", "/v1/messages"), ("POST", "/v1/messages/count_tokens"), ("GET", "/v1/models"))


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

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        api = self.server.api
        length = int(self.headers.get("content-length") or 0)
        req = parse_request(self.command, self.path, dict(self.headers.items()),
                            self.rfile.read(length) if length else b"")
        api._record(req)
        if (req.method, req.path.rstrip("/")) not in _ROUTES:
            self._json(404, error_body("not_found_error", f"{req.method} {req.path} not found"))
            return
        if api.require_key is not None and presented_key(self.headers) != api.require_key:
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
        if mode in PLAIN_ERRORS:
            status, etype, text = PLAIN_ERRORS[mode]
            extra = {"retry-after": str(api.retry_after)} if status == 429 else {}
            self._json(status, error_body(etype, text), extra)
            return
        refusal = api.refusal(req)
        if refusal is not None:
            self._json(*refusal)
            return
        self._answer(req, mode)

    def _answer(self, req: RecordedRequest, mode: str) -> None:
        if req.path == "/v1/models":
            self._json(200, fake_answers.models())
        elif req.path.endswith("/count_tokens"):
            self._json(200, {"input_tokens": fake_answers.estimate_tokens(req.body)})
        elif (isinstance(req.body, dict) and req.body.get("stream")) or mode == "stream_error_always":
            self._stream(req, fail=mode in ("stream_error", "stream_error_always"))
        else:
            self._json(200, fake_answers.message(req.body, self.server.api.reply))

    # -- responses -------------------------------------------------------------------------------
    def _send(self, status: int, data: bytes, ctype: str, extra: dict[str, str] | None = None) -> None:
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
            for chunk in fake_answers.sse_events(req.body, self.server.api.reply, fail=fail):
                self.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")
        except OSError:
            self.close_connection = True
