"""pinman's Claude Code hooks without a real client: settings edits, the sh hooks, the handler."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from cli_support import pinman

from pinman.runtime.choice import write_global
from pinman.autopilot import handler, notices, scripts
from pinman.autopilot.files import HookFiles
from pinman.autopilot.settings import user_settings
from pinman.health.outcome import Kind, Outcome
from pinman.state.journal import Journal
from pinman.paths import Paths
from pinman.health.report import CheckReport
from pinman.runtime.client_hooks import hook_args, hook_settings
from pinman.runtime.shim import shim_text

OTHER = {
    "model": "opus",
    "env": {"FOO": "bar"},
    "permissions": {"allow": ["Bash(ls)"]},
    "hooks": {
        "SessionStart": [{"matcher": "startup", "hooks": [{"type": "command", "command": "echo mine"}]}],
        "PreToolUse": [{"matcher": "Bash", "hooks": [{"type": "command", "command": "/usr/local/bin/guard"}]}],
    },
}


@pytest.fixture(autouse=True)
def _no_config_dir(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CLAUDE_CONFIG_DIR", raising=False)
    monkeypatch.delenv("PINMAN_PROBE", raising=False)


def settings_path() -> Path:
    return Path(os.environ["HOME"]) / ".claude" / "settings.json"


def write_settings(doc: Any) -> Path:
    p = settings_path()
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(json.dumps(doc, indent=4))
    return p


def commands_in(doc: dict[str, Any], event: str) -> list[str]:
    return [h["command"] for g in doc.get("hooks", {}).get(event, []) for h in g["hooks"]]


# ---------------------------------------------------------------- settings


def pinman_hooks(files: HookFiles, name: str = "all") -> dict[str, list[str]]:
    """event -> commands, in one of pinman's own settings files."""
    doc = json.loads((files.settings_all if name == "all" else files.settings_session).read_text())
    return {e: commands_in(doc, e) for e in doc["hooks"]}


def test_install_writes_pinmans_own_files_and_leaves_the_users_settings_alone(pinman_home: Paths,
                                                                              tmp_path: Path) -> None:
    p = write_settings(OTHER)
    before = p.read_bytes()
    r = pinman(pinman_home, tmp_path, "hooks", "install")
    assert r.code == 0 and "installed" in r.out
    assert p.read_bytes() == before  # not one byte of the user's file changes
    files = HookFiles(pinman_home)
    assert pinman_hooks(files) == {"StopFailure": [f"'{files.stop_failure}'"],
                                   "SessionStart": [f"'{files.session_start}'"],
                                   "SessionEnd": [f"'{files.session_end}'"]}
    assert pinman_hooks(files, "session") == {"SessionStart": [f"'{files.session_start}'"]}
    assert all(os.access(s, os.X_OK) for s in (files.stop_failure, files.session_start, files.session_end))
    # The same hooks as a plugin, for a run that brings its own --settings.
    assert json.loads(files.plugin_hooks.read_text()) == json.loads(files.settings_all.read_text())
    assert json.loads(files.plugin_manifest.read_text())["name"] == "pinman"

    r = pinman(pinman_home, tmp_path, "hooks", "install")
    assert r.code == 0 and "already installed" in r.out


def test_install_removes_what_an_earlier_pinman_wrote_into_the_users_settings(pinman_home: Paths,
                                                                              tmp_path: Path) -> None:
    files = HookFiles(pinman_home)
    old = json.loads(json.dumps(OTHER))
    old["hooks"]["SessionStart"].append({"hooks": [{"type": "command", "command": f"'{files.session_start}'"}]})
    old["hooks"]["StopFailure"] = [{"hooks": [{"type": "command", "command": f"'{files.stop_failure}'"}]}]
    p = write_settings(old)
    r = pinman(pinman_home, tmp_path, "hooks", "status", "--json")
    assert [d["state"] for d in json.loads(r.out)] == ["absent", "stale"]
    assert "make Claude Code 1.x ignore the whole file" in pinman(pinman_home, tmp_path, "status").out
    assert pinman(pinman_home, tmp_path, "hooks", "install").code == 0
    assert json.loads(p.read_text()) == OTHER
    r = pinman(pinman_home, tmp_path, "hooks", "status", "--json")
    assert [d["state"] for d in json.loads(r.out)] == ["installed"]


