"""The HTTP probe: one minimal `POST /v1/messages` with `requests`, for endpoints where the CLI
cannot run (or to tell "the endpoint is down" from "the endpoint rejects this client"), and the
reading of a Messages answer, plain JSON or an SSE stream, into a ProbeResult.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Mapping
from typing import Any

from pinman.health.result import DEFAULT_MODEL, DEFAULT_PROMPT, RAW_MAX, ProbeResult, error_result, reply_result, scrubbed, secret_values, short, tail
from pinman import __version__

ANTHROPIC_VERSION = "2023-06-01"


def probe_http(
    base_url: str,
    env: Mapping[str, str],
    *,
    timeout: float = 60.0,
    model: str | None = None,
    prompt: str = DEFAULT_PROMPT,
    stream: bool = False,
) -> ProbeResult:
    """Send one minimal `POST {base_url}/v1/messages` and report what came back.

    Auth as the client does it: `x-api-key` from ANTHROPIC_API_KEY, `Authorization: Bearer` from
    ANTHROPIC_AUTH_TOKEN. `stream=True` reads the SSE reply, so an `error` event mid-stream shows.
    """
    import requests  # heavy; only the probe needs it

    secrets = secret_values(env)
    url = base_url.rstrip("/") + "/v1/messages"
    body: dict[str, Any] = {
        "model": model or env.get("ANTHROPIC_MODEL") or DEFAULT_MODEL,
        "max_tokens": 16,
        "messages": [{"role": "user", "content": prompt}],
    }
    if stream:
        body["stream"] = True
    session = requests.Session()
    session.trust_env = False  # `env` (profile over user), not this process's environment, decides
    start = time.monotonic()
    try:
        resp = session.post(
            url,
            json=body,
            headers=_headers(env),
            timeout=timeout,
            stream=stream,
            allow_redirects=False,
            proxies=_proxies(env, url),
            verify=env.get("REQUESTS_CA_BUNDLE") or env.get("SSL_CERT_FILE") or True,
        )
        text = _read_body(resp, stream, start + timeout)
    except requests.exceptions.ConnectTimeout as e:
        return scrubbed(_failed(start, network_error=f"connect timeout: {_reason(e)}"), secrets)
    except (requests.exceptions.Timeout, TimeoutError):
        return scrubbed(_failed(start, timed_out=True), secrets)
    except requests.exceptions.RequestException as e:
        return scrubbed(_failed(start, network_error=_reason(e)), secrets)
    finally:
        session.close()
    result = result_from_http(
        resp.status_code, text, stream=stream, duration=time.monotonic() - start
    )
    return scrubbed(result, secrets)


def _headers(env: Mapping[str, str]) -> dict[str, str]:

    headers = {
        "anthropic-version": ANTHROPIC_VERSION,
        "content-type": "application/json",
        "user-agent": f"pinman/{__version__}",
    }
    if env.get("ANTHROPIC_API_KEY"):
        headers["x-api-key"] = env["ANTHROPIC_API_KEY"]
    if env.get("ANTHROPIC_AUTH_TOKEN"):
        headers["authorization"] = f"Bearer {env['ANTHROPIC_AUTH_TOKEN']}"
    return headers


def _proxies(env: Mapping[str, str], url: str) -> dict[str, str]:
    """HTTP(S)_PROXY from `env`, unless NO_PROXY names the host (`*`, `host`, `.domain`)."""
    from urllib.parse import urlsplit

    host = (urlsplit(url).hostname or "").lower()
    no_proxy = env.get("NO_PROXY") or env.get("no_proxy") or ""
    for entry in (e.strip().lower().lstrip(".") for e in no_proxy.split(",")):
        if entry and (entry == "*" or host == entry or host.endswith("." + entry)):
            return {}
    proxies = {
        scheme: env.get(f"{scheme.upper()}_PROXY") or env.get(f"{scheme}_proxy") or ""
        for scheme in ("http", "https")
    }
    return {k: v for k, v in proxies.items() if v}


def _read_body(resp: Any, stream: bool, deadline: float) -> str:
    if not stream:
        return str(resp.text)
    parts: list[bytes] = []
    for chunk in resp.iter_content(chunk_size=None):
        parts.append(chunk)
        if time.monotonic() > deadline:  # a stream that trickles forever is a timeout too
            resp.close()
            raise TimeoutError
    return b"".join(parts).decode("utf-8", errors="replace")


def _reason(exc: Exception) -> str:
    """The innermost cause, e.g. `[Errno 111] Connection refused`, not urllib3's retry wrapper."""
    text = str(exc)
    m = re.search(r"(\[Errno -?\d+\][^'\")]*|Name or service not known|Connection refused)", text)
    return short(m.group(1) if m else text, 300)


