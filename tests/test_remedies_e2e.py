"""Remedies before rollback, with real Claude Code against pinman's loopback gateway.

The gateway refuses a deny-list of body fields (in the words of a plain API, LiteLLM, Bedrock,
Vertex, a pydantic or JSON Schema validator); everything else passes. With 2.1.331 pinned and
1.0.100 known-good:
* only `output_config` refused: the user's own failed `claude -p` (hooks installed, no command
  typed) leaves `claude` on 2.1.331 with CLAUDE_CODE_EFFORT_LEVEL=auto, and the next run answers;
  `pinman check` does the same, and once the gateway accepts the field again a check drops it;
* `thinking` refused too: "cheap" ends on the verified rollback to 1.0.100, "all" on 2.1.331 with
  thinking off, "off" on exactly the rollback of before;
* `context_management` refused: 2.1.331 retries without it by itself, so nothing happens.
"""

from __future__ import annotations

import json
import os
import re
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cli_support import claude, pinman

from pinman.autopilot.files import HookFiles
from pinman.autopilot.notices import unseen
from pinman.fingerprint.fakeapi import FakeAPI
from pinman.paths import Paths
from pinman.state.journal import Journal

pytestmark = pytest.mark.e2e

V1, V2 = "1.0.100", "2.1.331"
KEY = "sk-ant-test-remedies-SECRET-0123456789"
EFFORT = "CLAUDE_CODE_EFFORT_LEVEL=auto"


@pytest.fixture
def gateway() -> Iterator[FakeAPI]:
    with FakeAPI("deny") as api:  # refuses nothing until a test says what
        yield api


def user(api: FakeAPI, **extra: str) -> dict[str, str]:
    return {"ANTHROPIC_BASE_URL": api.url, "ANTHROPIC_API_KEY": KEY, "CLAUDE_CODE_MAX_RETRIES": "1",
            "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1", **extra}


def profile(paths: Paths, version: str, remedies: str | None = None) -> None:
    extra = f'remedies = "{remedies}"\n' if remedies else ""
    (paths.user_profiles / "team.toml").write_text(f'[claude-code]\nversion = "{version}"\n\n[health]\n'
                                                    f'timeout = 60\n{extra}')


@pytest.fixture
def team(pinman_home: Paths, seeded_home: Callable[..., object], tmp_path: Path, gateway: FakeAPI) -> Path:
    """Profile `team` on 1.0.100, checked ok at the gateway (its known-good), active globally."""
    seeded_home(V1, V2)
    pinman_home.user_profiles.mkdir(parents=True)
    profile(pinman_home, V1)
    work = tmp_path / "work"
    work.mkdir()
    assert pinman(pinman_home, work, "use", "team").code == 0
    r = pinman(pinman_home, work, "check", "--json", **user(gateway))
    assert json.loads(r.out)["outcome"] == "ok", r.text
    return work


def run_ok(paths: Paths, cwd: Path, api: FakeAPI) -> list[list[str]]:
    """The user's `claude -p` answers; the body keys of the requests it sent."""
    api.clear()
    r = claude(paths, cwd, "-p", "say OK", "--output-format", "json", **user(api))
    assert r.code == 0 and json.loads(r.out)["result"] == "OK", r.text
    return [q.keys for q in api.messages_requests()]


def check(paths: Paths, cwd: Path, api: FakeAPI, **extra: str) -> tuple[int, dict]:
    r = pinman(paths, cwd, "check", "--json", **user(api, **extra))
    return r.code, json.loads(r.out)


def events(paths: Paths) -> list[str]:
    return [e.event for e in Journal(paths).entries()]


def version_here(paths: Paths, cwd: Path) -> str:
    return claude(paths, cwd, "--version").out.split()[0]


