"""How pinman's hooks reach the client and how the user hears from them, without a real client:
the notice on a `claude -p` run's stderr, the cool-down said aloud, SessionEnd's hand-over, and a
caller's own `--settings`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from pinman.autopilot import handler, notices, scripts
from pinman.autopilot.files import HookFiles
from pinman.autopilot.settings import write_files
from pinman.paths import Paths
from pinman.runtime.choice import write_global
from pinman.runtime.client_hooks import hook_args
from pinman.runtime.pointers import Pointer, write_pointer
from pinman.runtime.shim import shim_text
from pinman.state.journal import Journal

SCHEMA = 'API Error: 400 {"type":"error","error":{"type":"invalid_request_error","message":"output_config: Extra inputs are not permitted"}}'


@pytest.fixture(autouse=True)
def _no_probe(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PINMAN_PROBE", raising=False)
    monkeypatch.delenv("CLAUDE_CODE_ENTRYPOINT", raising=False)


def _shim(paths: Paths, tmp_path: Path, version: str = "2.1.331") -> Path:
    """The real shim text (fake python), a global pointer to a fake client that prints its arguments."""
    binary = tmp_path / "bin" / "claude"
    binary.parent.mkdir(parents=True)
    binary.write_text('#!/bin/sh\nfor a; do printf "%s\\n" "$a"; done\n')
    binary.chmod(0o755)
    src = tmp_path / "profiles" / "stable.toml"
    src.parent.mkdir(parents=True)
    src.write_text(f'[claude-code]\nversion = "{version}"\n')
    write_global(paths, "stable")
    write_pointer(paths, None, Pointer("stable", version, binary, src, {"DISABLE_AUTOUPDATER": "1"}))
    paths.shim.parent.mkdir(parents=True, exist_ok=True)
    paths.shim.write_text(shim_text(paths, python=str(tmp_path / "no-python")))
    paths.shim.chmod(0o755)
    return paths.shim


def _run(shim: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(shim), *args], cwd=cwd, capture_output=True, text=True, timeout=30)


# ---------------------------------------------------------------- 9. a `claude -p` user hears it on stderr, once


def test_the_shim_prints_the_notice_before_a_print_run_once(pinman_home: Paths, tmp_path: Path) -> None:
    shim = _shim(pinman_home, tmp_path)
    files = HookFiles(pinman_home)
    notices.add(files, "pinman: rolled back stable 2.1.331 → 1.0.100 at 14:02 · pinman status")
    notices.add(files, "pinman: second line")
    interactive = _run(shim, tmp_path, "--resume")
    assert interactive.stderr == "" and files.notice.exists()  # left for the session's systemMessage
    first = _run(shim, tmp_path, "--model", "x", "-p", "hi")
    assert first.stderr == ("pinman: rolled back stable 2.1.331 → 1.0.100 at 14:02 · pinman status\n"
                            "pinman: second line\n")
    assert first.stdout.splitlines() == ["--model", "x", "-p", "hi"]  # the client's arguments untouched
    assert not files.notice.exists()
    assert _run(shim, tmp_path, "-p", "hi").stderr == ""
    notices.add(files, "pinman: third")
    assert _run(shim, tmp_path, "--print", "hi").stderr == "pinman: third\n"


def test_the_shim_shows_no_notice_pinman_could_not_have_written(pinman_home: Paths, tmp_path: Path) -> None:
    shim = _shim(pinman_home, tmp_path)
    files = HookFiles(pinman_home)
    files.folder.mkdir(parents=True, exist_ok=True)
    files.notice.write_bytes(b"pinman: ok\n\x1b]0;title\x07\npinman: \"quoted\"\n")
    assert _run(shim, tmp_path, "-p", "hi").stderr == "pinman: ok\n"
    planted = tmp_path / "planted"
    planted.write_text("pinman: from elsewhere\n")
    files.notice.symlink_to(planted)
    assert _run(shim, tmp_path, "-p", "hi").stderr == ""
    assert not files.notice.is_symlink() and planted.exists()


def test_session_start_leaves_the_notice_to_a_print_run(pinman_home: Paths, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    py = tmp_path / "fake-python"
    py.write_text("#!/bin/sh\n")
    py.chmod(0o755)
    monkeypatch.setattr(sys, "executable", str(py))
    files = HookFiles(pinman_home)
    scripts.write_scripts(files)
    files.next_due.write_text(f"{int(time.time()) + 3600}\n")
    notices.add(files, "pinman: rolled back")
    for entrypoint in ("sdk-cli", "sdk-py", "sdk-ts"):  # `claude -p`, the Agent SDKs: no systemMessage shown
        r = subprocess.run([str(files.session_start)], input="{}", capture_output=True, text=True, timeout=30,
                           env={**os.environ, "CLAUDE_CODE_ENTRYPOINT": entrypoint})
        assert (r.returncode, r.stdout) == (0, "") and notices.unseen(files) == ["pinman: rolled back"]
    r = subprocess.run([str(files.session_start)], input="{}", capture_output=True, text=True, timeout=30,
                       env={**os.environ, "CLAUDE_CODE_ENTRYPOINT": "cli"})
    assert json.loads(r.stdout) == {"systemMessage": "pinman: rolled back"}
    assert notices.unseen(files) == []


def test_the_slow_path_takes_the_notice_as_the_shim_does(pinman_home: Paths) -> None:
    from pinman.runtime.client_hooks import print_mode
    from pinman.state.notice import take

    files = HookFiles(pinman_home)
    notices.add(files, "pinman: one")
    assert print_mode(["--model", "x", "-p", "hi"]) and print_mode(["--print"]) and not print_mode(["--resume"])
    assert take(files.notice) == ["pinman: one"] and take(files.notice) == []


# ---------------------------------------------------------------- 11. the cool-down is said, with the next try


@pytest.fixture
def team(pinman_home: Paths, tmp_path: Path) -> Path:
    p = pinman_home.user_profiles / "team.toml"
    p.parent.mkdir(parents=True)
    p.write_text('[claude-code]\nversion = "2.1.331"\n')
    write_global(pinman_home, "team")
    work = tmp_path / "work"
    work.mkdir()
    return work


def _transcript(work: Path, version: str = "2.1.331", *, failed: bool = True, uuid: str = "u-1") -> str:
    t = work / "t.jsonl"
    last = {"type": "assistant", "uuid": uuid, "version": version, "isApiErrorMessage": failed, "error": "unknown",
            "message": {"content": [{"type": "text", "text": SCHEMA if failed else "OK"}]}}
    t.write_text("\n".join(json.dumps(d) for d in ({"type": "user", "version": version}, last,
                                                     {"type": "cost-state"})) + "\n")
    return str(t)


def _payload(work: Path, **extra: Any) -> dict[str, Any]:
    return {"hook_event_name": "StopFailure", "error": "unknown", "last_assistant_message": SCHEMA,
            "cwd": str(work), "transcript_path": _transcript(work), **extra}


ENV = {"ANTHROPIC_BASE_URL": "http://127.0.0.1:4000"}


def fake_check(seen: list[Any], action: str = "no-known-good") -> Any:
    from pinman.health.outcome import Kind, Outcome
    from pinman.health.report import CheckReport

    def check(paths: Paths, profile: Any, **kw: Any) -> CheckReport:
        seen.append(profile.name)
        outcome = Outcome(Kind.SCHEMA, 400, "output_config", "400 output_config: Extra inputs are not permitted", "")
        return CheckReport(profile.name, "2.1.331", "http://127.0.0.1:4000", outcome, 1.0, action=action,
                           detail="no version checked ok at this endpoint")

    return check


def test_a_failure_in_the_cool_down_is_told_with_the_time_of_the_next_try(pinman_home: Paths, team: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[Any] = []
    monkeypatch.setattr("pinman.health.rollback.check", fake_check(seen))
    files = HookFiles(pinman_home)
    before = time.time()
    assert handler.handle(pinman_home, _payload(team), ENV) == "no-known-good"
    first = notices.unseen(files)
    for _ in range(2):  # two more failures inside the window: one line, not two
        assert handler.handle(pinman_home, _payload(team), ENV) == "cooling-down"
    assert len(seen) == 1
    lines = notices.unseen(files)
    (cooling,) = lines[len(first):]
    nxt = time.strftime("%H:%M", time.localtime(before + handler.COOLDOWN))
    assert cooling.startswith("pinman: Claude Code 2.1.331 failed again for team (output_config rejected by "
                              "127.0.0.1:4000); pinman checked at ")
    assert f"checks again on a failure after {nxt}" in cooling and cooling.endswith("pinman check team checks now")


# ---------------------------------------------------------------- 10. SessionEnd hands the failure over too, once


def test_session_end_hands_over_the_failure_the_session_ended_on(pinman_home: Paths, team: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[Any] = []
    monkeypatch.setattr("pinman.health.rollback.check", fake_check(seen))
    end = {"hook_event_name": "SessionEnd", "session_id": "s-1", "cwd": str(team), "reason": "other",
           "transcript_path": _transcript(team)}
    assert handler.handle(pinman_home, end, ENV, trigger="SessionEnd") == "no-known-good"
    (entry,) = [e for e in Journal(pinman_home).entries() if e.event == "hook"]
    assert entry.extra == {"trigger": "SessionEnd", "action": "no-known-good"} and entry.outcome == "schema"
    # StopFailure's handler for the same failure, arriving late, does nothing more.
    assert handler.handle(pinman_home, _payload(team, session_id="s-1"), ENV) == "handed-over-already"
    assert len(seen) == 1 and len([e for e in Journal(pinman_home).entries() if e.event == "hook"]) == 1
    # A session that went on after its error ended well: nothing to hand over.
    ok = {**end, "session_id": "s-2", "transcript_path": _transcript(team, failed=False, uuid="u-2")}
    assert handler.handle(pinman_home, ok, ENV, trigger="SessionEnd") == "no-failure"


def test_stop_failure_fired_before_the_transcript_holds_the_turn_names_it_as_session_end_does(
        pinman_home: Paths, team: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The client may fire StopFailure before it writes the failed turn: its handler waits for the
    turn, so SessionEnd's hand-over of the same failure is known as the same (one action)."""
    import threading

    seen: list[Any] = []
    monkeypatch.setattr("pinman.health.rollback.check", fake_check(seen))
    payload = _payload(team, session_id="s-9")
    written = payload["transcript_path"]
    lines = Path(written).read_text().splitlines()
    Path(written).write_text(lines[0] + "\n")  # the user's turn only, for now
    later = threading.Timer(0.5, lambda: Path(written).write_text("\n".join(lines) + "\n"))
    later.start()
    try:
        assert handler.handle(pinman_home, payload, ENV) == "no-known-good"
    finally:
        later.join()
    end = {"hook_event_name": "SessionEnd", "session_id": "s-9", "cwd": str(team), "reason": "other",
           "transcript_path": written}
    assert handler.handle(pinman_home, end, ENV, trigger="SessionEnd") == "handed-over-already"
    assert len(seen) == 1