def test_uninstall_removes_pinmans_files_and_nothing_else(pinman_home: Paths, tmp_path: Path) -> None:
    p = write_settings(OTHER)
    files = HookFiles(pinman_home)
    assert pinman(pinman_home, tmp_path, "hooks", "install").code == 0
    r = pinman(pinman_home, tmp_path, "hooks", "uninstall")
    assert r.code == 0 and "removed 4" in r.out
    assert not files.settings_all.exists() and not files.settings_session.exists()
    assert not files.plugin.exists()
    assert json.loads(p.read_text()) == OTHER
    r = pinman(pinman_home, tmp_path, "hooks", "uninstall")
    assert r.code == 0 and "no pinman hooks" in r.out


def test_uninstall_drops_the_hooks_key_an_earlier_pinman_alone_filled(pinman_home: Paths, tmp_path: Path) -> None:
    files = HookFiles(pinman_home)
    p = write_settings({"model": "opus", "hooks": {
        "StopFailure": [{"hooks": [{"type": "command", "command": f"'{files.stop_failure}'"}]}]}})
    assert pinman(pinman_home, tmp_path, "hooks", "uninstall").code == 0
    assert json.loads(p.read_text()) == {"model": "opus"}


@pytest.mark.parametrize("text", ['{"hooks": {', "[1, 2]", '{"hooks": []}', "\xff\xfe"])
def test_a_settings_file_that_is_not_a_json_object_is_left_untouched(pinman_home: Paths, tmp_path: Path,
                                                                    text: str) -> None:
    p = settings_path()
    p.parent.mkdir(parents=True)
    p.write_bytes(text.encode("latin-1"))
    for verb in ("install", "uninstall"):
        r = pinman(pinman_home, tmp_path, "hooks", verb)
        assert r.code != 0
        assert r.err.startswith(f"pinman: {p}") and len(r.err.splitlines()) == 2  # the error and a hint
        assert p.read_bytes() == text.encode("latin-1")


def test_claude_config_dir_and_project_settings_are_cleaned_of_earlier_entries(pinman_home: Paths,
                                                                               tmp_path: Path) -> None:
    files = HookFiles(pinman_home)
    ours = {"hooks": {"StopFailure": [{"hooks": [{"type": "command", "command": f"'{files.stop_failure}'"}]}]}}
    conf = tmp_path / "conf"
    conf.mkdir()
    (conf / "settings.json").write_text(json.dumps({"model": "opus", **ours}))
    assert pinman(pinman_home, tmp_path, "hooks", "install", CLAUDE_CONFIG_DIR=str(conf)).code == 0
    assert json.loads((conf / "settings.json").read_text()) == {"model": "opus"}
    assert not settings_path().exists()

    project = tmp_path / "proj"
    (project / "sub").mkdir(parents=True)
    (project / ".pinman.toml").write_text('profile = "stable"\n')
    (project / ".claude").mkdir()
    (project / ".claude" / "settings.json").write_text(json.dumps(ours))
    r = pinman(pinman_home, project / "sub", "hooks", "status", "--json")
    assert json.loads(r.out)[-1]["settings"] == str(project / ".claude" / "settings.json")
    assert pinman(pinman_home, project / "sub", "hooks", "uninstall", "--project").code == 0
    assert json.loads((project / ".claude" / "settings.json").read_text()) == {}


def test_settings_reached_through_a_symlink_stay_a_symlink(pinman_home: Paths, tmp_path: Path) -> None:
    files = HookFiles(pinman_home)
    real = tmp_path / "dotfiles" / "claude.json"
    real.parent.mkdir()
    real.write_text(json.dumps({**OTHER, "hooks": {"StopFailure": [
        {"hooks": [{"type": "command", "command": f"'{files.stop_failure}'"}]}]}}))
    settings_path().parent.mkdir(parents=True)
    settings_path().symlink_to(real)
    assert pinman(pinman_home, tmp_path, "hooks", "install").code == 0
    assert settings_path().is_symlink()
    assert "hooks" not in json.loads(real.read_text())


