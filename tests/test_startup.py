"""`pinman`'s read commands start fast: they answer without typer (`cli.fastpath`) and without the
modules only installs, probes, edits or the network need. Timings are `scripts/bench.py`'s; these
tests guard what makes them: which modules a command imports, and that the fast grammar reads a
command line exactly as typer would.
"""

from __future__ import annotations

import inspect
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cli_support import cache_registry, fake_install

from pinman.cli.fastpath import FAST, parse
from pinman.paths import Paths
from pinman.state.journal import Entry, Journal

V1, V2 = "1.0.100", "2.1.331"

# Never for a command that answers from this machine or rolls back by hand.
HEAVY = {"typer", "click", "rich", "requests", "tomlkit", "filelock", "packaging", "platformdirs"}
# Only for installs, probes, edits, SDKs, npm and node.
NOT_FOR_READS = {"subprocess", "tempfile", "sqlite3", "pinman.install.store", "pinman.install.sdk",
                 "pinman.health.cli_probe", "pinman.npm.fetch", "pinman.profile.edit",
                 # each a good part of a bare interpreter's start: OpenSSL (pinman.digest hashes without
                 # it), shutil (with its compressors), the hook handler and the error classifier
                 "_hashlib", "shutil", "pinman.autopilot.handler", "pinman.health.classify"}

RUN = """
import json, sys
from pinman.cli.main import main
try:
    main(sys.argv[1:])
except SystemExit as e:
    code = e.code
print(json.dumps({"code": code, "modules": sorted(sys.modules)}), file=sys.stderr)
"""


