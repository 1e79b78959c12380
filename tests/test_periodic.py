"""`pinman check --if-due`, the periodic mode: only what runs here, never a download.

A fake npm records every install it is asked for; the installed fake `claude` answers a probe with
an ok JSON result, so checks run for real through the CLI.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from cli_support import claude, pinman

from pinman.state.journal import Journal
from pinman.paths import Paths
from pinman.names import CLAUDE_CODE
from pinman.install.store import Store

OK_REPLY = '{"type":"result","subtype":"success","is_error":false,"result":"OK"}'
CLOSED = "http://127.0.0.1:9/"  # no registry either


@pytest.fixture
def machine(pinman_home: Paths, fake_npm: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict:
    """1.0.100 installed; user profile `team` (1.0.100) is the global choice; project `used` (its
    own profile `proj`, 1.0.100) where claude ran; project `idle` (profile `idle`) where it never ran."""
    monkeypatch.setenv("FAKE_NPM_PRINTS", f"1.0.100 (Claude Code)\n{OK_REPLY}")  # --version and -p alike
    Store(pinman_home, npm=str(fake_npm)).install(CLAUDE_CODE, "1.0.100")
    monkeypatch.delenv("FAKE_NPM_PRINTS")
    p = pinman_home.user_profiles / "team.toml"
    p.parent.mkdir(parents=True)
    p.write_text('[claude-code]\nversion = "1.0.100"\n')
    log = tmp_path / "npm.log"
    env = {"PATH": f"{fake_npm.parent}{os.pathsep}{os.environ['PATH']}", "FAKE_NPM_LOG": str(log),
           "npm_config_registry": CLOSED}
    home = tmp_path / "home-dir"
    home.mkdir()
    assert pinman(pinman_home, home, "use", "team", **env).code == 0
    projects = {}
    for name in ("used", "idle"):
        root = tmp_path / name
        (root / "profiles").mkdir(parents=True)
        (root / ".pinman.toml").write_text(f'profile = "{"proj" if name == "used" else "idle"}"\n')
        (root / "profiles" / ("proj.toml" if name == "used" else "idle.toml")).write_text(
            '[claude-code]\nversion = "1.0.100"\n')
        projects[name] = root
    assert claude(pinman_home, projects["used"], "--version", **env).out.split("\n")[1] == OK_REPLY
    return {"env": env, "log": log, "home": home, **projects}


def checked(paths: Paths) -> set[str]:
    return {e.profile for e in Journal(paths).entries() if e.event == "check"}


def test_all_if_due_checks_only_what_runs_here_and_installs_nothing(pinman_home: Paths, machine: dict) -> None:
    r = pinman(pinman_home, machine["home"], "check", "--all", "--if-due", "--json", **machine["env"])
    assert r.code == 0, r.text
    assert not machine["log"].exists()  # npm never ran: not `latest`, not anything
    docs = json.loads(r.out)
    assert sorted(d["profile"] for d in docs) == ["proj", "team"]
    # the global choice and the project the shim ran in; not legacy (installed, unused), not idle
    assert checked(pinman_home) == {"team", f"{machine['used']}::proj"}
    # due no more: the next run checks nothing
    r = pinman(pinman_home, machine["home"], "check", "--all", "--if-due", **machine["env"])
    assert (r.code, r.out) == (0, "")
    assert len([e for e in Journal(pinman_home).entries() if e.event == "check"]) == 2


def test_if_due_for_a_profile_not_installed_downloads_nothing(pinman_home: Paths, machine: dict,
                                                              tmp_path: Path) -> None:
    root = machine["idle"]
    (root / "profiles" / "idle.toml").write_text('[claude-code]\nversion = "2.1.331"\n')
    r = pinman(pinman_home, root, "check", "--if-due", **machine["env"])
    assert (r.code, r.out) == (0, "")
    assert not machine["log"].exists()
    assert checked(pinman_home) == set()
