"""The SDK probe: one minimal messages request through the profile's pinned `anthropic` Python SDK,
run by that SDK's own venv interpreter, so the endpoint sees what that SDK version sends.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

from pinman.errors import HealthError
from pinman.health.cli_probe import run_bounded
from pinman.health.http_probe import result_from_http
from pinman.health.result import DEFAULT_MODEL, DEFAULT_PROMPT, RAW_MAX, ProbeResult, error_result, result_json, scrubbed, secret_values, short, tail

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
        out, err, code, timed_out = run_bounded(
            [str(python), "-I", "-c", _SDK_SCRIPT, json.dumps(args)], {**env, "PINMAN_PROBE": "1"}, workdir,
            timeout + 15
        )
        duration = time.monotonic() - start
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    result = result_from_sdk(out, err, code, duration=duration, timed_out=timed_out)
    return scrubbed(result, secrets)


def result_from_sdk(
    out: str, err: str, code: int | None, *, duration: float = 0.0, timed_out: bool = False
) -> ProbeResult:
    """What the SDK probe script printed, as a ProbeResult (not yet scrubbed)."""
    raw = tail(out, RAW_MAX // 2) + (f"\n[stderr]\n{tail(err, RAW_MAX // 2)}" if err else "")
    data = result_json(out)
    if timed_out or (data or {}).get("timeout"):
        return error_result("sdk", "no answer before the timeout", duration, raw=raw, timed_out=True)
    if data is None:
        said = (err.strip() or out.strip() or "no output").splitlines()[-1]
        return error_result("sdk", short(f"the SDK probe printed no result (exit {code}): {said}"), duration,
                      exit_code=code, raw=raw)
    if data.get("cannot_run"):
        raise HealthError(str(data["cannot_run"]),
                          hint='probe = "sdk" needs an [sdk] that provides the anthropic package')
    version = data.get("sdk_version") if isinstance(data.get("sdk_version"), str) else None
    if data.get("network"):
        message = f"cannot connect: {data['network']}"
        result = error_result("sdk", short(message, 300), duration, network_error=short(str(data["network"]), 300),
                        raw=raw)
    elif isinstance(data.get("status"), int):
        result = replace(result_from_http(data["status"], str(data.get("body") or ""), duration=duration),
                         probe="sdk")
    else:
        result = error_result("sdk", short(str(data.get("error") or "no result")), duration, exit_code=code, raw=raw)
    return replace(result, sdk_version=version)