def test_a_failure_whose_handler_died_is_taken_over_and_a_running_one_waited_for(pinman_home: Paths) -> None:
    from pinman.autopilot import handovers

    files = HookFiles(pinman_home)
    gone = subprocess.Popen(["true"])
    gone.wait()  # its pid names no process now: killed with the client, say
    files.folder.mkdir(parents=True)
    files.handovers.write_text(json.dumps({"schema": 2, "seen": {
        "s:u": {"ts": time.time(), "pid": gone.pid, "done": False}}}))
    assert handovers.claim(files, "s:u", wait=0)  # taken over
    started = time.monotonic()
    assert not handovers.claim(files, "s:u", wait=0.3, poll=0.05)  # its claimant (this process) still runs
    assert time.monotonic() - started >= 0.3  # ...and was waited for
    handovers.done(files, "s:u")
    assert not handovers.claim(files, "s:u", wait=30)  # done: at once


def test_a_claim_that_did_not_see_the_failed_turn_is_the_same_failure_as_one_that_did(pinman_home: Paths) -> None:
    """StopFailure can fire before the client wrote the failed turn: its key then names the prompt,
    SessionEnd's the entry. One session, times close: one failure, one action."""
    from pinman.autopilot import handovers

    files = HookFiles(pinman_home)
    now = time.time()
    assert handovers.claim(files, "s:prompt-1", session="s", at=None, wait=0)  # StopFailure, entry unseen
    assert not handovers.claim(files, "s:uuid-1", session="s", at=now - 1, wait=0)  # SessionEnd: running
    handovers.done(files, "s:prompt-1")
    assert not handovers.claim(files, "s:uuid-1", session="s", at=now - 1, wait=30)  # done: not again
    # Another session, or the same one much later, is another failure.
    assert handovers.claim(files, "t:uuid-1", session="t", at=now - 1, wait=0)
    assert handovers.claim(files, "s:uuid-2", session="s", at=now + handovers.SAME + 5, wait=0)
    # Two claims that both saw their entry are one failure only by key: a quick second failure acts.
    assert handovers.claim(files, "u:uuid-1", session="u", at=now, wait=0)
    handovers.done(files, "u:uuid-1")
    assert handovers.claim(files, "u:uuid-2", session="u", at=now + 2, wait=0)


