"""The CLI probe: run the pinned `claude -p PROMPT --output-format json`, the same client the user
runs, so the endpoint sees exactly the body, betas and headers that version sends.

A probe's process is bounded: its own process group, killed whole on timeout.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from pinman.errors import HealthError
from pinman.health.result import DEFAULT_PROMPT, RAW_MAX, ProbeResult, error_result, result_json, scrubbed, secret_values, short, tail


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
        out, err, code, timed_out = run_bounded(
            [str(binary), "-p", prompt, "--output-format", "json"], run_env, workdir, timeout, on_wait
        )
        duration = time.monotonic() - start
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    result = result_from_cli(out, err, code, duration=duration, timed_out=timed_out)
    return scrubbed(result, secrets)


def run_bounded(
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


def result_from_cli(
    out: str, err: str, code: int | None, *, duration: float = 0.0, timed_out: bool = False
) -> ProbeResult:
    """What `claude -p … --output-format json` printed, as a ProbeResult (not yet scrubbed)."""
    raw = tail(out, RAW_MAX // 2) + (f"\n[stderr]\n{tail(err, RAW_MAX // 2)}" if err else "")
    data = result_json(out)
    if timed_out:
        return error_result("cli", "no answer before the timeout", duration, raw=raw, timed_out=True)
    if data is None:
        said = (err.strip() or out.strip() or "no output").splitlines()[-1]
        message = short(f"no JSON result from claude (exit {code}): {said}")
        return error_result("cli", message, duration, exit_code=code, raw=raw)
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
        short(message),
        duration,
        raw=raw,
        is_error=is_error,
    )