def test_status_and_doctor_say_whether_hooks_are_installed(pinman_home: Paths, tmp_path: Path) -> None:
    files = HookFiles(pinman_home)
    r = pinman(pinman_home, tmp_path, "hooks", "status", "--json")
    assert json.loads(r.out)[0]["state"] == "absent"
    assert "hooks: not installed" in pinman(pinman_home, tmp_path, "status").out
    assert "hooks are not installed" in pinman(pinman_home, tmp_path, "doctor").out
    assert pinman(pinman_home, tmp_path, "hooks", "install").code == 0
    r = pinman(pinman_home, tmp_path, "hooks", "status", "--json")
    assert json.loads(r.out) == [{"settings": str(files.settings_all), "state": "installed", "detail":
                                  "StopFailure, SessionStart, SessionEnd installed: the claude shim passes them to the "
                                  "versions that know them"}]
    assert f"hooks: installed in {files.settings_all}" in pinman(pinman_home, tmp_path, "status").out
    assert "hooks are installed" in pinman(pinman_home, tmp_path, "doctor").out
    files.stop_failure.write_text("#!/bin/sh\n")  # edited by hand
    r = pinman(pinman_home, tmp_path, "hooks", "status", "--json")
    assert json.loads(r.out)[0]["state"] == "stale"


def test_install_rewrites_a_shim_that_would_not_pass_the_hooks(pinman_home: Paths, tmp_path: Path) -> None:
    old = shim_text(pinman_home).replace("set -- --settings", ": --settings")  # an earlier shim
    pinman_home.shim.parent.mkdir(parents=True)
    pinman_home.shim.write_text(old)
    assert pinman(pinman_home, tmp_path, "hooks", "install").code == 0
    assert "set -- --settings" in pinman_home.shim.read_text()
    assert json.loads(pinman(pinman_home, tmp_path, "hooks", "status", "--json").out)[0]["state"] == "installed"
    pinman_home.shim.write_text(old)
    r = pinman(pinman_home, tmp_path, "hooks", "status", "--json")
    assert json.loads(r.out)[0]["state"] == "stale" and "does not pass" in json.loads(r.out)[0]["detail"]


# ---------------------------------------------------------------- the shim passes them


VERSIONS = ["0.2.9", "1.0.0", "1.0.9", "1.0.10", "1.0.59", "1.0.61", "1.0.62", "1.0.69", "1.0.100", "1.0.128",
            "2.0.0", "2.0.77", "2.1.0", "2.1.9", "2.1.10", "2.1.69", "2.1.77", "2.1.78", "2.1.79", "2.1.100",
            "2.1.331", "2.2.0", "3.0.0", "10.0.0"]


ARGVS = [["-p", "hi"], [], ["--version"], ["-v"], ["-V"], ["--version", "--verbose"], ["-v", "--verbose"],
         ["--version", "x"], ["-p", "--version"], ["mcp", "list"], ["--verbose"], ["-v", "-p"], ["it's a \"q\""]]


def _shim_args(pinman_home: Paths, version: str, argv: list[str]) -> list[str]:
    """The arguments the shim's own sh code hands the client for `version` and `argv`."""
    shim = shim_text(pinman_home)
    block = shim[shim.index("        case $#:"):shim.index("        exec \"$_pm_bin\"")]
    script = f"_pm_ver={version}\n{block}for a; do printf '%s\\n' \"$a\"; done\n"
    out = subprocess.run(["/bin/sh", "-c", script, "sh", *argv], capture_output=True, text=True, check=True).stdout
    return out.split("\n")[:-1]


def test_the_shim_and_python_pass_the_same_hook_file_for_every_version(pinman_home: Paths,
                                                                       tmp_path: Path) -> None:
    """The shim's sh patterns and hook_args() agree; files exist -> `--settings FILE`."""
    assert pinman(pinman_home, tmp_path, "hooks", "install").code == 0
    for version in VERSIONS:
        for argv in ARGVS:
            assert _shim_args(pinman_home, version, argv) == [*hook_args(pinman_home, version, argv),
                                                              *argv], (version, argv)
    files = HookFiles(pinman_home)
    assert hook_settings(pinman_home, "1.0.61") is None
    assert hook_settings(pinman_home, "1.0.100") == files.settings_session
    assert hook_settings(pinman_home, "2.1.77") == files.settings_session
    assert hook_settings(pinman_home, "2.1.78") == files.settings_all
    assert hook_args(pinman_home, "2.1.331", ["-p", "hi"]) == ["--settings", str(files.settings_all)]
    assert hook_args(pinman_home, "2.1.331", ["--version"]) == []  # the client's fast path
    assert pinman(pinman_home, tmp_path, "hooks", "uninstall").code == 0
    assert hook_args(pinman_home, "2.1.331", ["-p", "hi"]) == []


