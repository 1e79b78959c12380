"""The StopFailure handler: a failed turn of the user's own `claude` → the verified rollback.

Started detached by the sh hook (`python -m pinman _hook stop-failure`, the payload on stdin, in
its own session so the client's exit does not kill it). It acts only when
all of these hold, and journals what it decided either way (event "hook"):

1. the failure can be a schema rejection (pinman.health.classify on the error text; credit, 529,
   401/403, rate limits, network and mid-stream errors are failures no version change fixes);
2. the failing client is the version pinman's shim runs for that folder (read from the session
   transcript): another client (a session started before a switch, or one given pinman's hooks
   some other way) gets a notice instead, because switching pinman's version would not change it;
3. no other handler runs for this profile and endpoint (a lock), and none ran in the last
   `COOLDOWN` seconds, so a broken endpoint is not probed in a loop.

Then it runs the same ladder as `pinman check` (`policy.ladder`: probe current; a client switch that
drops the rejected field, measured and verified; else re-probe the last known-good against the same
endpoint and switch only if that is ok) and leaves a notice for the next session.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import sys
import time
import traceback
from collections.abc import Mapping
from pathlib import Path
from typing import Any, BinaryIO

from pinman.autopilot.files import HookFiles
from pinman.errors import PinmanError
from pinman.paths import Paths
from pinman.autopilot.notices import add, describe, host, note_checked
from pinman.health.classify import classify
from pinman.health.outcome import Kind
from pinman.health.result import ProbeResult
from pinman.profile.discovery import find_profile
from pinman.runtime.choice import choose
from pinman.runtime.resolution import override_for, target
from pinman.state.fsutil import atomic_write
from pinman.state.overrides import profile_key

COOLDOWN = 600.0  # seconds per profile and endpoint
PAYLOAD_MAX = 1 << 20
TRANSCRIPT_TAIL = 1 << 18
# StopFailure's own error classes that no version change fixes (its matcher values).
NOT_SCHEMA_ERRORS = frozenset({"rate_limit", "overloaded", "authentication_failed", "billing_error",
                               "server_error"})
# Set by the client for its hooks: a probe run with them would act as part of that session.
SESSION_VARS = ("CLAUDECODE", "CLAUDE_PID", "CLAUDE_PROJECT_DIR", "CLAUDE_EFFORT", "CLAUDE_CODE_ENTRYPOINT",
                "CLAUDE_CODE_SESSION_ID", "CLAUDE_CODE_SESSION_ATTENDED", "CLAUDE_CODE_CHILD_SESSION",
                "CLAUDE_CODE_CHILD_NOTES_DIR", "CLAUDE_CODE_MESSAGING_SOCKET", "CLAUDE_CODE_SSE_PORT", "AI_AGENT")


def main(argv: list[str]) -> int:
    """`pinman _hook stop-failure [FILE]` (default: stdin): never raises; logs to the hook log."""
    with contextlib.suppress(OSError):
        os.setsid()  # own session (when `setsid` did not do it): the client's exit must not end it
    paths = Paths.from_env()
    files = HookFiles(paths)
    if argv[:1] != ["stop-failure"] or len(argv) > 2:
        log(files, f"unknown hook call: {' '.join(argv[:1])}")
        return 2
    try:
        if len(argv) == 2:
            with open(argv[1], "rb") as f:
                payload = read_payload(f)
        else:
            payload = read_payload(sys.stdin.buffer)
        action = handle(paths, payload, dict(os.environ))
    except Exception as e:  # noqa: BLE001 - detached: the log is the only place a failure can go
        log(files, "failed: " + "".join(traceback.format_exception_only(e)).strip())
        log(files, "".join(traceback.format_tb(e.__traceback__)))
        return 1
    log(files, f"done: {action}")
    return 0


def log(files: HookFiles, line: str, environ: Mapping[str, str] | None = None) -> None:
    from pinman.state.journal import scrub, secret_values

    files.folder.mkdir(parents=True, exist_ok=True)
    text = scrub(line, secret_values(environ))
    with open(files.log, "a", encoding="utf-8") as f:
        f.write(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} [{os.getpid()}] {text}\n")


def read_payload(stream: BinaryIO) -> dict[str, Any]:
    """The hook's JSON payload (bounded); {} when it is not a JSON object."""
    raw = stream.read(PAYLOAD_MAX)
    try:
        doc = json.loads(raw)
    except (ValueError, RecursionError):
        return {}
    return doc if isinstance(doc, dict) else {}


def probe_env(environ: Mapping[str, str]) -> dict[str, str]:
    return {k: v for k, v in environ.items() if k not in SESSION_VARS}


def client_version(payload: Mapping[str, Any], environ: Mapping[str, str]) -> str | None:
    """The version of the client that failed: its transcript's entries carry it."""
    path = payload.get("transcript_path")
    if isinstance(path, str) and path:
        try:
            with open(path, "rb") as f:
                f.seek(0, os.SEEK_END)
                f.seek(max(0, f.tell() - TRANSCRIPT_TAIL))
                tail = f.read()
        except OSError:
            tail = b""
        for line in reversed(tail.splitlines()):
            try:
                doc = json.loads(line)
            except (ValueError, RecursionError):
                continue
            v = doc.get("version") if isinstance(doc, dict) else None
            if isinstance(v, str) and re.fullmatch(r"\d+\.\d+\.\d+\S*", v):
                return v
    # The client names itself to its hooks as claude-code_2-1-331_… in some versions.
    m = re.match(r"claude-code_(\d+)-(\d+)-(\d+)", environ.get("AI_AGENT", ""))
    return ".".join(m.groups()) if m else None


