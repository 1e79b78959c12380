"""The editor's call, end to end, with real Claude Code: after `pinman ide install`, the wrapper the
settings name is run exactly as the Claude Code extension runs it — `<wrapper> <bundled CLI>
<args…>` from the folder the editor opened, with the extension's environment and stream-json on
stdin — and runs the version pinned for that folder, with pinman's hooks: a schema error in the
editor rolls back through the same StopFailure handler, and the next session in the editor shows
pinman's notice.

The call is the one a logging wrapper recorded from the 2.1.226 extension: its arguments below, cwd
the workspace folder, CLAUDE_CODE_ENTRYPOINT=claude-vscode, the extension host's own working
directory in PWD, and on stdin the SDK's `initialize` control request, then the user's message.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import secret_guard
from cli_support import claude, pinman, user_env
from test_autopilot_e2e import _handled, _no_handler_left, _repin

from pinman.autopilot.files import HookFiles
from pinman.autopilot.notices import unseen
from pinman.fingerprint.fakeapi import FakeAPI
from pinman.paths import Paths
from pinman.runtime.editors import SETTING
from pinman.state import jsonc
from pinman.state.journal import Journal
from test_ide import USER, extension, settings

pytestmark = pytest.mark.e2e

V1, V2 = "1.0.100", "2.1.331"
TOKEN = "sk-ant-oat01-ide-e2e-SECRET-0123456789abcdef"  # the extension's sign-in reaches the CLI as a token
EXTENSION_ARGS = ["--output-format", "stream-json", "--verbose", "--input-format", "stream-json",
                  "--max-thinking-tokens", "31999", "--permission-prompt-tool", "stdio",
                  "--setting-sources=user,project,local", "--permission-mode", "default",
                  "--include-partial-messages", "--debug", "--debug-to-stderr", "--enable-auth-status",
                  "--no-chrome", "--replay-user-messages"]
STDIN = "".join(json.dumps(m) + "\n" for m in (
    {"type": "control_request", "request_id": "req_1_init", "request": {"subtype": "initialize", "hooks": None}},
    {"type": "user", "message": {"role": "user", "content": [{"type": "text", "text": "say OK"}]},
     "parent_tool_use_id": None, "session_id": ""},
))


@pytest.fixture
def gateway() -> Iterator[FakeAPI]:
    with FakeAPI("strict") as api:
        yield api


@pytest.fixture
def editor(pinman_home: Paths, seeded_home: Callable[..., object], tmp_path: Path,
           gateway: FakeAPI) -> Iterator[dict[str, Any]]:
    """The global choice runs 1.0.100; the folder the editor opens chooses `team` (.pinman.toml),
    known-good on 1.0.100 and now pinned to 2.1.331; pinman's hooks and the editor route installed."""
    seeded_home(V1, V2)
    home = Path(os.environ["HOME"])
    (pinman_home.user_profiles).mkdir(parents=True)
    (pinman_home.user_profiles / "team.toml").write_text(f'[claude-code]\nversion = "{V1}"\n')
    (pinman_home.user_profiles / "elsewhere.toml").write_text(f'[claude-code]\nversion = "{V1}"\n')
    work = tmp_path / "work"
    work.mkdir()
    (work / ".pinman.toml").write_text('profile = "team"\n')
    assert pinman(pinman_home, tmp_path, "use", "elsewhere").code == 0
    r = pinman(pinman_home, work, "check", "--json", **user(gateway))
    assert json.loads(r.out)["outcome"] == "ok", r.text
    _repin(pinman_home, V2)
    assert pinman(pinman_home, work, "hooks", "install").code == 0
    folder = extension(home)
    path = settings(home)
    assert pinman(pinman_home, tmp_path, "ide", "install").code == 0
    yield {"work": work, "bundled": folder / "resources" / "native-binary" / "claude", "settings": path,
           "home": home}
    _no_handler_left(pinman_home)


def user(api: FakeAPI) -> dict[str, str]:
    return {"ANTHROPIC_BASE_URL": api.url, "ANTHROPIC_AUTH_TOKEN": TOKEN, "CLAUDE_CODE_MAX_RETRIES": "1",
            "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1"}