# ---------------------------------------------------------------- the sh hooks


def fake_python(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, body: str = "") -> Path:
    """A stand-in interpreter baked into the hook scripts: it records how it was started."""
    calls = tmp_path / "python-calls"
    py = tmp_path / "fake-python"
    py.write_text(f'#!/bin/sh\n{body}\necho "|${{CLAUDECODE-}}|${{CLAUDE_CODE_SESSION_ID-}}" > {calls}.env\n'
                  f'echo "$@" >> {calls}\n')
    py.chmod(0o755)
    monkeypatch.setattr(sys, "executable", str(py))
    return calls


def run_hook(script: Path, stdin: str = "{}", **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(script)], input=stdin, capture_output=True, text=True, timeout=30,
                          env={**os.environ, **env})


def traced(script: Path) -> subprocess.CompletedProcess[str]:
    """The hook run by `sh -x`: stderr lists every command it ran."""
    return subprocess.run(["/bin/sh", "-x", str(script)], input="{}", capture_output=True, text=True,
                          timeout=30)


def wait_for(path: Path, timeout: float = 20) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and path.read_text():
            return path.read_text()
        time.sleep(0.05)
    raise AssertionError(f"{path} never appeared")


def test_session_start_shows_the_notice_once_and_status_until_then(pinman_home: Paths, tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    calls = fake_python(tmp_path, monkeypatch)
    files = HookFiles(pinman_home)
    scripts.write_scripts(files)
    files.next_due.write_text(f"{int(time.time()) + 3600}\n")
    notices.add(files, 'pinman: rolled back stable 2.1.331 → 1.0.100 at 14:02 — "output_config" rejected')
    notices.add(files, "pinman: second line")
    assert "notice: pinman: rolled back stable 2.1.331 → 1.0.100" in pinman(pinman_home, tmp_path, "status").out

    first = run_hook(files.session_start)
    assert first.returncode == 0
    msg = json.loads(first.stdout)["systemMessage"]
    # The notice holds no quote, backslash or control character: the hook's JSON cannot be broken out of.
    assert msg == ("pinman: rolled back stable 2.1.331 → 1.0.100 at 14:02 — 'output_config' rejected\n"
                   "pinman: second line")
    second = traced(files.session_start)
    assert (second.returncode, second.stdout) == (0, "")
    assert "-m pinman" not in second.stderr and "mv " not in second.stderr  # nothing shown, nothing started
    assert "notice:" not in pinman(pinman_home, tmp_path, "status").out
    assert not calls.exists()  # nothing due: no interpreter started
    assert sorted(p.name for p in files.folder.iterdir()) == ["next-due"]


def test_session_start_starts_a_check_only_when_due(pinman_home: Paths, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    calls = fake_python(tmp_path, monkeypatch)
    files = HookFiles(pinman_home)
    scripts.write_scripts(files)
    files.next_due.write_text(f"{int(time.time()) - 1}\n")
    r = run_hook(files.session_start, CLAUDECODE="1", CLAUDE_CODE_SESSION_ID="s")
    assert (r.returncode, r.stdout) == (0, "")
    assert wait_for(calls).split() == ["-P", "-m", "pinman", "check", "--if-due"]
    assert wait_for(Path(f"{calls}.env")) == "||\n"  # the session's own variables stay behind
    # It pushed "next due" ahead at once, so a second session does not start another check.
    assert int(files.next_due.read_text()) >= int(time.time()) + scripts.RETRY_AFTER - 5
    r = traced(files.session_start)
    assert r.returncode == 0 and "date +%s" in r.stderr  # it compared...
    assert "pinman" not in r.stderr.split("date +%s", 1)[1]  # ...and started nothing


def test_check_writes_when_the_next_check_is_due(pinman_home: Paths) -> None:
    from pinman.profile.discovery import find_profile

    files = HookFiles(pinman_home)
    p = find_profile("stable", Path("/"), pinman_home)
    notices.note_checked(files, [p], now=1000.0)  # never checked: due one interval from now
    assert int(files.next_due.read_text()) == int(1000 + p.health.interval)


def test_a_probe_never_runs_pinmans_hooks(pinman_home: Paths, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = fake_python(tmp_path, monkeypatch)
    files = HookFiles(pinman_home)
    scripts.write_scripts(files)
    notices.add(files, "pinman: something")
    for script in (files.stop_failure, files.session_start):
        r = run_hook(script, '{"last_assistant_message": "API Error: 400 x: Extra inputs are not permitted"}',
                     PINMAN_PROBE="1")
        assert (r.returncode, r.stdout) == (0, "")
    assert files.notice.exists() and not calls.exists()


@pytest.mark.parametrize("setsid", [True, False])
def test_stop_failure_hands_the_payload_to_pinman_in_its_own_session(pinman_home: Paths, tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch,
                                                                      setsid: bool) -> None:
    if not setsid:  # as on macOS: no setsid(1); the handler calls os.setsid() itself
        monkeypatch.setattr(scripts, "_setsid", lambda: None)
    gate = tmp_path / "gate"
    calls = tmp_path / "python-calls"
    py = tmp_path / "fake-python"
    # The stand-in waits for the gate: the hook must have returned long before it is opened.
    py.write_text(f"#!/bin/sh\nwhile [ ! -f {gate} ]; do sleep 0.05; done\n"
                  f'cat > {calls}.payload\necho "$@" > {calls}\n'
                  f"echo $$ $(ps -o sid= -p $$) > {calls}.session\n")
    py.chmod(0o755)
    monkeypatch.setattr(sys, "executable", str(py))
    files = HookFiles(pinman_home)
    scripts.write_scripts(files)
    payload = '{"hook_event_name": "StopFailure", "last_assistant_message": "API Error: 400 …"}'
    r = run_hook(files.stop_failure, payload)
    assert r.returncode == 0 and not calls.exists()
    gate.touch()
    assert wait_for(calls).split() == ["-P", "-m", "pinman", "_hook", "stop-failure"]
    assert wait_for(Path(f"{calls}.payload")) == payload
    pid, sid = wait_for(Path(f"{calls}.session")).split()
    assert (pid == sid) is setsid  # a session of its own: the client's kill of the hook's group misses it


# ---------------------------------------------------------------- the handler


V_NEW, V_OLD = "2.1.331", "1.0.100"
SCHEMA_TEXT = 'API Error: 400 {"type":"error","error":{"type":"invalid_request_error","message":"output_config: Extra inputs are not permitted"}}'


@pytest.fixture
def team(pinman_home: Paths, tmp_path: Path) -> Path:
    p = pinman_home.user_profiles / "team.toml"
    p.parent.mkdir(parents=True)
    p.write_text(f'[claude-code]\nversion = "{V_NEW}"\n')
    write_global(pinman_home, "team")
    work = tmp_path / "work"
    work.mkdir()
    return work


def transcript(tmp_path: Path, version: str) -> str:
    t = tmp_path / "t.jsonl"
    t.write_text("\n".join(json.dumps(d) for d in ({"type": "user", "version": version},
                                                   {"type": "cost-state"}, "not json")) + "\n")
    return str(t)


def payload(work: Path, text: str, version: str | None = V_NEW, error: str = "unknown") -> dict[str, Any]:
    doc: dict[str, Any] = {"hook_event_name": "StopFailure", "error": error, "last_assistant_message": text,
                           "cwd": str(work)}
    if version:
        doc["transcript_path"] = transcript(work, version)
    return doc


ENV = {"ANTHROPIC_BASE_URL": "http://127.0.0.1:4000", "CLAUDECODE": "1"}


def fake_check(seen: list[Any], action: str = "rolled-back") -> Any:
    def check(paths: Paths, profile: Any, *, environ: Any = None, **kw: Any) -> CheckReport:
        seen.append(dict(environ))
        outcome = Outcome(Kind.SCHEMA, 400, "output_config", "400 output_config: Extra inputs are not permitted", "")
        r = CheckReport(profile.name, V_NEW, "http://127.0.0.1:4000", outcome, 1.0, action=action, detail="d")
        if action == "rolled-back":
            r.rollback = {"from": V_NEW, "to": V_OLD}
        return r

    return check


def hook_entries(paths: Paths) -> list[Any]:
    return [e for e in Journal(paths).entries() if e.event == "hook"]


@pytest.mark.parametrize("text, error", [
    ("API Error: 400 Your credit balance is too low to access the Anthropic API.", "invalid_request"),
    ('API Error: 529 {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}', "overloaded"),
    ("API Error: 401 invalid x-api-key · Please run /login", "authentication_failed"),
    ("API Error: 403 Your API key does not have permission", "unknown"),
    ("API Error: 429 rate_limit_error: Number of request tokens has exceeded", "rate_limit"),
    ("API Error: Connection error.", "unknown"),
    ('API Error: {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}', "server_error"),
])
def test_failures_a_version_change_cannot_fix_are_only_recorded(pinman_home: Paths, team: Path, tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch, text: str,
                                                                error: str) -> None:
    seen: list[Any] = []
    monkeypatch.setattr("pinman.policy.ladder.check", fake_check(seen))
    assert handler.handle(pinman_home, payload(team, text, error=error), ENV) == "ignored"
    assert seen == []
    (entry,) = hook_entries(pinman_home)
    assert entry.extra["action"] == "ignored" and entry.outcome != "schema"
    assert not HookFiles(pinman_home).notice.exists()


def test_a_schema_error_runs_the_check_policy_once_then_cools_down(pinman_home: Paths, team: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[Any] = []
    monkeypatch.setattr("pinman.policy.ladder.check", fake_check(seen))
    assert handler.handle(pinman_home, payload(team, SCHEMA_TEXT), ENV) == "rolled-back"
    assert len(seen) == 1 and "CLAUDECODE" not in seen[0]  # the probe is not part of the session
    (line,) = notices.unseen(HookFiles(pinman_home))
    assert line.startswith(f"pinman: rolled back team {V_NEW} → {V_OLD} at ")
    assert line.endswith("— output_config rejected by 127.0.0.1:4000 · pinman status")
    assert handler.handle(pinman_home, payload(team, SCHEMA_TEXT), ENV) == "cooling-down"
    assert len(seen) == 1
    assert [e.extra["action"] for e in hook_entries(pinman_home)] == ["rolled-back", "cooling-down"]
    assert all(e.extra["trigger"] == "StopFailure" for e in hook_entries(pinman_home))


def test_one_handler_at_a_time_per_profile_and_endpoint(pinman_home: Paths, team: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    from filelock import FileLock

    seen: list[Any] = []
    monkeypatch.setattr("pinman.policy.ladder.check", fake_check(seen))
    pinman_home.locks.mkdir(parents=True)
    held = [FileLock(str(p)) for p in _all_autopilot_locks(pinman_home, team)]
    for lock in held:
        lock.acquire()
    try:
        assert handler.handle(pinman_home, payload(team, SCHEMA_TEXT), ENV) == "busy"
    finally:
        for lock in held:
            lock.release()
    assert seen == []


def _all_autopilot_locks(paths: Paths, work: Path) -> list[Path]:
    import hashlib

    name = hashlib.sha256("team\0http://127.0.0.1:4000".encode()).hexdigest()[:16]
    return [HookFiles(paths).lock(name)]


def test_a_client_pinman_does_not_run_gets_a_notice_not_a_switch(pinman_home: Paths, team: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[Any] = []
    monkeypatch.setattr("pinman.policy.ladder.check", fake_check(seen))
    assert handler.handle(pinman_home, payload(team, SCHEMA_TEXT, version="2.1.400"), ENV) == "not-ours"
    assert seen == []
    (line,) = notices.unseen(HookFiles(pinman_home))
    assert "Claude Code 2.1.400 failed" in line and f"pinman runs {V_NEW} for team" in line
    assert handler.handle(pinman_home, payload(team, SCHEMA_TEXT, version=None), ENV) == "unknown-client"
    assert seen == []


def test_a_payload_that_is_not_a_json_object_is_empty() -> None:
    import io

    assert handler.read_payload(io.BytesIO(b'{"cwd": "/"}')) == {"cwd": "/"}
    assert handler.read_payload(io.BytesIO(b"not json")) == {}
    assert handler.read_payload(io.BytesIO(b"[1]")) == {}


def test_the_hook_entry_point_logs_and_never_raises(pinman_home: Paths, team: Path, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "setsid", lambda: None)
    monkeypatch.setattr("pinman.policy.ladder.check", fake_check([]))
    f = tmp_path / "p.json"
    f.write_text(json.dumps(payload(team, "API Error: 529 Overloaded", error="overloaded")))
    assert handler.main(["stop-failure", str(f)]) == 0
    log = HookFiles(pinman_home).log.read_text()
    assert "done: ignored" in log
    assert handler.main(["stop-failure", str(tmp_path / "missing.json")]) == 1
    assert "failed: FileNotFoundError" in HookFiles(pinman_home).log.read_text()


def test_probes_carry_pinman_probe(tmp_path: Path) -> None:
    from pinman.health.cli_probe import probe_cli

    fake = tmp_path / "claude"
    out = tmp_path / "env.txt"
    fake.write_text(f'#!/bin/sh\necho "$PINMAN_PROBE" > {out}\necho \'{{"is_error": false, "result": "OK"}}\'\n')
    fake.chmod(0o755)
    assert probe_cli(fake, {"PATH": os.environ["PATH"]}).message == "OK"
    assert out.read_text().strip() == "1"


@pytest.mark.parametrize("due, starts", [("", True), ("abc\n", True), ("-5\n", True), ("12 34\n", True),
                                         ("99999999999999999999999\n", False), ("\x00\xff\n", True)])
def test_session_start_survives_a_damaged_next_due_file(pinman_home: Paths, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch, due: str,
                                                        starts: bool) -> None:
    calls = fake_python(tmp_path, monkeypatch)
    files = HookFiles(pinman_home)
    scripts.write_scripts(files)
    files.next_due.write_bytes(due.encode("latin-1"))
    r = run_hook(files.session_start)
    assert (r.returncode, r.stdout) == (0, "")
    if starts:  # unreadable means due: one check, which writes a good value again
        assert wait_for(calls).split() == ["-P", "-m", "pinman", "check", "--if-due"]
        assert files.next_due.read_text().strip().isdigit()
    else:  # a time too far ahead for sh to compare: no check, no error shown to the session
        assert "python" not in traced(files.session_start).stderr.split("date +%s", 1)[1]


def test_unreadable_state_files_are_no_notice_and_no_cooldown(pinman_home: Paths) -> None:
    files = HookFiles(pinman_home)
    files.folder.mkdir(parents=True)
    for text in ('{"systemMessage": 5}', "\x1b[2J", "back\\slash", "", "\x00"):
        files.notice.write_text(text)
        assert notices.unseen(files) == []
    for text in ("not json", "[]", '{"runs": {"x": 1e400}}', '{"runs": [1]}'):
        files.cooldown.write_text(text)
        assert handler._cooled_down(files, "x")


def test_a_recovery_is_told_to_the_next_session() -> None:
    """Back on the pin after a rollback: the notice says so, with the endpoint and a pointer to status."""
    from pinman.autopilot.notices import describe

    ok = Outcome(Kind.OK, 200, None, "ok", "")
    r = CheckReport("stable", V_NEW, "http://127.0.0.1:4000", ok, 1.0, action="recovered", detail="d")
    r.recovered = {"from": V_OLD, "to": V_NEW, "message": f"stable is back on {V_NEW}: the endpoint accepts it again"}
    line = describe(r, "periodic check")
    assert line is not None and line.startswith(f"pinman: stable is back on {V_NEW}: the endpoint accepts it again")
    assert "127.0.0.1:4000" in line and line.endswith("· pinman status")
    r.action, r.recovered = "ok", None
    assert describe(r, "periodic check") is None
