"""What a mise/volta user expects of the `pinman` command: --version, completion, help on every
parameter, --json on every change, the shell's exit codes, a PATH line safe to eval twice, and
`use VERSION`. Run through the installed console script, as a user would."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any, Callable

import pytest
from cli_support import PINMAN, claude, pinman, user_env
from e2e_support import serve_packuments

import pinman as pinman_pkg
from pinman.cli import progress
from pinman.paths import Paths
from pinman.names import CLAUDE_CODE

V1, V2 = "1.0.100", "2.1.331"

# Every command that changes state; each must offer --json.
CHANGES_STATE = ["use", "rollback", "install", "uninstall", "prune", "trust", "check", "init", "pin", "lock",
                 "sync", "upgrade", "mark-bad", "bisect"]


def _commands() -> dict[str, Any]:
    import typer.main

    from pinman.cli.app import app

    return typer.main.get_command(app).commands  # type: ignore[attr-defined]


def _user_profile(paths: Paths, name: str, body: str) -> Path:
    p = paths.user_profiles / f"{name}.toml"
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(body)
    return p


@pytest.fixture
def seeded(seeded_home: Callable[..., object], tmp_path: Path) -> Path:
    seeded_home(V1, V2)
    work = tmp_path / "work"
    work.mkdir()
    return work


# ------------------------------------------------------------------ --version, completion, help


def test_version_flag_prints_the_package_version(pinman_home: Paths, tmp_path: Path) -> None:
    for flag in ("--version", "-V"):
        r = pinman(pinman_home, tmp_path, flag)
        assert r.code == 0, r.text
        assert r.out.strip() == f"pinman {pinman_pkg.__version__}"


def test_shell_completion_is_typers_own_and_completes_commands(pinman_home: Paths, tmp_path: Path) -> None:
    # typer's own switch for naming the shell instead of detecting it from the parent processes
    # (a run under cron or a detached CI job has no shell among them)
    r = pinman(pinman_home, tmp_path, "--show-completion", "bash", _TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION="1")
    assert r.code == 0 and "_PINMAN_COMPLETE" in r.out, r.text
    r = pinman(pinman_home, tmp_path, _PINMAN_COMPLETE="complete_bash", COMP_WORDS="pinman rol", COMP_CWORD="1")
    assert r.out.split() == ["rollback"]


def test_shell_completion_completes_the_profile_names_visible_here(pinman_home: Paths, tmp_path: Path) -> None:
    _user_profile(pinman_home, "mine", f'[claude-code]\nversion = "{V2}"\n')
    repo = tmp_path / "repo"
    (repo / "profiles").mkdir(parents=True)
    (repo / ".pinman.toml").write_text('profile = "theirs"\n')
    (repo / "profiles" / "theirs.toml").write_text("not even toml [")  # named, never parsed

    def complete(cwd: Path, words: str) -> list[str]:
        r = pinman(pinman_home, cwd, _PINMAN_COMPLETE="complete_bash", COMP_WORDS=words,
                   COMP_CWORD=str(len(words.split(" ")) - 1))
        return r.out.split()

    assert complete(tmp_path, "pinman use ") == ["latest", "legacy", "mine", "stable"]
    assert complete(tmp_path, "pinman rollback m") == ["mine"]
    assert complete(tmp_path, "pinman exec -p l") == ["latest", "legacy"]
    assert complete(repo, "pinman show th") == ["theirs"]


def test_every_profile_argument_and_option_completes_profile_names() -> None:
    lacking = [f"{name} {p.name}" for name, cmd in _commands().items() for p in cmd.params
               if p.name in ("name", "names", "profile", "target") and getattr(p, "_custom_shell_complete", None) is None]
    assert lacking == []


def test_every_argument_and_option_has_help() -> None:
    missing = [f"{name} {p.name}" for name, cmd in _commands().items() for p in cmd.params
               if p.name != "help" and not (getattr(p, "help", None) or "").strip()]
    assert missing == []


def test_help_text_is_plain_and_keeps_brackets(pinman_home: Paths, tmp_path: Path) -> None:
    r = pinman(pinman_home, tmp_path, "check", "--help")
    assert r.code == 0
    assert "[health] interval" in " ".join(r.out.split())  # not eaten as rich markup
    for name in _commands():
        text = pinman(pinman_home, tmp_path, name, "--help").out
        assert "<bool>" not in text and "\x1b[" not in text, name
        # real metavars: NAME, VERSION, N; not typer's `{name}`, `<str>`, `<int>`
        usage = text.splitlines()[0]
        assert "{" not in usage and "<" not in text.replace("<=", ""), (name, text)
        assert all(word.isupper() for word in re.findall(r"\[?([A-Za-z_]+)(?:\.\.\.)?\]?$", usage)), usage


def test_help_lists_every_command_with_its_whole_first_paragraph(pinman_home: Paths, tmp_path: Path) -> None:
    listing = " ".join(pinman(pinman_home, tmp_path, "--help").out.split("Commands:")[1].split())
    assert "..." not in listing  # nothing cut mid-phrase
    for name, command in _commands().items():
        first = " ".join((command.help or "").split("\n\n")[0].split())
        assert f"{name} {first}" in listing, name
    assert pinman(pinman_home, tmp_path, "rollback", "--help").out.startswith("Usage: pinman rollback [OPTIONS] [NAME]")
    assert pinman(pinman_home, tmp_path, "show", "--help").out.startswith("Usage: pinman show [OPTIONS] NAME\n")
    assert "--to VERSION" in pinman(pinman_home, tmp_path, "rollback", "-h").out
    assert "-n, --limit N" in pinman(pinman_home, tmp_path, "history", "-h").out


def test_every_command_that_changes_state_offers_json() -> None:
    commands = _commands()
    lacking = [n for n in CHANGES_STATE if not any("--json" in p.opts for p in commands[n].params)]
    assert lacking == []


def test_hooks_status_is_one_plain_sentence_per_settings_file(pinman_home: Paths, tmp_path: Path) -> None:
    from pinman.autopilot.files import HookFiles

    where = HookFiles(pinman_home).settings_all
    r = pinman(pinman_home, tmp_path, "hooks", "status")
    assert r.out == f"{where}: pinman's hooks are not installed; `pinman hooks install` installs them\n", r.out
    assert pinman(pinman_home, tmp_path, "hooks", "install").code == 0
    r = pinman(pinman_home, tmp_path, "hooks", "status")
    assert r.out == (f"{where}: StopFailure, SessionStart, SessionEnd installed: the claude shim passes them to the "
                     "versions that know them\n"), r.out


# ------------------------------------------------------------------ exit codes


def test_exec_exits_127_for_a_missing_command_and_126_for_one_not_executable(
        pinman_home: Paths, tmp_path: Path) -> None:
    _user_profile(pinman_home, "here", f'[claude-code]\nversion = "{V2}"\n')
    r = pinman(pinman_home, tmp_path, "exec", "-p", "here", "--", "no-such-command-pinman")
    assert r.code == 127 and "command not found: no-such-command-pinman" in r.err, r.text
    plain = tmp_path / "plain.txt"
    plain.write_text("not a program\n")
    plain.chmod(0o644)
    r = pinman(pinman_home, tmp_path, "exec", "-p", "here", "--", str(plain))
    assert r.code == 126 and "not executable" in r.err, r.text


def _packument(versions: list[str]) -> dict[str, Any]:
    return {"name": CLAUDE_CODE, "dist-tags": {"latest": versions[-1]},
            "versions": {v: {"name": CLAUDE_CODE, "version": v, "dist": {"integrity": "sha512-x"}}
                         for v in versions}}


def test_rollback_to_an_unknown_version_fails_like_install(pinman_home: Paths, tmp_path: Path) -> None:
    _user_profile(pinman_home, "here", f'[claude-code]\nversion = "{V2}"\n')
    with serve_packuments({CLAUDE_CODE: _packument(["1.0.98", V1, "1.0.102", V2])}) as url:
        inst = pinman(pinman_home, tmp_path, "install", "1.0.99", npm_config_registry=url)
        back = pinman(pinman_home, tmp_path, "rollback", "here", "--to", "1.0.99", npm_config_registry=url)
    assert inst.code == back.code == 4, (inst.text, back.text)
    assert back.err == inst.err and "1.0.98, 1.0.100, 1.0.102" in back.err
    assert "npm" not in back.err.replace("npm install", "")  # no raw npm output


def test_rollback_to_a_range_is_a_usage_error(pinman_home: Paths, tmp_path: Path) -> None:
    _user_profile(pinman_home, "here", f'[claude-code]\nversion = "{V2}"\n')
    r = pinman(pinman_home, tmp_path, "rollback", "here", "--to", "^1.0.0")
    assert r.code == 2 and "exact version" in r.err, r.text


def test_refusals_are_usage_errors_and_missing_installs_install_errors(pinman_home: Paths, tmp_path: Path) -> None:
    _user_profile(pinman_home, "here", f'[claude-code]\nversion = "{V2}"\n')
    cases = [(["trust"], 2, "not inside a project"),
             (["rollback", "here"], 2, "no known-good version recorded for here at api.anthropic.com:443"),
             (["uninstall", "9.9.9"], 5, "9.9.9 is not installed"),
             (["which"], 5, "is not installed")]
    for args, code, needle in cases:
        r = pinman(pinman_home, tmp_path, *args, PINMAN_PROFILE="here")
        assert (r.code, needle in r.err) == (code, True), (args, r.text)
    r = pinman(pinman_home, tmp_path, "rollback", "here", ANTHROPIC_BASE_URL="http://gw.internal:4000/v1")
    assert "no known-good version recorded for here at gw.internal:4000" in r.err, r.text  # the endpoint asked


# ------------------------------------------------------------------ shell integration


def _sh(paths: Paths, cwd: Path, script: str) -> str:
    env = user_env(paths, PINMAN=PINMAN)
    env["PATH"] = f"{Path(PINMAN).parent}{os.pathsep}/usr/bin{os.pathsep}/bin"
    proc = subprocess.run(["sh", "-c", script], cwd=cwd, env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_activate_twice_puts_the_shim_first_once_and_freezes_nothing(pinman_home: Paths, tmp_path: Path) -> None:
    out = _sh(pinman_home, tmp_path, 'eval "$("$PINMAN" activate)"; eval "$("$PINMAN" activate)"; '
                                     'echo "$PATH"; echo "profile=${PINMAN_PROFILE-unset}"')
    path, profile = out.splitlines()
    folders = path.split(os.pathsep)
    assert folders[0] == str(pinman_home.bin) and folders.count(str(pinman_home.bin)) == 1
    assert profile == "profile=unset"  # the per-folder choice still decides
    assert pinman_home.shim.is_file()


def test_env_evaluated_twice_adds_no_path_duplicates(pinman_home: Paths, tmp_path: Path) -> None:
    _user_profile(pinman_home, "here", f'[claude-code]\nversion = "{V2}"\n')
    out = _sh(pinman_home, tmp_path, 'eval "$("$PINMAN" env here)"; eval "$("$PINMAN" env here)"; echo "$PATH"')
    folders = out.strip().split(os.pathsep)
    assert folders[0] == str(pinman_home.bin) and folders.count(str(pinman_home.bin)) == 1
    assert len(folders) == len(set(folders))


# ------------------------------------------------------------------ show, outdated


def test_show_prints_the_files_values_as_written(pinman_home: Paths, tmp_path: Path) -> None:
    _user_profile(pinman_home, "gw", f'[claude-code]\nversion = "{V2}"\n[health]\ninterval = "6h"\n'
                                     '[env]\nANTHROPIC_BASE_URL = "http://127.0.0.1:9"\n')
    r = pinman(pinman_home, tmp_path, "show", "gw")
    assert r.code == 0, r.text
    assert 'health.interval = "6h"' in r.out and f'claude-code.version = "{V2}"' in r.out
    assert "None" not in r.out and "21600" not in r.out
    assert "env.ANTHROPIC_BASE_URL = (set)" in r.out and "127.0.0.1:9" not in r.out  # env values stay unshown
    assert json.loads(pinman(pinman_home, tmp_path, "show", "gw", "--json").out)["health"]["interval"] == 21600


def test_show_never_prints_the_users_key_pasted_into_a_profile(pinman_home: Paths, tmp_path: Path) -> None:
    key = "sk-ant-api03-pasted-into-the-prompt-0123456789"
    repo = tmp_path / "repo"  # a project's profile: the secret guard watches PINMAN_HOME, not this
    (repo / "profiles").mkdir(parents=True)
    (repo / ".pinman.toml").write_text('profile = "gw"\n')
    (repo / "profiles" / "gw.toml").write_text(f'[claude-code]\nversion = "{V2}"\n[health]\nprompt = "say {key}"\n')
    r = pinman(pinman_home, repo, "show", "gw", ANTHROPIC_API_KEY=key)
    assert r.code == 0 and 'health.prompt = "say ***"' in r.out, r.text


@pytest.mark.e2e
def test_outdated_lists_a_profile_held_back_by_a_rollback(pinman_home: Paths, seeded: Path) -> None:
    _user_profile(pinman_home, "gw", f'[claude-code]\nversion = "{V2}"\n')
    assert pinman(pinman_home, seeded, "outdated", "--json").out.strip() == "[]"
    r = pinman(pinman_home, seeded, "rollback", "gw", "--to", V1, "--json")
    assert r.code == 0 and json.loads(r.out) == {"profile": "gw", "from": V2, "to": V1}, r.text
    rows = json.loads(pinman(pinman_home, seeded, "outdated", "--json").out)
    assert [(x["name"], x["runs"], x["newest"], x["outdated"]) for x in rows] == [("gw", V1, V2, True)]
    assert "gw" in pinman(pinman_home, seeded, "outdated").out


# ------------------------------------------------------------------ use


@pytest.mark.e2e
def test_use_an_exact_version_makes_a_profile_of_it(pinman_home: Paths, seeded: Path) -> None:
    r = pinman(pinman_home, seeded, "use", V1, "--json")
    assert r.code == 0, r.text
    assert json.loads(r.out)["version"] == V1
    assert (pinman_home.user_profiles / f"{V1}.toml").is_file()
    assert claude(pinman_home, seeded, "--version").out.strip() == f"{V1} (Claude Code)"
    assert pinman(pinman_home, seeded, "use", V1).code == 0  # the second time it is a profile like any other


def test_use_of_an_unpublished_version_writes_nothing_and_names_the_nearest(pinman_home: Paths, tmp_path: Path) -> None:
    with serve_packuments({CLAUDE_CODE: _packument(["2.1.330", V2, "2.1.332"])}) as url:
        inst = pinman(pinman_home, tmp_path, "install", "2.1.9999", npm_config_registry=url)
        r = pinman(pinman_home, tmp_path, "use", "2.1.9999", npm_config_registry=url)
        listed = pinman(pinman_home, tmp_path, "list", npm_config_registry=url)
    assert r.code == inst.code == 4 and r.err == inst.err and "2.1.332" in r.err, r.text
    assert not (pinman_home.user_profiles / "2.1.9999.toml").exists()
    assert "2.1.9999" not in listed.out and not pinman_home.global_choice.exists()


@pytest.mark.parametrize("how", ["offline", "npm fails"])
def test_use_of_a_version_that_cannot_be_installed_leaves_no_profile(
        pinman_home: Paths, tmp_path: Path, fake_npm: Path, how: str) -> None:
    env = {"PATH": f"{fake_npm.parent}{os.pathsep}{os.environ['PATH']}", "FAKE_NPM_FAIL": "etarget"}
    if how == "offline":
        r = pinman(pinman_home, tmp_path, "use", V2, npm_config_registry="http://127.0.0.1:9/", **env)
        assert r.code == 4 and "cannot fetch" in r.err, r.text
    else:
        with serve_packuments({CLAUDE_CODE: _packument([V1, V2])}) as url:
            r = pinman(pinman_home, tmp_path, "use", V2, npm_config_registry=url, **env)
        assert r.code == 5, r.text
    assert not (pinman_home.user_profiles / f"{V2}.toml").exists()
    assert "made profile" not in r.err and not pinman_home.global_choice.exists()


def test_use_reset_of_a_project_profile_it_may_not_choose_drops_nothing(pinman_home: Paths, tmp_path: Path) -> None:
    from pinman.profile.discovery import find_profile
    from pinman.state.overrides import Override, get_override, set_override

    repo = tmp_path / "repo"
    (repo / "profiles").mkdir(parents=True)
    (repo / ".pinman.toml").write_text('profile = "other"\n')
    (repo / "profiles" / "proj.toml").write_text(f'[claude-code]\nversion = "{V2}"\n')
    root = find_profile("proj", repo, pinman_home).project_root
    set_override(pinman_home, "proj", root, Override(V1, V2, "rolled back by hand", 0.0, None, V2, V2))
    r = pinman(pinman_home, repo, "use", "proj", "--reset")
    assert r.code == 2 and "cannot be the global choice" in r.err and "dropped" not in r.out, r.text
    assert get_override(pinman_home, "proj", root) is not None  # refused before anything changed


def test_use_of_an_unknown_name_that_is_no_version_still_says_unknown(pinman_home: Paths, tmp_path: Path) -> None:
    r = pinman(pinman_home, tmp_path, "use", "nosuch")
    assert r.code == 3 and 'unknown profile "nosuch"' in r.err
    assert not (pinman_home.user_profiles / "nosuch.toml").exists()


@pytest.mark.e2e
def test_use_says_when_this_folder_overrides_the_choice(pinman_home: Paths, seeded: Path) -> None:
    _user_profile(pinman_home, "exact", f'[claude-code]\nversion = "{V2}"\n')  # an exact pin, installed
    repo = seeded / "repo"
    repo.mkdir()
    (repo / ".pinman.toml").write_text('profile = "legacy"\n')
    r = pinman(pinman_home, repo, "use", "exact")
    assert r.code == 0, r.text
    assert f"{repo / '.pinman.toml'} chooses legacy" in r.err
    r = pinman(pinman_home, seeded, "use", "exact", "--json", PINMAN_PROFILE="legacy")
    assert r.code == 0, r.text
    assert "PINMAN_PROFILE=legacy overrides it" in json.loads(r.out)["overridden_here"]
    r = pinman(pinman_home, seeded, "use", "exact")
    assert r.code == 0 and "overrides" not in r.err and "chooses" not in r.err


# ------------------------------------------------------------------ progress


def test_progress_on_a_terminal_shows_a_bar_with_bytes_and_elapsed_time(tmp_path: Path) -> None:
    from rich.console import Console

    buf = io.StringIO()
    console = Console(file=buf, force_terminal=True, width=100)
    report = progress.reporter("2.1.331", tmp_path, interactive=True, console=console)
    report(progress.START)
    (tmp_path / "build").mkdir()
    (tmp_path / "build" / "blob").write_bytes(b"x" * 2_500_000)
    report("verifying")
    (tmp_path / "build" / "blob").unlink()  # the finished build moves out of the watched folder
    report(progress.END)
    text = buf.getvalue()
    assert "2.1.331: done" in text and "2.5 MB" in text
    assert "0:00:0" in text  # rich's elapsed-time column
    assert "━" in text  # the bar
    assert progress._live == []


def test_progress_piped_is_plain_lines_with_bytes(tmp_path: Path) -> None:
    buf = io.StringIO()
    report = progress.reporter("1.0.100", tmp_path, stream=buf, interactive=False)
    report(progress.START)
    (tmp_path / "blob").write_bytes(b"x" * 1500)
    report("verifying")
    report(progress.END)
    lines = buf.getvalue().splitlines()
    assert [line.split(" (")[0] for line in lines] == ["  1.0.100: downloading with npm", "  1.0.100: verifying",
                                                       "  1.0.100: done"]
    assert "1.5 kB" in lines[1] and "\x1b[" not in buf.getvalue()


def test_progress_counts_a_hard_linked_binary_once_and_fills_the_bar_in_16_colours(tmp_path: Path) -> None:
    """2.x's native binary is hard-linked to bin/claude.exe: counted twice, the bytes doubled at
    "verifying"; rich's rgb green for a finished bar is grey in a 16-colour terminal."""
    from rich.console import Console

    build = tmp_path / "build"
    build.mkdir()
    (build / "claude").write_bytes(b"x" * 3_000_000)
    os.link(build / "claude", build / "claude.exe")
    assert progress.folder_bytes(tmp_path) == 3_000_000
    buf = io.StringIO()
    report = progress.reporter("2.1.331", tmp_path / "other", interactive=True,
                               console=Console(file=buf, force_terminal=True, width=100, color_system="standard"))
    report(progress.START)
    report(progress.END)
    assert "\x1b[32m" + "━" * 10 in buf.getvalue().split("\r")[-1]  # a full green bar
    failed = io.StringIO()
    report = progress.reporter("x", tmp_path / "other", interactive=True,
                               console=Console(file=failed, force_terminal=True, width=100, color_system="standard"))
    report(progress.START)
    progress.stop_all()  # an error: the bar is not filled as if it had finished
    assert "\x1b[32m" + "━" * 10 not in failed.getvalue()


def test_an_error_ends_the_live_line_before_its_message(tmp_path: Path) -> None:
    from rich.console import Console

    buf = io.StringIO()
    report = progress.reporter("x", tmp_path, interactive=True,
                               console=Console(file=buf, force_terminal=True, width=80))
    report(progress.START)
    assert len(progress._live) == 1
    progress.stop_all()
    assert progress._live == []
