"""The StopFailure handler: a failed turn of the user's own `claude` → the verified rollback.

Started detached by the sh hook (`python -P -m pinman _hook stop-failure`, the payload on stdin,
in its own session so the client's exit does not kill it), or by the SessionEnd hook (`_hook
session-end`) when a session ended on an API error: the client kills the StopFailure hook as it
exits, sometimes before that hook ran a line (a `claude -p` run in a terminal), but waits for
SessionEnd. Whichever hands a failure over first acts (`handovers`). It acts only when all of
these hold, and journals what it decided either way (event "hook"):

1. the failure can be a schema rejection (pinman.health.classify on the error text; credit, 529,
   401/403, rate limits, network and mid-stream errors are failures no version change fixes);
2. the failing client is the version pinman's shim runs for that folder (read from the session
   transcript): another client (a session started before a switch, or one given pinman's hooks
   some other way) gets a notice instead, because switching pinman's version would not change it;
3. no other handler runs for this profile and endpoint (a lock), and none ran in the last
   `COOLDOWN` seconds, so a broken endpoint is not probed in a loop (the user is told when the
   next try can come).

Then it runs the same ladder as `pinman check` (`policy.ladder`: probe current; a client switch that
drops the rejected field, measured and verified; else re-probe the last known-good against the same
endpoint and switch only if that is ok) and leaves a notice for the next session.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import sys
import time
import traceback
from collections.abc import Mapping
from pathlib import Path
from typing import Any, BinaryIO

from pinman.autopilot import transcript
from pinman.autopilot.files import SESSION_VARS, HookFiles
from pinman.autopilot.handovers import claim, done
from pinman.errors import PinmanError
from pinman.paths import Paths
from pinman.autopilot.notices import add, describe, host, note_checked
from pinman.health.classify import classify
from pinman.health.outcome import Kind
from pinman.health.result import ProbeResult
from pinman.profile.discovery import find_profile
from pinman.runtime.choice import choose
from pinman.runtime.resolution import override_for, target
from pinman.state.fsutil import append_line, atomic_write, printable, read_regular
from pinman.state.overrides import profile_key

COOLDOWN = 600.0  # seconds per profile and endpoint
AWAIT_TURN = 3.0  # seconds StopFailure's handler waits for the transcript to hold the failed turn
PAYLOAD_MAX = 1 << 20
TRIGGERS = {"stop-failure": "StopFailure", "session-end": "SessionEnd"}
# StopFailure's own error classes that no version change fixes (its matcher values).
NOT_SCHEMA_ERRORS = frozenset({"rate_limit", "overloaded", "authentication_failed", "billing_error",
                               "server_error"})


def main(argv: list[str]) -> int:
    """`pinman _hook stop-failure|session-end [FILE]` (default: stdin): never raises; logs to the hook log."""
    with contextlib.suppress(OSError):
        os.setsid()  # own session (when `setsid` did not do it): the client's exit must not end it
    paths = Paths.from_env()
    files = HookFiles(paths)
    if argv[:1] not in ([t] for t in TRIGGERS) or len(argv) > 2:
        log(files, f"unknown hook call: {' '.join(argv[:1])}")
        return 2
    try:
        if len(argv) == 2:
            payload = parse_payload(read_regular(argv[1], PAYLOAD_MAX))
        else:
            payload = read_payload(sys.stdin.buffer)
        action = handle(paths, payload, dict(os.environ), trigger=TRIGGERS[argv[0]])
    except Exception as e:  # noqa: BLE001 - detached: the log is the only place a failure can go
        log(files, "failed: " + "".join(traceback.format_exception_only(e)).strip())
        log(files, "".join(traceback.format_tb(e.__traceback__)))
        return 1
    log(files, f"done: {action}")
    return 0


def log(files: HookFiles, line: str, environ: Mapping[str, str] | None = None) -> None:
    """One line in the hook log: no secret, no control character from a payload (escaped), never
    written through a link planted at the log (then nothing is logged)."""
    from pinman.state.journal import scrub, secret_values

    text = printable(scrub(line, secret_values(environ)))
    stamped = f"{time.strftime('%Y-%m-%dT%H:%M:%S')} [{os.getpid()}] {text}"
    try:
        files.private(files.folder)
        try:
            append_line(files.log, stamped)
        except OSError as e:
            if e.errno != errno.ELOOP:
                raise
            files.log.unlink()  # a link planted before the folder was pinman's alone: gone, not followed
            append_line(files.log, stamped)
    except (OSError, PinmanError):
        pass


def read_payload(stream: BinaryIO) -> dict[str, Any]:
    """The hook's JSON payload (bounded); {} when it is not a JSON object."""
    return parse_payload(stream.read(PAYLOAD_MAX))


def parse_payload(raw: bytes) -> dict[str, Any]:
    try:
        doc = json.loads(raw)
    except (ValueError, RecursionError):
        return {}
    return doc if isinstance(doc, dict) else {}


