"""Real 2.1.331 starting Claude Code of its own (`claude --bg`: the background service, its terminal
hosts and the session) through pinman's shim, named in CLAUDE_CODE_PROCESS_WRAPPER by the shim's
pointer: every one is the pinned binary, and the session carries pinman's hooks."""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from cli_support import claude, pinman

from pinman.fingerprint.fakeapi import FakeAPI
from pinman.paths import Paths

pytestmark = pytest.mark.e2e

V2 = "2.1.331"
TOKEN = "sk-ant-oat01-self-spawn-SECRET-0123456789abcdef"


def _ours(paths: Paths) -> dict[int, list[str]]:
    """pid -> argv of every process running a binary of this test's store."""
    out = {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                argv = d.joinpath("cmdline").read_bytes().decode(errors="replace").split("\0")[:-1]
            except OSError:
                continue
            if argv and argv[0].startswith(str(paths.store)):
                out[int(d.name)] = argv
    return out


def _environ(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes().decode(errors="replace").split("\0")
    return dict(kv.split("=", 1) for kv in raw if "=" in kv)


def test_background_sessions_start_through_the_shim_on_the_pinned_binary(
        pinman_home: Paths, seeded_home: Callable[..., list], tmp_path: Path) -> None:
    (inst,) = seeded_home(V2)
    (pinman_home.user_profiles).mkdir(parents=True)
    (pinman_home.user_profiles / "team.toml").write_text(f'[claude-code]\nversion = "{V2}"\n')
    work = tmp_path / "work"
    work.mkdir()
    home = Path(os.environ["HOME"])
    (home / ".claude.json").write_text(json.dumps({"hasCompletedOnboarding": True,
                                                   "projects": {str(work): {"hasTrustDialogAccepted": True}}}))
    assert pinman(pinman_home, work, "use", "team").code == 0
    assert pinman(pinman_home, work, "hooks", "install").code == 0
    hooks = str(pinman_home.claude_hooks / "settings.json")
    # The endpoint never answers: the session waits on it, so it is there to be looked at (against an
    # endpoint that answers, a session can be done and gone between two looks).
    with FakeAPI("hang") as api:
        env = {"ANTHROPIC_BASE_URL": api.url, "ANTHROPIC_AUTH_TOKEN": TOKEN,
               "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1", "CLAUDE_CODE_MAX_RETRIES": "1"}
        try:
            r = claude(pinman_home, work, "--bg", "say OK", **env)
            assert r.code == 0 and "backgrounded" in r.out, r.text
            host = _wait_for(pinman_home, lambda argv: "--bg-pty-host" in argv)
            assert _environ(host)["CLAUDE_CODE_PROCESS_WRAPPER"] == json.dumps([str(pinman_home.shim)])
            procs = _ours(pinman_home).values()
            service = [a for a in procs if a[1:3] == ["daemon", "run"]]
            hosts = [a for a in procs if "--bg-pty-host" in a]
            assert service and all(a[0] == str(inst.binary) for a in procs)
            # the host runs the session through the shim: the shim, then the same pinned binary
            assert any(a[a.index("--") + 1:a.index("--") + 3] == [str(pinman_home.shim), str(inst.binary)]
                       for a in hosts), hosts
            # The session itself: a warm spare (started by a host, through the shim, as asserted) takes
            # it over its socket when one is ready, and keeps its argv; else a process of its own starts,
            # through the shim too, and must carry pinman's hooks once (the client hands its session the
            # --settings the shim gave it). Which of the two happens is the client's race.
            session = _wait_for(pinman_home, lambda argv: "--session-id" in argv and "--bg-pty-host" not in argv,
                                timeout=20, required=False)
            if session is not None:
                argv = _ours(pinman_home)[session]
                assert argv[0] == str(inst.binary)
                assert argv.count(hooks) == 1 and argv[argv.index(hooks) - 1] == "--settings", argv
                assert "--plugin-dir" not in argv and argv[-1] == "say OK", argv
        finally:
            claude(pinman_home, work, "daemon", "stop", "--any", **env)
            _reap(pinman_home)


def _wait_for(paths: Paths, want: Callable[[list[str]], bool], timeout: float = 90,
              required: bool = True) -> int | None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [pid for pid, argv in _ours(paths).items() if want(argv)]
        if found:
            return found[0]
        time.sleep(0.2)
    if not required:
        return None
    raise AssertionError(f"no such process; running: {_ours(paths)}")


def _reap(paths: Paths) -> None:
    """The processes this test started end (the service was asked to stop; stragglers are killed)."""
    deadline = time.monotonic() + 20
    while _ours(paths) and time.monotonic() < deadline:
        time.sleep(0.2)
    for pid in _ours(paths):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