def as_the_extension(paths: Paths, ed: dict[str, Any], api: FakeAPI, *args: str) -> tuple[int, list[dict], str]:
    """Run what the settings file names the way the extension does; the stream-json messages out."""
    wrapper = jsonc.value_of(ed["settings"].read_text(), SETTING)  # what the extension reads
    env = user_env(paths, **user(api))
    env["PATH"] = "/usr/bin:/bin"  # an extension host's PATH: pinman's shim is not on it
    env.update(CLAUDE_CODE_ENTRYPOINT="claude-vscode", PWD="/", VSCODE_PID="4242")
    secrets = secret_guard.note(env)
    proc = subprocess.run([wrapper, str(ed["bundled"]), *(args or EXTENSION_ARGS)], cwd=ed["work"], env=env,
                          input=STDIN, capture_output=True, text=True, timeout=180)
    secret_guard.assert_clean_output(proc.stdout + proc.stderr, secrets, "the extension's call")
    assert "the bundled CLI ran" not in proc.stderr and proc.returncode != 99
    return proc.returncode, _messages(proc.stdout), proc.stderr


def _messages(stdout: str) -> list[dict]:
    """The stream-json messages (one JSON object a line); other output is not one."""
    out = []
    for line in stdout.splitlines():
        try:
            doc = json.loads(line)
        except ValueError:
            continue
        if isinstance(doc, dict):
            out.append(doc)
    return out


def session_start(messages: list[dict]) -> list[str]:
    return [m["stdout"] for m in messages if m.get("subtype") == "hook_response" and m.get("hook_event") == "SessionStart"]


def test_the_editors_call_runs_the_folders_pin_with_pinmans_hooks(pinman_home: Paths, editor: dict[str, Any],
                                                                   gateway: FakeAPI) -> None:
    # the extension's start-up probe goes through the shim too
    code, _, _ = as_the_extension(pinman_home, editor, gateway, "auth", "status", "--json")
    assert code == 0

    # The gateway rejects what 2.1.331 sends: the editor's turn fails ...
    code, messages, _ = as_the_extension(pinman_home, editor, gateway)
    (result,) = [m for m in messages if m["type"] == "result"]
    assert code == 1 and result["is_error"], result
    assert any(m.get("subtype") == "init" and m["cwd"] == str(editor["work"]) for m in messages)
    agents = {r.user_agent for r in gateway.messages_requests()}
    assert any(a.startswith(f"claude-cli/{V2} ") and "claude-vscode" in a for a in agents), agents  # the folder's pin
    assert len(session_start(messages)) == 1  # pinman's SessionStart (nothing to say yet)

    # ... and pinman's hooks, passed by the shim, roll the folder back, verified: StopFailure's, or
    # SessionEnd's hand-over of the same failure when it came first (one action either way).
    failed_at = time.monotonic()
    assert _handled(pinman_home) == ["rolled-back"]
    print(f"\neditor's failed turn -> rollback in place: {time.monotonic() - failed_at:.1f} s")
    hooks = [e for e in Journal(pinman_home).entries() if e.event == "hook"]
    assert len(hooks) == 1 and hooks[0].extra["action"] == "rolled-back", hooks
    assert hooks[0].extra["trigger"] in {"StopFailure", "SessionEnd"}
    assert claude(pinman_home, editor["work"], "--version").out.split()[0] == V1
    notice = "\n".join(unseen(HookFiles(pinman_home)))  # the lines a session or a -p run will show
    assert notice.startswith(f"pinman: rolled back team {V2} → {V1} at ")

    # 1.0.100 refuses the options this extension passes (why `ide status` warns about a 1.x pin) ...
    code, messages, err = as_the_extension(pinman_home, editor, gateway)
    assert code == 1 and "error: unknown option '--max-thinking-tokens'" in err and not messages

    # ... the gateway is fixed, a check brings the folder back to its pin, and the editor's next
    # session shows what pinman did.
    gateway.mode = "ok"
    r = pinman(pinman_home, editor["work"], "check", "--json", **user(gateway))
    assert json.loads(r.out)["action"] == "recovered", r.text
    code, messages, _ = as_the_extension(pinman_home, editor, gateway)
    (result,) = [m for m in messages if m["type"] == "result"]
    assert code == 0 and result["result"] == "OK", result
    (shown,) = session_start(messages)
    assert json.loads(shown)["systemMessage"] == notice
    assert not HookFiles(pinman_home).notice.exists()  # shown once


def test_uninstall_gives_the_editors_settings_back(pinman_home: Paths, editor: dict[str, Any],
                                                  tmp_path: Path) -> None:
    assert jsonc.value_of(editor["settings"].read_text(), SETTING) == str(pinman_home.shim)
    r = pinman(pinman_home, tmp_path, "ide", "status", "--json")
    (route,) = json.loads(r.out)
    assert (route["state"], route["runs_pin"], route["hooks"]) == ("routed", True, True)
    assert f"the global choice runs Claude Code {V1}, which refuses options" in route["pin_note"]
    assert pinman(pinman_home, tmp_path, "ide", "uninstall").code == 0
    assert editor["settings"].read_bytes() == USER.encode()