def probe_env(environ: Mapping[str, str]) -> dict[str, str]:
    return {k: v for k, v in environ.items() if k not in SESSION_VARS}


def failure_kind(payload: Mapping[str, Any]) -> tuple[str, Any]:
    """('schema' | another outcome kind, the Outcome) of the failure text."""

    text = str(payload.get("last_assistant_message") or payload.get("error") or "")
    outcome = classify(ProbeResult("cli", 1, None, None, text, 0.0, is_error=True))
    if str(payload.get("error") or "") in NOT_SCHEMA_ERRORS and outcome.kind == Kind.SCHEMA:
        return "client-said-" + str(payload["error"]), outcome
    return outcome.kind.value, outcome


def handle(paths: Paths, payload: Mapping[str, Any], environ: Mapping[str, str], *,
           trigger: str = "StopFailure") -> str:
    """Decide and act; returns a short word for the log."""
    files = HookFiles(paths)
    found = transcript.entries(payload)
    if trigger == "StopFailure" and payload.get("transcript_path") and transcript.last_failure(found) is None:
        found = _await_failed_turn(payload, found)
    if trigger == "SessionEnd":
        failure = transcript.failure_payload(payload, found)
        if failure is None:
            return "no-failure"  # the session went on after its last API error
        payload = failure
    key = transcript.failure_key(payload, found)
    session = payload.get("session_id") if isinstance(payload.get("session_id"), str) else None
    at = transcript.failure_at(found)
    log(files, f"{trigger}: failure {key or '?'} at {at or 'an unseen turn'}", environ)
    if key is not None and not claim(files, key, session=session, at=at):
        return "handed-over-already"  # by the other hook: one failure, one action
    try:
        return _handle(paths, payload, environ, trigger, transcript.client_version(found, environ))
    finally:
        if key is not None:
            done(files, key)


def _await_failed_turn(payload: Mapping[str, Any], found: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The transcript once it holds the failed turn. The client can fire StopFailure before it has
    written that turn; read then, the failure would get another key than SessionEnd's hand-over of
    the same failure (`transcript.failure_key`), and both would act on it. Bounded: a transcript
    that never shows it is taken as it is."""
    deadline = time.monotonic() + AWAIT_TURN
    while time.monotonic() < deadline:
        time.sleep(0.1)
        again = transcript.entries(payload)
        if transcript.last_failure(again) is not None:
            return again
    return found


def _handle(paths: Paths, payload: Mapping[str, Any], environ: Mapping[str, str], trigger: str,
            failed: str | None) -> str:
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
    log(files, f"{trigger} in {cwd}: profile {profile.name} runs {runs}, failed client {failed or '?'}, "
               f"{kind} at {endpoint}", env)

    def record(action: str, message: str, version: str | None = None) -> str:
        Journal(paths).append(Entry("hook", key, version or failed or runs, endpoint=endpoint, outcome=kind,
                                    status=outcome.status, rejected=outcome.rejected, message=message[:300],
                                    extra={"trigger": trigger, "action": action}), env)
        return action

    if kind != "schema":
        return record("ignored", f"StopFailure: {kind} ({outcome.message[:160]}): a version change cannot fix it")
    if failed is None:
        return record("unknown-client", "StopFailure: cannot tell which client failed: nothing changed")
    if failed != runs:
        return _foreign(paths, profile, failed, runs, endpoint, outcome, record, env)
    return _check(paths, profile, key, endpoint, env, record, (failed, outcome))


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


def _check(paths: Paths, profile: Any, key: str, endpoint: str, env: Mapping[str, str], record: Any,
           failure: tuple[str, Any]) -> str:
    from filelock import FileLock, Timeout

    from pinman.policy.ladder import check

    files = HookFiles(paths)
    name = hashlib.sha256(f"{key}\0{endpoint}".encode()).hexdigest()[:16]
    files.private(paths.locks)
    try:
        with FileLock(str(files.lock(name)), timeout=0, mode=0o600):
            if not _cooled_down(files, name):
                _say_cooling(files, profile, endpoint, failure, _runs(files).get(name, time.time()), env)
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


def _say_cooling(files: HookFiles, profile: Any, endpoint: str, failure: tuple[str, Any], last: float,
                 env: Mapping[str, str]) -> None:
    """A failure in the cool-down changes nothing: the user hears so, and when the next try can come."""
    version, outcome = failure
    at = time.strftime("%H:%M", time.localtime(last))
    nxt = time.strftime("%H:%M", time.localtime(last + COOLDOWN))
    add(files, f"pinman: Claude Code {version} failed again for {profile.name} ({outcome.rejected or 'request'} "
        f"rejected by {host(endpoint)}); pinman checked at {at} and checks again on a failure after {nxt}; "
        f"until then claude stays as it is · pinman check {profile.name} checks now", env)


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