@pytest.fixture
def home(pinman_home: Paths, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Profiles of every kind, a cached registry answer (from a registry gone since), one install
    and one journal entry."""
    profiles = pinman_home.user_profiles
    profiles.mkdir(parents=True)
    (profiles / "exact.toml").write_text(f'[claude-code]\nversion = "{V2}"\n')
    (profiles / "edge.toml").write_text('[claude-code]\nversion = "latest"\n')
    (profiles / "held.toml").write_text(f'[claude-code]\nversion = "^2.1.0"\nlocked = "{V2}"\n')
    (profiles / "old.toml").write_text(f'[claude-code]\nversion = "{V1}"\n')  # what runs here: installed
    fake_install(pinman_home, V1)
    monkeypatch.setenv("npm_config_registry", cache_registry(pinman_home, tmp_path, [V1, V2], V2))
    Journal(pinman_home).append(Entry("check", "exact", V2, endpoint="http://127.0.0.1:4000", outcome="ok"))
    work = tmp_path / "work"
    work.mkdir()
    return work


def _run(paths: Paths, cwd: Path, args: list[str], registry: str | None = None) -> dict[str, object]:
    env = {**os.environ, "PINMAN_HOME": str(paths.config.parent), "PINMAN_PROFILE": "old"}
    if registry:
        env["npm_config_registry"] = registry
    proc = subprocess.run([sys.executable, "-c", RUN, *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=120)
    result = json.loads(proc.stderr.splitlines()[-1])
    result["out"] = proc.stdout
    return result


@pytest.mark.parametrize("args, more", [
    (["current"], set()),
    (["which", "--json"], set()),
    (["status"], {"sqlite3"}),  # the last checks are in the journal
    (["status", "--json"], {"sqlite3"}),
    (["list"], set()),
    (["list", "--json"], set()),
    (["show", "edge"], {"sqlite3"}),  # its last check
    (["history", "-n", "5"], {"sqlite3"}),
])
def test_read_commands_import_neither_typer_nor_what_only_writes_need(
        pinman_home: Paths, home: Path, args: list[str], more: set[str]) -> None:
    done = _run(pinman_home, home, args)
    loaded = set(done["modules"])  # type: ignore[arg-type]
    assert done["code"] in (0, None) and done["out"], done
    assert loaded & (HEAVY | NOT_FOR_READS - more) == set()
    assert "pinman.cli.reads" in loaded or "pinman.cli.current" in loaded  # not vacuous: it answered


def test_a_rollback_by_hand_to_an_installed_version_imports_no_installer_nor_typer(
        pinman_home: Paths, home: Path) -> None:
    done = _run(pinman_home, home, ["rollback", "exact", "--to", V1, "--json"])
    doc = json.loads(done["out"])  # type: ignore[arg-type]
    assert done["code"] in (0, None) and (doc["profile"], doc["from"], doc["to"]) == ("exact", V2, V1)
    loaded = set(done["modules"])  # type: ignore[arg-type]
    assert loaded & (HEAVY | {"subprocess", "pinman.install.store", "pinman.install.sdk", "pinman.health.cli_probe",
                              "pinman.npm.fetch"}) == set()
    assert "sqlite3" in loaded  # not vacuous: the rollback was journaled


def test_a_read_of_a_range_still_asks_node_for_engines(pinman_home: Paths, home: Path) -> None:
    """The one read that needs a process: a range weighs `engines.node` as npm does."""
    (pinman_home.user_profiles / "ranged.toml").write_text('[claude-code]\nversion = "^2.1.0"\n')
    done = _run(pinman_home, home, ["show", "ranged", "--json"])
    assert json.loads(done["out"])["version"] == V2, done["out"]
    assert "subprocess" in done["modules"]  # type: ignore[operator]


# ------------------------------------------------------------------ the fast grammar is typer's


def _typer_commands() -> dict[str, object]:
    import typer.main

    from pinman.cli.app import app

    return typer.main.get_command(app).commands  # type: ignore[attr-defined,no-any-return]


@pytest.mark.parametrize("name", sorted(FAST))
def test_each_fast_verb_takes_exactly_the_parameters_of_its_typer_verb(name: str) -> None:
    command = _typer_commands()[name]
    params = [p for p in command.params if p.name != "help"]  # type: ignore[attr-defined]
    options = [p for p in params if p.param_type_name == "option"]
    arguments = [p for p in params if p.param_type_name == "argument"]
    verb = FAST[name]
    assert verb.flags == {o: p.name for p in options if p.is_flag for o in p.opts}
    assert {o: n for o, (n, _) in verb.options.items()} == {o: p.name for p in options if not p.is_flag for o in p.opts}
    for o, (_, kind) in verb.options.items():
        assert (kind is int) == (next(p for p in options if o in p.opts).type.name in ("int", "integer")), o
    assert verb.args == tuple(p.name for p in arguments)
    assert verb.required == sum(p.required for p in arguments)
    module, func = verb.target.split(":")
    taken = inspect.signature(getattr(__import__(module, fromlist=[func]), func)).parameters
    assert set(taken) == {p.name for p in params}


@pytest.mark.parametrize("args", [
    ["status", "--help"], ["show"], ["show", "a", "b"], ["history", "-n", "x"], ["history", "-n"],
    ["rollback", "x", "--to=1.0.0"], ["status", "--", "x"], ["list", "--jsn"], ["current", "-"],
])
def test_what_the_fast_grammar_does_not_read_goes_to_typer(args: list[str]) -> None:
    assert parse(args, {}) is None


def test_the_fast_grammar_reads_options_anywhere_and_repeated() -> None:
    found = parse(["history", "--json", "-n", "3", "stable", "--json"], {})
    assert found is not None and found[1] == {"as_json": True, "limit": 3, "name": "stable"}
    assert parse(["status"], {"_PINMAN_COMPLETE": "complete_bash"}) is None  # completion is typer's


@pytest.mark.parametrize("args", [
    ["status"], ["status", "--json"], ["list"], ["list", "--json"], ["show", "held"], ["show", "edge", "--json"],
    ["history"], ["history", "exact", "-n", "1", "--json"], ["current", "--json"], ["which"], ["show", "nosuch"],
])
def test_the_fast_path_answers_as_typer_does(pinman_home: Paths, home: Path, args: list[str]) -> None:
    env = {**os.environ, "PINMAN_HOME": str(pinman_home.config.parent), "PINMAN_PROFILE": "old"}
    fast = subprocess.run([sys.executable, "-m", "pinman", *args], cwd=home, env=env, capture_output=True, text=True)
    slow = subprocess.run([sys.executable, "-c", "import sys; from pinman.cli.main import _guard, _typer; "
                           "sys.exit(_guard(lambda: _typer(sys.argv[1:])))", *args],
                          cwd=home, env=env, capture_output=True, text=True)
    assert (fast.returncode, fast.stdout, fast.stderr) == (slow.returncode, slow.stdout, slow.stderr)
    assert fast.stdout or fast.returncode  # not vacuous
