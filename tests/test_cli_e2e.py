"""End to end: the installed `pinman` and the `claude` shim with real Claude Code 1.0.100 / 2.1.331."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Callable

import pytest
from cli_support import claude, pinman, run
from e2e_support import serve_packuments

from pinman.paths import Paths
from pinman.names import CLAUDE_CODE

pytestmark = pytest.mark.e2e

V1, V2 = "1.0.100", "2.1.331"


@pytest.fixture
def seeded(seeded_home: Callable[..., object], tmp_path: Path, pinman_home: Paths) -> Path:
    seeded_home(V1, V2)
    _user_profile(pinman_home, "exact", V2)  # an exact pin of the installed 2.x (the built-in stable is a channel)
    work = tmp_path / "work"
    work.mkdir()
    return work


def _user_profile(paths: Paths, name: str, version: str, extra: str = "") -> Path:
    p = paths.user_profiles / f"{name}.toml"
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(f'[claude-code]\nversion = "{version}"\n{extra}')
    return p


def test_use_switches_claude_by_global_project_and_env(pinman_home: Paths, seeded: Path) -> None:
    r = pinman(pinman_home, seeded, "use", "exact")
    assert r.code == 0, r.text
    assert claude(pinman_home, seeded, "--version").out.strip() == f"{V2} (Claude Code)"

    repo = seeded / "legacy-repo"
    (repo / "src").mkdir(parents=True)
    (repo / ".pinman.toml").write_text('profile = "legacy"\n')
    assert claude(pinman_home, repo / "src", "--version").out.strip() == f"{V1} (Claude Code)"
    assert claude(pinman_home, repo / "src", "--version", PINMAN_PROFILE="exact").out.strip() == f"{V2} (Claude Code)"

    cur = json.loads(pinman(pinman_home, repo / "src", "current", "--json").out)
    assert cur["profile"] == "legacy" and cur["version"] == V1
    assert cur["source"] == "project" and cur["detail"] == str(repo / ".pinman.toml")
    assert Path(cur["binary"]).exists()
    cur = json.loads(pinman(pinman_home, repo, "current", "--json", PINMAN_PROFILE="exact").out)
    assert (cur["profile"], cur["source"], cur["version"]) == ("exact", "env", V2)
    assert pinman(pinman_home, seeded, "which").out.strip().endswith("claude.exe")


def test_use_local_writes_project_file_and_switches_only_there(pinman_home: Paths, seeded: Path) -> None:
    assert pinman(pinman_home, seeded, "use", "exact").code == 0
    repo = seeded / "repo"
    repo.mkdir()
    r = pinman(pinman_home, repo, "use", "--local", "legacy")
    assert r.code == 0, r.text
    assert 'profile = "legacy"' in (repo / ".pinman.toml").read_text()
    assert claude(pinman_home, repo, "--version").out.startswith(V1)
    assert claude(pinman_home, seeded, "--version").out.startswith(V2)


def test_editing_the_pin_takes_effect_without_a_command(pinman_home: Paths, seeded: Path) -> None:
    prof = _user_profile(pinman_home, "team", V2)
    assert pinman(pinman_home, seeded, "use", "team").code == 0
    assert claude(pinman_home, seeded, "--version").out.startswith(V2)
    prof.write_text(f'[claude-code]\nversion = "{V1}"\n')  # e.g. a `git pull` changed it
    assert claude(pinman_home, seeded, "--version").out.startswith(V1)


def test_shim_applies_profile_env_and_disables_the_updater(pinman_home: Paths, seeded: Path, tmp_path: Path) -> None:
    # A fake "claude" install is not needed: `pinman exec` runs any command with the profile env.
    _user_profile(pinman_home, "envy", V2, '[env]\nTEAM_FLAG = "a b $(c)"\n')
    r = pinman(pinman_home, seeded, "exec", "-p", "envy", "--", "sh", "-c",
               'echo "$TEAM_FLAG|$DISABLE_AUTOUPDATER|$PINMAN_PROFILE"; claude --version')
    assert r.code == 0, r.text
    lines = r.out.splitlines()
    assert lines[0] == "a b $(c)|1|envy"
    assert lines[1].startswith(V2)
    env_lines = pinman(pinman_home, seeded, "env", "envy").out
    assert "export TEAM_FLAG='a b $(c)'" in env_lines and "export DISABLE_AUTOUPDATER='1'" in env_lines


def test_read_commands_json(pinman_home: Paths, seeded: Path) -> None:
    assert pinman(pinman_home, seeded, "use", "legacy").code == 0
    rows = {r["name"]: r for r in json.loads(pinman(pinman_home, seeded, "list", "--json").out)}
    assert rows["legacy"]["active"] and rows["legacy"]["installed"] and rows["legacy"]["version"] == V1
    assert rows["stable"]["source"] == "builtin"
    assert (rows["stable"]["version"], rows["stable"]["problem"]) == (None, None)  # a channel not chosen here yet
    show = json.loads(pinman(pinman_home, seeded, "show", "legacy", "--json").out)
    assert show["version"] == V1 and show["integrity"].startswith("sha512-")
    show = json.loads(pinman(pinman_home, seeded, "show", "stable", "--json").out)
    assert (show["version"], show["update"]["policy"], show["channel"]["active"]) == (None, "guarded", True)
    versions = {r["version"]: r for r in json.loads(pinman(pinman_home, seeded, "versions", "--json").out)}
    assert versions[V1]["installed"] and "legacy" in versions[V1]["used_by"]


def test_uninstall_refuses_in_use_and_prune_keeps_used(pinman_home: Paths, seeded: Path) -> None:
    assert pinman(pinman_home, seeded, "use", "legacy").code == 0
    for name in ("exact", "latest"):  # shadow the built-in latest, re-pin exact: nothing uses 2.1.331 now
        _user_profile(pinman_home, name, V1)
    r = pinman(pinman_home, seeded, "uninstall", V1)
    assert r.code != 0 and "is used by" in r.err and "legacy" in r.err
    r = pinman(pinman_home, seeded, "prune")
    assert r.code == 0 and f"removed {V2}" in r.out and V1 not in r.out
    assert not (pinman_home.store / "claude-code" / V2).exists()
    assert claude(pinman_home, seeded, "--version").out.startswith(V1)


@pytest.mark.parametrize("args, code, needle", [
    (["use", "nope"], 3, 'unknown profile "nope"'),
    (["use", "../etc/passwd"], 3, "profile name"),
    (["use", "a;rm -rf x"], 3, "profile name"),
    (["uninstall", "9.9.9"], 5, "9.9.9 is not installed"),
    (["install", "2.1.3311"], 4, "newest published versions: 2.1.330, 2.1.331, 2.1.332"),  # newer than all
    (["install", "2.1.34"], 4, "nearest published versions: 2.1.33, 2.1.329, 2.1.330"),
])
def test_errors_are_one_line_with_a_hint(pinman_home: Paths, tmp_path: Path, args: list[str], code: int,
                                        needle: str) -> None:
    # A fixed packument on loopback: the live registry's newest versions move with every release.
    published = ["1.0.100", "2.1.3", "2.1.33", "2.1.329", "2.1.330", "2.1.331", "2.1.332"]
    doc = {"name": CLAUDE_CODE, "dist-tags": {"latest": published[-1]},
           "versions": {v: {"name": CLAUDE_CODE, "version": v} for v in published}}
    with serve_packuments({CLAUDE_CODE: doc}) as url:
        r = pinman(pinman_home, tmp_path, *args, npm_config_registry=url)
    assert r.code == code, r.text
    assert needle in r.err
    first = r.err.splitlines()[0]
    assert first.startswith("pinman: ")


def test_malformed_profile_names_file_and_line(pinman_home: Paths, tmp_path: Path) -> None:
    bad = _user_profile(pinman_home, "broken", "2.1.x1")
    r = pinman(pinman_home, tmp_path, "use", "broken")
    assert r.code == 3
    assert f"{bad}:2" in r.err or "broken.toml:2" in r.err, r.err
    assert "claude-code.version" in r.err


def test_shim_reports_errors_without_python_traceback(pinman_home: Paths, seeded: Path, tmp_path: Path) -> None:
    assert pinman(pinman_home, seeded, "use", "legacy").code == 0
    (tmp_path / ".pinman.toml").write_text('profile = "ghost"\n')
    r = claude(pinman_home, tmp_path, "--version")
    assert r.code == 3 and 'unknown profile "ghost"' in r.err


def test_registry_unreachable_without_cache_is_one_line(pinman_home: Paths, tmp_path: Path) -> None:
    r = pinman(pinman_home, tmp_path, "resolve", "latest", npm_config_registry="http://127.0.0.1:9/")
    assert r.code == 4, r.text
    assert "127.0.0.1:9" in r.err and len(r.err.strip().splitlines()) <= 2


def test_npm_missing_is_reported(pinman_home: Paths, tmp_path: Path) -> None:
    r = pinman(pinman_home, tmp_path, "install", V1, PATH=str(Path(sys.executable).parent))
    assert r.code in (4, 5), r.text
    assert "npm" in r.err


def test_a_project_only_profile_cannot_become_the_global_choice(pinman_home: Paths, seeded: Path) -> None:
    repo = seeded / "repo"
    (repo / "profiles").mkdir(parents=True)
    (repo / "profiles" / "ours.toml").write_text(f'[claude-code]\nversion = "{V1}"\n')
    (repo / ".pinman.toml").write_text("# marks the project root\n")
    r = pinman(pinman_home, repo, "use", "ours")
    assert r.code == 2 and "pinman use --local ours" in r.err
    assert pinman(pinman_home, repo, "use", "--local", "ours").code == 0
    r = pinman(pinman_home, repo, "use", "ours")  # already chosen here: just (re)activates
    assert r.code == 0 and "for this project" in r.out
    assert claude(pinman_home, repo, "--version").out.startswith(V1)


def test_pinman_home_puts_the_shim_in_its_bin_folder(pinman_home: Paths, seeded: Path) -> None:
    """Scripts and CI jobs set PINMAN_HOME=DIR and put DIR/bin on PATH, as the README says."""
    home = Path(os.environ["PINMAN_HOME"])
    bare = os.environ["PATH"]  # without the shim's folder: `use` must print the line to add
    r = pinman(pinman_home, seeded, "use", "legacy", PATH=bare)
    assert r.code == 0, r.text
    assert f'export PATH="{home / "bin"}:$PATH"' in r.err
    assert (home / "bin" / "claude").is_file() and not (home / "data" / "bin").exists()
    r = run(["sh", "-c", 'PATH="$PINMAN_HOME/bin:$PATH"; claude --version'], pinman_home, seeded, PATH=bare)
    assert r.out.strip() == f"{V1} (Claude Code)", r.text
    doctor = json.loads(pinman(pinman_home, seeded, "doctor", "--json", PATH=f"{home / 'bin'}:{bare}").out)
    assert [f["message"] for f in doctor if "shim" in f["message"] and f["level"] == "ok"] == [
        f"`claude` on PATH is the pinman shim ({home / 'bin' / 'claude'})", "shim up to date"]


def test_a_project_nested_where_the_pointer_of_another_was(pinman_home: Paths, seeded: Path) -> None:
    """`.pinman/legacy/.pinman.toml` inside a project that uses `legacy`: pointers used to be
    kept at links/p/ROOT/.pinman/NAME, so the inner project turned the outer one's pointer into
    a folder; the shim, `rollback` and `use --reset` then failed with IsADirectoryError."""
    assert pinman(pinman_home, seeded, "use", "exact").code == 0
    repo = seeded / "repo"
    inner = repo / ".pinman" / "legacy"
    inner.mkdir(parents=True)
    (repo / ".pinman.toml").write_text('profile = "legacy"\n')
    (inner / ".pinman.toml").write_text('profile = "exact"\n')
    assert claude(pinman_home, inner, "--version").out.startswith(V2)
    r = claude(pinman_home, repo, "--version")
    assert r.code == 0 and r.out.startswith(V1), r.text
    r = pinman(pinman_home, repo, "rollback", "legacy", "--to", V2)
    assert r.code == 0, r.text
    assert claude(pinman_home, repo, "--version").out.startswith(V2)
    assert claude(pinman_home, inner, "--version").out.startswith(V2)
    r = pinman(pinman_home, repo, "use", "legacy", "--reset")
    assert r.code == 0, r.text
    assert claude(pinman_home, repo, "--version").out.startswith(V1)
    assert claude(pinman_home, inner, "--version").out.startswith(V2)