def test_the_users_failed_run_gets_a_remedy_and_the_next_run_answers(pinman_home: Paths, team: Path,
                                                                     gateway: FakeAPI) -> None:
    assert pinman(pinman_home, team, "hooks", "install").code == 0
    gateway.deny_keys, gateway.wording = {"output_config"}, "litellm"
    profile(pinman_home, V2)  # the team moves to 2.1.331; the gateway refuses one field it sends
    try:
        r = claude(pinman_home, team, "-p", "say OK", "--output-format", "json", **user(gateway))
        failed_at = time.monotonic()
        assert r.code == 1 and "output_config" in r.out, r.text
        # No pinman command typed: the StopFailure hook finds the switch, verifies it, keeps it.
        assert _handled(pinman_home) == ["remedied"]
        print(f"\n[hook] failed run -> remedy in place: {time.monotonic() - failed_at:.1f} s")
    finally:
        _no_handler_left(pinman_home)
    assert version_here(pinman_home, team) == V2  # no rollback
    notice = "\n".join(unseen(HookFiles(pinman_home)))  # the lines a session or a -p run will show
    host = f"127.0.0.1:{gateway.port}"
    assert notice.startswith(f"pinman: team stays on {V2} with {EFFORT}: output_config rejected by {host} at ")
    # the notice's lines hold no double quote (the sh hooks check that cheaply): a TOML literal string
    assert "add CLAUDE_CODE_EFFORT_LEVEL = 'auto' to [env]" in notice

    sent = run_ok(pinman_home, team, gateway)  # the next run answers, and its session is told
    assert sent and all("output_config" not in keys for keys in sent)
    assert any("thinking" in keys for keys in sent)  # only the one field is turned off
    assert not HookFiles(pinman_home).notice.exists()
    status = pinman(pinman_home, team, "status", **user(gateway)).out
    assert f"team: {V2} with {EFFORT}" in status and 'CLAUDE_CODE_EFFORT_LEVEL = "auto"' in status
    hook = [e for e in Journal(pinman_home).entries() if e.event == "hook"]
    assert [h.extra["action"] for h in hook] == ["remedied"]
    assert "remedied" in events(pinman_home) and "rollback" not in events(pinman_home)


def test_check_keeps_the_version_with_a_switch_and_drops_it_once_the_field_is_accepted(
        pinman_home: Paths, team: Path, gateway: FakeAPI) -> None:
    gateway.deny_keys, gateway.wording = {"output_config"}, "pydantic"
    profile(pinman_home, V2)
    code, doc = check(pinman_home, team, gateway)
    assert (code, doc["action"], doc["rejected"]) == (10, "remedied", "output_config"), doc
    assert doc["remedy"]["env"] == {"CLAUDE_CODE_EFFORT_LEVEL": "auto"} and doc["remedy"]["cost"] == "cheap"
    assert doc["timings"]["switched"] > doc["timings"]["detected"]
    print(f"\n[check] schema seen at {doc['timings']['detected']:.1f} s, remedy in place at "
          f"{doc['timings']['switched']:.1f} s")
    assert version_here(pinman_home, team) == V2
    assert all("output_config" not in keys for keys in run_ok(pinman_home, team, gateway))
    current = json.loads(pinman(pinman_home, team, "current", "--json", **user(gateway)).out)
    assert [(r["switches"], r["here"]) for r in current["remedies"]] == [(EFFORT, True)]
    shown = json.loads(pinman(pinman_home, team, "show", "team", "--json").out)["remedies"]
    assert shown[0]["env_lines"] == ['CLAUDE_CODE_EFFORT_LEVEL = "auto"']
    assert "export CLAUDE_CODE_EFFORT_LEVEL='auto'" in pinman(pinman_home, team, "env", **user(gateway)).out

    # Pointed at another endpoint in this shell, the plain version runs: the switch was verified
    # at the gateway only.
    with FakeAPI("ok") as elsewhere:
        assert any("output_config" in keys for keys in run_ok(pinman_home, team, elsewhere))

    code, doc = check(pinman_home, team, gateway)  # still refused: the remedy stays
    assert (code, doc["action"], doc["pin_probe"]["outcome"]) == (0, "ok", "schema"), doc
    gateway.deny_keys = set()  # the gateway is fixed
    code, doc = check(pinman_home, team, gateway)
    assert (code, doc["action"]) == (0, "recovered"), doc
    assert doc["remedy"] is None and "accepts output_config again" in doc["detail"]
    assert any("output_config" in keys for keys in run_ok(pinman_home, team, gateway))
    assert events(pinman_home)[-1] == "recovered"


