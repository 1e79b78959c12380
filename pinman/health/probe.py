"""Health probes: ask the endpoint one tiny question and report exactly what came back.

Two probes, one result type:

* `probe_cli` runs the pinned `claude -p PROMPT --output-format json`, the same client the user
  runs, so the endpoint sees exactly the body, betas and headers that version sends.
* `probe_http` sends one minimal `POST /v1/messages` with `requests`, for endpoints where the CLI
  cannot run (or to tell "the endpoint is down" from "the endpoint rejects this client").
* `probe_sdk` sends one minimal messages request through the profile's pinned `anthropic` Python
  SDK, run by that SDK's own venv interpreter, so the endpoint sees what that SDK version sends.

Probes never raise for what the endpoint did (that is data for `pinman.health.classify`); they raise
`HealthError` only when the probe itself cannot run. Every string in a `ProbeResult` has the key and
token values from the environment scrubbed out, so results are safe to journal and print.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from pinman.errors import HealthError

DEFAULT_PROMPT = "Reply with the single word OK."
DEFAULT_MODEL = "claude-sonnet-4-5"  # probe_http only; ANTHROPIC_MODEL in the env wins
ANTHROPIC_VERSION = "2023-06-01"
REDACTED = "<redacted>"

_MESSAGE_MAX = 2000
_RAW_MAX = 4000
_SECRET_PATTERNS = (
    re.compile(r"sk-ant-[A-Za-z0-9_\-]{8,}"),
    re.compile(r"(?i)(\bbearer\s+)[A-Za-z0-9._~+/=\-]{8,}"),
    re.compile(r"(?i)(\bx-api-key[\"']?\s*[:=]\s*[\"']?)[^\s\"',}]{8,}"),
)


@dataclass
class ProbeResult:
    probe: str  # "cli" | "http" | "sdk"
    exit_code: int | None
    status: int | None  # HTTP status if known
    error_type: str | None  # API error type if known
    message: str  # result text / error message (short, no secrets)
    duration: float
    timed_out: bool = False
    network_error: str | None = None
    raw: str = ""  # tail of stdout/stderr for diagnostics, secrets scrubbed
    # What the client itself said: `is_error` from claude's JSON, or "not a usable reply" for HTTP.
    # None means unknown; the classifier then judges by exit code and status alone.
    is_error: bool | None = None
    sdk_version: str | None = None  # probe_sdk: the `anthropic` version that sent the request


@dataclass(frozen=True)
class Waiting:
    """A CLI probe still waiting for the client's answer (for a live line on a terminal)."""

    version: str
    endpoint: str  # scheme://host:port
    elapsed: float  # seconds since the client started
    timeout: float
    done: bool = False  # the probe is over: clear the line


# -- secrets -------------------------------------------------------------------------------------
def secret_values(env: Mapping[str, str]) -> list[str]:
    """Values in `env` that must never appear in output, longest first (none half-scrubbed)."""
    from pinman.redact import secret_values as values

    return values(env)


def scrub(text: str, secrets: Iterable[str]) -> str:
    for s in secrets:
        text = text.replace(s, REDACTED)
    for pat in _SECRET_PATTERNS:
        text = pat.sub(lambda m: (m.group(1) if m.groups() else "") + REDACTED, text)
    return text


def _scrubbed(result: ProbeResult, secrets: list[str]) -> ProbeResult:
    changes: dict[str, Any] = {}
    for f in fields(result):
        value = getattr(result, f.name)
        if isinstance(value, str):
            changes[f.name] = scrub(value, secrets)
    return replace(result, **changes)


def _tail(text: str, limit: int) -> str:
    return text if len(text) <= limit else "…" + text[-limit:]


def _short(text: str, limit: int = _MESSAGE_MAX) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[:limit] + "…"