def test_a_claim_saved_while_another_waited_for_the_lock_is_seen(pinman_home: Paths) -> None:
    """Two hooks claim one failure at once: the one that waited for the lock reads a claim stamped
    after it started waiting, which is running, not a time to ignore (both acted: 'busy')."""
    from pinman.autopilot import handovers

    files = HookFiles(pinman_home)
    files.folder.mkdir(parents=True)
    files.handovers.write_text(json.dumps({"schema": 2, "seen": {
        "s:u": {"ts": time.time() + 0.5, "pid": os.getpid(), "done": False, "session": "s",
                "at": time.time(), "exact": True}}}))
    assert not handovers.claim(files, "s:u", session="s", at=time.time(), wait=0)


def test_the_failed_turns_time_comes_from_its_transcript_entry() -> None:
    from pinman.autopilot import transcript

    found = [{"type": "user"}, {"type": "assistant", "isApiErrorMessage": True, "uuid": "x",
                                "timestamp": "2026-12-06T10:00:00.500Z"}]
    assert transcript.failure_at(found) == 1796551200.5
    assert transcript.failure_at([{**found[1], "timestamp": "yesterday"}]) is None
    assert transcript.failure_at([{**found[1], "isApiErrorMessage": False}]) is None


def test_the_session_end_hook_starts_python_only_after_an_api_error(pinman_home: Paths, tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    calls = tmp_path / "calls"
    py = tmp_path / "fake-python"
    py.write_text(f'#!/bin/sh\necho "$@" >> {calls}\ncat >> {calls}\n')
    py.chmod(0o755)
    monkeypatch.setattr(sys, "executable", str(py))
    files = HookFiles(pinman_home)
    scripts.write_scripts(files)
    work = tmp_path / "w"
    work.mkdir()
    good = json.dumps({"session_id": "s", "transcript_path": _transcript(work, failed=False), "cwd": str(work)})
    r = subprocess.run(["/bin/sh", "-x", str(files.session_end)], input=good, capture_output=True, text=True,
                       timeout=30)
    assert r.returncode == 0 and "-m pinman" not in r.stderr and not calls.exists()
    bad = json.dumps({"session_id": "s", "transcript_path": _transcript(work), "cwd": str(work),
                      "hook_event_name": "SessionEnd"})
    r = subprocess.run([str(files.session_end)], input=bad, capture_output=True, text=True, timeout=30)
    assert (r.returncode, r.stdout) == (0, "")
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and bad not in (calls.read_text() if calls.exists() else ""):
        time.sleep(0.05)
    assert calls.read_text() == f"-P -m pinman _hook session-end\n{bad}\n"
    for hostile in ('{"transcript_path": "/dev/zero"}', '{"transcript_path": "rel/path"}', "not json", ""):
        r = subprocess.run([str(files.session_end)], input=hostile, capture_output=True, text=True, timeout=30)
        assert (r.returncode, r.stdout) == (0, "")


# ---------------------------------------------------------------- a caller's own --settings


VERSIONS = ["1.0.61", "1.0.62", "1.0.100", "2.0.77", "2.1.77", "2.1.78", "2.1.168", "2.1.169", "2.1.331"]
CALLER = [["--settings", "mine.json", "-p", "hi"], ["-p", "hi", "--settings", '{"model":"x"}'],
          ["--settings=mine.json", "-p"], ["--verbose", "--settings"], ["-p", "--", "--settings", "x"]]


def test_a_callers_own_settings_is_the_only_settings_the_client_gets(pinman_home: Paths, tmp_path: Path) -> None:
    files = HookFiles(pinman_home)
    write_files(files)
    shim = shim_text(pinman_home)
    block = shim[shim.index("        case $#:"):shim.index("        exec \"$_pm_bin\"")]
    for version in VERSIONS:
        for argv in CALLER + [["-p", "hi"], ["--version"]]:
            script = f"_pm_ver={version}\n{block}for a; do printf '%s\\n' \"$a\"; done\n"
            out = subprocess.run(["/bin/sh", "-c", script, "sh", *argv], capture_output=True, text=True,
                                 check=True).stdout.split("\n")[:-1]
            assert out == [*hook_args(pinman_home, version, argv), *argv], (version, argv)
    plugin = ["--plugin-dir", str(files.plugin)]
    assert hook_args(pinman_home, "2.1.331", CALLER[0]) == plugin  # hooks as a plugin, no second --settings
    assert hook_args(pinman_home, "2.1.78", CALLER[2]) == plugin
    assert hook_args(pinman_home, "2.1.77", CALLER[0]) == []  # no plugin hooks there: the caller's file alone
    assert hook_args(pinman_home, "1.0.100", CALLER[1]) == []
    assert hook_args(pinman_home, "1.0.100", ["-p", "hi"]) == ["--settings", str(files.settings_session)]
    files.plugin_hooks.unlink()
    assert hook_args(pinman_home, "2.1.331", CALLER[0]) == []  # hooks not installed: nothing