def _failed(
    start: float, *, timed_out: bool = False, network_error: str | None = None
) -> ProbeResult:
    message = "no answer before the timeout" if timed_out else f"cannot connect: {network_error}"
    return error_result(
        "http",
        message,
        time.monotonic() - start,
        timed_out=timed_out,
        network_error=network_error,
    )


def result_from_http(
    status: int, text: str, *, stream: bool = False, duration: float = 0.0
) -> ProbeResult:
    """An HTTP answer from a Messages endpoint as a ProbeResult (secrets not yet scrubbed)."""
    raw = tail(text, RAW_MAX)
    if 200 <= status < 300:
        if stream:
            return _parse_sse(status, text, duration, raw)
        try:
            data = json.loads(text)
        except (ValueError, RecursionError):  # nested too deeply to parse
            data = None
        if not isinstance(data, dict) or data.get("type") != "message":
            snippet = short(text, 200) or "empty body"
            message = f"malformed response (HTTP {status}, not an API message): {snippet}"
            return error_result("http", message, duration, status=status, raw=raw)
        return reply_result("http", _reply_text(data), duration, status, raw)
    etype, said = _error_fields(text)
    message = short(said or text or f"HTTP {status}")
    return error_result("http", message, duration, status=status, error_type=etype, raw=raw)


def _reply_text(message: dict[str, Any]) -> str:
    blocks = message.get("content") or []
    return "".join(b.get("text", "") for b in blocks if isinstance(b, dict))


def _error_fields(text: str) -> tuple[str | None, str | None]:
    """`error.type` and `error.message` of an Anthropic-shaped error body, if it is one."""
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):  # nested too deeply to parse
        return None, None
    err = data.get("error") if isinstance(data, dict) else None
    if not isinstance(err, dict):
        return None, None
    etype = err.get("type") if isinstance(err.get("type"), str) else None
    message = err.get("message") if isinstance(err.get("message"), str) else None
    # A gateway's own envelope (LiteLLM: type null, upstream JSON inside message) keeps its text;
    # the classifier unwraps it.
    return etype, message


def _parse_sse(status: int, text: str, duration: float, raw: str) -> ProbeResult:
    reply: list[str] = []
    for event, data in _sse_events(text):
        if event == "error":
            err = data.get("error", {}) if isinstance(data, dict) else {}
            etype = err.get("type") if isinstance(err.get("type"), str) else None
            message = short(str(err.get("message") or "error event in the stream"))
            return error_result("http", message, duration, status=status, error_type=etype, raw=raw)
        if event == "content_block_delta" and isinstance(data, dict):
            reply.append(str(data.get("delta", {}).get("text", "")))
        if event == "message_stop":
            return reply_result("http", "".join(reply), duration, status, raw)
    message = "malformed response (stream ended without message_stop)"
    return error_result("http", message, duration, status=status, raw=raw)


def _sse_events(text: str) -> list[tuple[str, Any]]:
    events: list[tuple[str, Any]] = []
    for block in re.split(r"\r?\n\r?\n", text):
        name, data = "message", []
        for line in block.splitlines():
            if line.startswith("event:"):
                name = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].strip())
        if data:
            try:
                events.append((name, json.loads("\n".join(data))))
            except (ValueError, RecursionError):  # nested too deeply to parse
                events.append((name, None))
    return events