def failure_kind(payload: Mapping[str, Any]) -> tuple[str, Any]:
    """('schema' | another outcome kind, the Outcome) of the failure text."""

    text = str(payload.get("last_assistant_message") or payload.get("error") or "")
    outcome = classify(ProbeResult("cli", 1, None, None, text, 0.0, is_error=True))
    if str(payload.get("error") or "") in NOT_SCHEMA_ERRORS and outcome.kind == Kind.SCHEMA:
        return "client-said-" + str(payload["error"]), outcome
    return outcome.kind.value, outcome


def handle(paths: Paths, payload: Mapping[str, Any], environ: Mapping[str, str]) -> str:
    """Decide and act; returns a short word for the log."""
    from pinman.state.journal import Entry, Journal, endpoint_of
    from pinman.health.prober import run_env

    files = HookFiles(paths)
    env = probe_env(environ)
    cwd = Path(str(payload.get("cwd") or "/"))
    try:
        profile = find_profile(choose(cwd, paths, env).name, cwd, paths)
        runs = target(paths, profile).version
    except PinmanError as e:
        log(files, f"no pinman profile for {cwd}: {e.message}", env)
        return "no-profile"
    key = profile_key(profile.name, profile.project_root)
    endpoint = endpoint_of(run_env(paths, profile, env).get("ANTHROPIC_BASE_URL"))
    kind, outcome = failure_kind(payload)
    failed = client_version(payload, environ)
    log(files, f"StopFailure in {cwd}: profile {profile.name} runs {runs}, failed client {failed or '?'}, "
               f"{kind} at {endpoint}", env)

    def record(action: str, message: str, version: str | None = None) -> str:
        Journal(paths).append(Entry("hook", key, version or failed or runs, endpoint=endpoint, outcome=kind,
                                    status=outcome.status, rejected=outcome.rejected, message=message[:300],
                                    extra={"trigger": "StopFailure", "action": action}), env)
        return action

    if kind != "schema":
        return record("ignored", f"StopFailure: {kind} ({outcome.message[:160]}): a version change cannot fix it")
    if failed is None:
        return record("unknown-client", "StopFailure: cannot tell which client failed: nothing changed")
    if failed != runs:
        return _foreign(paths, profile, failed, runs, endpoint, outcome, record, env)
    return _check(paths, profile, key, endpoint, env, record)


def _foreign(paths: Paths, profile: Any, failed: str, runs: str, endpoint: str, outcome: Any,
             record: Any, env: Mapping[str, str]) -> str:

    ov = override_for(paths, profile)
    if ov is not None and ov.previous == failed:
        # This failure came in while (or just before) pinman rolled that version back.
        return record("already-rolled-back", f"StopFailure from {failed}: already rolled back to {ov.version}")
    add(HookFiles(paths), f"pinman: Claude Code {failed} failed ({outcome.rejected or 'request'} rejected by "
        f"{host(endpoint)}), but pinman runs {runs} for {profile.name} here now; that client is not it (a session "
        f"started before a switch, or one not started through pinman's shim), so nothing changed · pinman doctor", env)
    return record("not-ours", f"StopFailure from {failed}, not the {runs} pinman runs here: user told, nothing changed")


def _check(paths: Paths, profile: Any, key: str, endpoint: str, env: Mapping[str, str], record: Any) -> str:
    from filelock import FileLock, Timeout

    from pinman.policy.ladder import check

    files = HookFiles(paths)
    name = hashlib.sha256(f"{key}\0{endpoint}".encode()).hexdigest()[:16]
    paths.locks.mkdir(parents=True, exist_ok=True)
    try:
        with FileLock(str(files.lock(name)), timeout=0, mode=0o600):
            if not _cooled_down(files, name):
                return record("cooling-down", f"StopFailure: checked less than {int(COOLDOWN)} s ago: not again yet")
            _mark_run(files, name)
            report = check(paths, profile, environ=env)
    except Timeout:
        return record("busy", "StopFailure: a check for this profile and endpoint is already running")
    note_checked(files, [profile])
    line = describe(report, "after a failed request")
    if line:
        add(files, line, env)
    return record(report.action, f"StopFailure → check: {report.action}: {report.detail}", report.version)


def _cooled_down(files: HookFiles, name: str, now: float | None = None) -> bool:
    since = (time.time() if now is None else now) - _runs(files).get(name, 0.0)
    return not 0 <= since < COOLDOWN  # a time in the future (clock set back) does not block


def _runs(files: HookFiles) -> dict[str, float]:
    try:
        doc = json.loads(files.cooldown.read_bytes())
    except (OSError, ValueError, RecursionError):
        return {}
    runs = doc.get("runs") if isinstance(doc, dict) else None
    if not isinstance(runs, dict):
        return {}
    return {k: float(v) for k, v in runs.items()
            if isinstance(v, (int, float)) and not isinstance(v, bool) and abs(v) < 1e12}


def _mark_run(files: HookFiles, name: str) -> None:

    now = time.time()
    runs = {k: v for k, v in _runs(files).items() if now - v < COOLDOWN}  # the file stays small
    runs[name] = now
    atomic_write(files.cooldown, json.dumps({"schema": 1, "runs": runs}) + "\n", mode=0o600)