# -- the CLI probe -------------------------------------------------------------------------------
def probe_cli(
    binary: Path,
    env: Mapping[str, str],
    *,
    prompt: str = DEFAULT_PROMPT,
    timeout: float = 60.0,
    isolated_home: bool = False,
    max_retries: int = 1,
    on_wait: Callable[[float], None] | None = None,
) -> ProbeResult:
    """Run `binary -p PROMPT --output-format json` once and report what it said.

    `env` is the complete environment (profile env merged over the user's). The pin must hold and
    the probe must end quickly, so the auto-updater and non-essential traffic are switched off and
    the client's retries are bounded (against a 529 it otherwise retries for minutes). It runs in
    an empty temporary folder so no project's CLAUDE.md or hooks take part. On timeout the whole
    process group is killed. `on_wait(elapsed)` is called about once a second while it waits.
    """
    secrets = secret_values(env)
    run_env = dict(env)
    run_env.update(
        DISABLE_AUTOUPDATER="1",
        CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC="1",
        CLAUDE_CODE_MAX_RETRIES=str(max_retries),
        PINMAN_PROBE="1",  # pinman's own hooks return at once for a probe (no hook loop)
    )
    workdir = Path(tempfile.mkdtemp(prefix="pinman-probe-"))
    try:
        if isolated_home:
            run_env["HOME"] = str(workdir)
            run_env.pop("CLAUDE_CONFIG_DIR", None)  # would point the client back at real settings
        start = time.monotonic()
        out, err, code, timed_out = _run(
            [str(binary), "-p", prompt, "--output-format", "json"], run_env, workdir, timeout, on_wait
        )
        duration = time.monotonic() - start
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    result = result_from_cli(out, err, code, duration=duration, timed_out=timed_out)
    return _scrubbed(result, secrets)


def _run(
    argv: list[str],
    env: dict[str, str],
    cwd: Path,
    timeout: float,
    on_wait: Callable[[float], None] | None = None,
) -> tuple[str, str, int | None, bool]:
    try:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            cwd=cwd,
            start_new_session=True,  # its own process group, so a timeout kills helpers too
        )
    except OSError as e:
        raise HealthError(
            f"cannot run {argv[0]}: {e.strerror or e}", hint="reinstall this version"
        ) from e
    try:
        out, err = _communicate(proc, timeout, on_wait)
        return _text(out), _text(err), proc.returncode, False
    except subprocess.TimeoutExpired:
        _kill_group(proc.pid)
        try:
            out, err = proc.communicate(timeout=5)
        except subprocess.TimeoutExpired:  # a grandchild escaped the group and holds the pipes
            proc.kill()
            out, err = b"", b""
        return _text(out), _text(err), None, True


def _communicate(
    proc: subprocess.Popen[bytes], timeout: float, on_wait: Callable[[float], None] | None
) -> tuple[bytes, bytes]:
    """`proc.communicate(timeout)`, in slices of a second when someone wants to hear it wait.
    (Retrying communicate after its TimeoutExpired loses no output.)"""
    if on_wait is None:
        return proc.communicate(timeout=timeout)
    start = time.monotonic()
    while True:
        left = timeout - (time.monotonic() - start)
        try:
            return proc.communicate(timeout=max(0.0, min(1.0, left)))
        except subprocess.TimeoutExpired:
            if left <= 1.0:
                raise
            on_wait(time.monotonic() - start)


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):  # already gone
        os.killpg(pgid, signal.SIGKILL)


def _text(data: bytes | None) -> str:
    return (data or b"").decode("utf-8", errors="replace")


def _result_json(stdout: str) -> dict[str, Any] | None:
    """claude prints one JSON object; tolerate warnings printed before it."""
    candidates = [stdout.strip()] + [
        ln for ln in reversed(stdout.splitlines()) if ln.startswith("{")
    ]
    for text in candidates:
        try:
            obj = json.loads(text)
        except (ValueError, RecursionError):  # nested too deeply to parse
            continue
        if isinstance(obj, dict):
            return obj
    return None


