"""Claude Code starting Claude Code: versions that read CLAUDE_CODE_PROCESS_WRAPPER get pinman's shim
there; the shim, handed a pinned binary first, runs that very binary, with pinman's hooks for a
session; a launcher the user or the machine's administrator set wins."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from cli_support import claude, pinman, run

from pinman.install.store import Store
from pinman.names import CLAUDE_CODE
from pinman.paths import Paths
from pinman.runtime.managed import ENV as MANAGED
from pinman.runtime.self_spawn import VAR, wrapper_env

SHOWS = '#!/bin/sh\necho "{v}: $*"\necho "wrapper=${{CLAUDE_CODE_PROCESS_WRAPPER-unset}}"\n'


@pytest.fixture
def store(pinman_home: Paths, fake_npm: Path, tmp_path: Path) -> dict[str, Path]:
    """2.1.331 and 1.0.100 installed (fake npm), each binary printing its arguments and the variable;
    profiles `new` (2.1.331, the global choice) and `old` (1.0.100)."""
    binaries = {}
    for version in ("2.1.331", "1.0.100"):
        inst = Store(pinman_home, npm=str(fake_npm)).install(CLAUDE_CODE, version)
        inst.binary.unlink()
        inst.binary.write_text(SHOWS.format(v=version))
        inst.binary.chmod(0o755)
        binaries[version] = inst.binary
    profiles = pinman_home.user_profiles
    profiles.mkdir(parents=True)
    (profiles / "new.toml").write_text('[claude-code]\nversion = "2.1.331"\n')
    (profiles / "old.toml").write_text('[claude-code]\nversion = "1.0.100"\n')
    assert pinman(pinman_home, tmp_path, "use", "new").code == 0
    return binaries


def test_a_version_that_reads_the_variable_gets_the_shim_there(pinman_home: Paths, store: dict[str, Path],
                                                               tmp_path: Path) -> None:
    want = json.dumps([str(pinman_home.shim)])
    lines = claude(pinman_home, tmp_path, "-p", "hi").out.splitlines()
    assert lines == ["2.1.331: -p hi", f"wrapper={want}"]
    for pointer in (pinman_home.global_pointers / "new",):  # the slow path says the same as the pointer
        pointer.unlink()
    assert claude(pinman_home, tmp_path, "-p", "hi").out.splitlines()[1] == f"wrapper={want}"
    # the user's own launcher wins, on the fast path and the slow one
    assert claude(pinman_home, tmp_path, "x", **{VAR: "/opt/corp/launch"}).out.splitlines()[1] == "wrapper=/opt/corp/launch"
    (pinman_home.global_pointers / "new").unlink()
    assert claude(pinman_home, tmp_path, "x", **{VAR: "/opt/corp/launch"}).out.splitlines()[1] == "wrapper=/opt/corp/launch"
    # a version that does not read it does not get it
    assert claude(pinman_home, tmp_path, "x", PINMAN_PROFILE="old").out.splitlines() == ["1.0.100: x", "wrapper=unset"]


def test_a_launcher_in_managed_settings_wins(pinman_home: Paths, tmp_path: Path) -> None:
    managed = tmp_path / "managed-settings.json"
    managed.write_text('{"processWrapper": "/opt/corp/launch"}')
    assert wrapper_env(pinman_home, "2.1.331", {**os.environ, MANAGED: str(managed)}) == {}
    managed.write_text('{"env": {"CLAUDE_CODE_PROCESS_WRAPPER": "/opt/corp/launch"}}')
    assert wrapper_env(pinman_home, "2.1.331", {**os.environ, MANAGED: str(managed)}) == {}
    managed.write_text("{}")
    env = {**os.environ, MANAGED: str(managed)}
    assert wrapper_env(pinman_home, "2.1.208", env) == {VAR: json.dumps([str(pinman_home.shim)])}
    assert wrapper_env(pinman_home, "2.1.207", env) == {}
    # Claude Code refuses its own launch path as the launcher: a shim there is not offered
    home_bin = Paths.from_env({"PINMAN_HOME": str(Path(os.environ["HOME"]) / ".local")})
    assert home_bin.shim == Path(os.environ["HOME"]) / ".local" / "bin" / "claude"
    assert wrapper_env(home_bin, "2.1.331", env) == {}


def test_the_shim_handed_a_pinned_binary_runs_that_binary(pinman_home: Paths, store: dict[str, Path],
                                                          tmp_path: Path) -> None:
    assert pinman(pinman_home, tmp_path, "hooks", "install").code == 0
    hooks = pinman_home.claude_hooks / "settings.json"
    new, old = str(store["2.1.331"]), str(store["1.0.100"])
    # a session the background service starts: the same binary, with pinman's hooks
    assert claude(pinman_home, tmp_path, new, "--session-id", "abc", "say OK").out.splitlines()[0] == \
        f"2.1.331: --settings {hooks} --session-id abc say OK"
    assert claude(pinman_home, tmp_path, new, "--resume=abc").out.splitlines()[0] == \
        f"2.1.331: --settings {hooks} --resume=abc"
    # the session already carries pinman's hooks (the client hands on its own --settings): once only
    assert claude(pinman_home, tmp_path, new, "--session-id", "abc", "--settings", str(hooks), "hi").out \
        .splitlines()[0] == f"2.1.331: --session-id abc --settings {hooks} hi"
    # a caller's own --settings handed on: pinman's hooks as a plugin, the caller's settings as they are
    plugin = pinman_home.claude_hooks / "plugin"
    assert claude(pinman_home, tmp_path, new, "--session-id", "abc", "--settings", "/mine.json").out \
        .splitlines()[0] == f"2.1.331: --plugin-dir {plugin} --session-id abc --settings /mine.json"
    # its own processes: exactly as asked (they take no --settings before their first argument)
    for args in (["daemon", "run", "--origin", "transient"], ["--bg-pty-host", "/s.sock", "200", "50", "--"],
                 ["--bg-spare", "/c.sock"]):
        assert claude(pinman_home, tmp_path, new, *args).out.splitlines()[0] == "2.1.331: " + " ".join(args)
    # never resolved again: the global choice is 2.1.331, yet a binary of another version runs itself
    assert claude(pinman_home, tmp_path, old, "--session-id", "x").out.splitlines()[0].startswith("1.0.100: ")
    # handed itself, the shim never loops
    assert claude(pinman_home, tmp_path, str(pinman_home.shim), "-p", "hi").out.splitlines()[0] == \
        f"2.1.331: --settings {hooks} -p hi"


def test_another_claude_code_starting_itself_is_left_alone(pinman_home: Paths, store: dict[str, Path],
                                                          tmp_path: Path) -> None:
    foreign = tmp_path / "native" / "versions" / "claude"
    foreign.parent.mkdir(parents=True)
    foreign.write_text('#!/bin/sh\necho "foreign: $*"\n')
    foreign.chmod(0o755)
    r = run([str(pinman_home.shim), str(foreign), "--session-id", "x"], pinman_home, tmp_path)
    assert r.out == "foreign: --session-id x\n"


def test_an_extension_bundle_without_a_native_binary_hands_node_and_cli_js(pinman_home: Paths,
                                                                          store: dict[str, Path],
                                                                          tmp_path: Path) -> None:
    ext = Path(os.environ["HOME"]) / ".vscode/extensions/anthropic.claude-code-2.0.14"
    r = claude(pinman_home, tmp_path, "/usr/share/code/code", f"{ext}/resources/claude-code/cli.js",
               "--output-format", "stream-json")
    assert r.out.splitlines()[0] == "2.1.331: --output-format stream-json"
    # a path like that later in the arguments is only an argument
    r = claude(pinman_home, tmp_path, "-p", f"{ext}/resources/claude-code/cli.js")
    assert r.out.splitlines()[0] == f"2.1.331: -p {ext}/resources/claude-code/cli.js"