@pytest.mark.parametrize("level, runs, switches", [
    ("cheap", V1, None),
    ("all", V2, {"CLAUDE_CODE_DISABLE_THINKING": "1", "CLAUDE_CODE_EFFORT_LEVEL": "auto"}),
    ("off", V1, None),
])
def test_a_gateway_refusing_thinking_too(pinman_home: Paths, team: Path, gateway: FakeAPI, level: str, runs: str,
                                         switches: dict[str, str] | None) -> None:
    gateway.deny_keys, gateway.wording = {"output_config", "thinking"}, "bedrock"
    profile(pinman_home, V2, level)
    before = len(events(pinman_home))
    code, doc = check(pinman_home, team, gateway)
    assert code == 10, doc
    assert version_here(pinman_home, team) == runs
    assert (doc["remedy"] or {}).get("env") == switches
    run_ok(pinman_home, team, gateway)
    added = events(pinman_home)[before:]
    if level == "off":  # exactly the policy of before: probe, re-probe the known-good, switch
        assert added == ["check", "check", "rollback"] and doc["notes"] == []
    if level == "cheap":  # the thinking field has no cheap switch: none was measured or probed
        assert added == ["check", "check", "rollback"]
        assert doc["notes"] == ["no cheap switch drops thinking from what 2.1.331 sends "
                                "(a costly one would: CLAUDE_CODE_DISABLE_THINKING=1)"]
    if level == "all":
        assert doc["action"] == "remedied" and "rollback" not in added


def test_a_field_the_client_heals_by_itself_is_no_reason_for_anything(pinman_home: Paths, team: Path,
                                                                      gateway: FakeAPI) -> None:
    assert pinman(pinman_home, team, "hooks", "install").code == 0
    gateway.deny_keys = {"context_management"}  # 2.1.331 retries without it, and answers
    profile(pinman_home, V2)
    sent = run_ok(pinman_home, team, gateway)
    assert len(sent) == 2 and "context_management" in sent[0] and "context_management" not in sent[1]
    code, doc = check(pinman_home, team, gateway)
    assert (code, doc["action"], doc["remedy"]) == (0, "ok", None), doc
    assert version_here(pinman_home, team) == V2
    assert not HookFiles(pinman_home).log.exists()  # the run answered: no StopFailure, no handler
    assert not {"remedied", "rollback"} & set(events(pinman_home))
    assert not pinman_home.switch_effects.exists()  # nothing was even measured


def test_the_users_own_value_wins(pinman_home: Paths, team: Path, gateway: FakeAPI) -> None:
    gateway.deny_keys = {"output_config"}
    profile(pinman_home, V2)
    code, doc = check(pinman_home, team, gateway, CLAUDE_CODE_EFFORT_LEVEL="high")
    assert (code, doc["action"]) == (10, "rolled-back"), doc
    assert any("CLAUDE_CODE_EFFORT_LEVEL is set to 'high'" in n for n in doc["notes"]), doc["notes"]


# -- the StopFailure handler runs detached: wait for it, and leave none behind ---------------------
def _handled(paths: Paths, timeout: float = 120) -> list[str]:
    log = HookFiles(paths).log
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done = re.findall(r"\] done: (\S+)", log.read_text() if log.exists() else "")
        if done:
            return done
        time.sleep(0.1)
    raise AssertionError(f"no handler finished; log:\n{log.read_text() if log.exists() else '(none)'}")


def _no_handler_left(paths: Paths) -> None:
    log = HookFiles(paths).log
    for pid in {int(p) for p in re.findall(r"\[(\d+)\]", log.read_text())} if log.exists() else set():
        deadline = time.monotonic() + 60
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if _alive(pid):
            os.killpg(pid, signal.SIGKILL)
            raise AssertionError(f"handler {pid} was still running")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        return "State:\tZ" not in Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return True