def result_from_cli(
    out: str, err: str, code: int | None, *, duration: float = 0.0, timed_out: bool = False
) -> ProbeResult:
    """What `claude -p … --output-format json` printed, as a ProbeResult (not yet scrubbed)."""
    raw = _tail(out, _RAW_MAX // 2) + (f"\n[stderr]\n{_tail(err, _RAW_MAX // 2)}" if err else "")
    data = _result_json(out)
    if timed_out:
        return _error("cli", "no answer before the timeout", duration, raw=raw, timed_out=True)
    if data is None:
        said = (err.strip() or out.strip() or "no output").splitlines()[-1]
        message = _short(f"no JSON result from claude (exit {code}): {said}")
        return _error("cli", message, duration, exit_code=code, raw=raw)
    status = data.get("api_error_status")
    etype = data.get("api_error_type")
    is_error = bool(data.get("is_error")) or code not in (0, None)
    result = data.get("result")
    # error subtypes (error_max_turns, …) carry no `result`
    message = (
        result if isinstance(result, str) else str(data.get("error") or data.get("subtype") or "")
    )
    return ProbeResult(
        "cli",
        code,
        status if isinstance(status, int) else None,
        etype if isinstance(etype, str) else None,
        _short(message),
        duration,
        raw=raw,
        is_error=is_error,
    )


# -- the HTTP probe ------------------------------------------------------------------------------
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
        return _scrubbed(_failed(start, network_error=f"connect timeout: {_reason(e)}"), secrets)
    except (requests.exceptions.Timeout, TimeoutError):
        return _scrubbed(_failed(start, timed_out=True), secrets)
    except requests.exceptions.RequestException as e:
        return _scrubbed(_failed(start, network_error=_reason(e)), secrets)
    finally:
        session.close()
    result = result_from_http(
        resp.status_code, text, stream=stream, duration=time.monotonic() - start
    )
    return _scrubbed(result, secrets)


def _headers(env: Mapping[str, str]) -> dict[str, str]:
    from pinman import __version__

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
    return _short(m.group(1) if m else text, 300)


def _error(
    probe: str,
    message: str,
    duration: float,
    *,
    exit_code: int | None = None,
    status: int | None = None,
    error_type: str | None = None,
    raw: str = "",
    timed_out: bool = False,
    network_error: str | None = None,
) -> ProbeResult:
    return ProbeResult(
        probe,
        exit_code,
        status,
        error_type,
        message,
        duration,
        timed_out=timed_out,
        network_error=network_error,
        raw=raw,
        is_error=True,
    )


def _reply(probe: str, text: str, duration: float, status: int, raw: str) -> ProbeResult:
    return ProbeResult(probe, None, status, None, _short(text), duration, raw=raw, is_error=False)


def _failed(
    start: float, *, timed_out: bool = False, network_error: str | None = None
) -> ProbeResult:
    message = "no answer before the timeout" if timed_out else f"cannot connect: {network_error}"
    return _error(
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
    raw = _tail(text, _RAW_MAX)
    if 200 <= status < 300:
        if stream:
            return _parse_sse(status, text, duration, raw)
        try:
            data = json.loads(text)
        except (ValueError, RecursionError):  # nested too deeply to parse
            data = None
        if not isinstance(data, dict) or data.get("type") != "message":
            snippet = _short(text, 200) or "empty body"
            message = f"malformed response (HTTP {status}, not an API message): {snippet}"
            return _error("http", message, duration, status=status, raw=raw)
        return _reply("http", _reply_text(data), duration, status, raw)
    etype, said = _error_fields(text)
    message = _short(said or text or f"HTTP {status}")
    return _error("http", message, duration, status=status, error_type=etype, raw=raw)


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
            message = _short(str(err.get("message") or "error event in the stream"))
            return _error("http", message, duration, status=status, error_type=etype, raw=raw)
        if event == "content_block_delta" and isinstance(data, dict):
            reply.append(str(data.get("delta", {}).get("text", "")))
        if event == "message_stop":
            return _reply("http", "".join(reply), duration, status, raw)
    message = "malformed response (stream ended without message_stop)"
    return _error("http", message, duration, status=status, raw=raw)


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


# -- the SDK probe -------------------------------------------------------------------------------
# Runs inside the SDK's venv, so it may only use what any `anthropic` release has: the client,
# messages.create and the exception classes (all there since the 0.3 rewrite).
_SDK_SCRIPT = r"""
import json, sys
args = json.loads(sys.argv[1])
out = {}
try:
    import anthropic
    out["sdk_version"] = getattr(anthropic, "__version__", None)
    client = anthropic.Anthropic(base_url=args["base_url"], max_retries=args["max_retries"],
                                 timeout=args["timeout"])
    msg = client.messages.create(model=args["model"], max_tokens=16,
                                 messages=[{"role": "user", "content": args["prompt"]}])
    text = "".join(getattr(b, "text", "") or "" for b in msg.content)
    body = {"type": "message", "content": [{"type": "text", "text": text}]}
    out.update(status=200, body=json.dumps(body))
except ImportError as e:
    out["cannot_run"] = f"cannot import anthropic: {e}"
except anthropic.APIStatusError as e:
    out.update(status=e.status_code, body=e.response.text)
except anthropic.APITimeoutError:
    out["timeout"] = True
except anthropic.APIConnectionError as e:
    out["network"] = str(e.__cause__ or e)
except Exception as e:
    out["error"] = f"{type(e).__name__}: {e}"
print(json.dumps(out))
"""


def probe_sdk(
    python: Path,
    base_url: str,
    env: Mapping[str, str],
    *,
    timeout: float = 60.0,
    model: str | None = None,
    prompt: str = DEFAULT_PROMPT,
    max_retries: int = 1,
) -> ProbeResult:
    """Send one minimal messages request with the `anthropic` SDK that `python` imports.

    `python` is the pinned SDK's venv interpreter, run with `-I` so nothing on PYTHONPATH can
    stand in for the pinned package. Auth is the SDK's own (ANTHROPIC_API_KEY /
    ANTHROPIC_AUTH_TOKEN from `env`); its retries are bounded like the CLI probe's.
    """
    secrets = secret_values(env)
    args = {
        "base_url": base_url,
        "model": model or env.get("ANTHROPIC_MODEL") or DEFAULT_MODEL,
        "prompt": prompt,
        "timeout": timeout,
        "max_retries": max_retries,
    }
    workdir = Path(tempfile.mkdtemp(prefix="pinman-probe-"))
    try:
        start = time.monotonic()
        # the subprocess gets a little longer than the SDK, so the SDK's own timeout is what fires
        out, err, code, timed_out = _run(
            [str(python), "-I", "-c", _SDK_SCRIPT, json.dumps(args)], {**env, "PINMAN_PROBE": "1"}, workdir,
            timeout + 15
        )
        duration = time.monotonic() - start
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    result = result_from_sdk(out, err, code, duration=duration, timed_out=timed_out)
    return _scrubbed(result, secrets)


def result_from_sdk(
    out: str, err: str, code: int | None, *, duration: float = 0.0, timed_out: bool = False
) -> ProbeResult:
    """What the SDK probe script printed, as a ProbeResult (not yet scrubbed)."""
    raw = _tail(out, _RAW_MAX // 2) + (f"\n[stderr]\n{_tail(err, _RAW_MAX // 2)}" if err else "")
    data = _result_json(out)
    if timed_out or (data or {}).get("timeout"):
        return _error("sdk", "no answer before the timeout", duration, raw=raw, timed_out=True)
    if data is None:
        said = (err.strip() or out.strip() or "no output").splitlines()[-1]
        return _error("sdk", _short(f"the SDK probe printed no result (exit {code}): {said}"), duration,
                      exit_code=code, raw=raw)
    if data.get("cannot_run"):
        raise HealthError(str(data["cannot_run"]),
                          hint='probe = "sdk" needs an [sdk] that provides the anthropic package')
    version = data.get("sdk_version") if isinstance(data.get("sdk_version"), str) else None
    if data.get("network"):
        message = f"cannot connect: {data['network']}"
        result = _error("sdk", _short(message, 300), duration, network_error=_short(str(data["network"]), 300),
                        raw=raw)
    elif isinstance(data.get("status"), int):
        result = replace(result_from_http(data["status"], str(data.get("body") or ""), duration=duration),
                         probe="sdk")
    else:
        result = _error("sdk", _short(str(data.get("error") or "no result")), duration, exit_code=code, raw=raw)
    return replace(result, sdk_version=version)
