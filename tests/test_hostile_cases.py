"""Named hostile cases, through the real `pinman` console script and the real `claude` shim:
path traversal, shell metacharacters, a misbehaving registry and npm. (Planted symlinks and a full
disk are in test_hostile_fs.py.) Each ends in one error line with a hint, a non-zero exit and no
traceback — and leaves `claude` running what it ran before.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from hostile_world import World, one_line_error, world

from pinman.runtime.choice import write_global
from pinman.runtime.pointers import pointer_path, write_pointer
from pinman.runtime.shim import ensure_shim
from pinman.runtime.pointers import Pointer
from pinman.paths import Paths


@pytest.fixture
def w(pinman_home: Paths, tmp_path: Path, fake_npm: Path) -> Iterator[World]:
    with world(pinman_home, tmp_path, fake_npm) as the_world:
        yield the_world


@pytest.fixture
def using_a(w: World) -> World:
    """`claude` runs 1.0.1 (profile a) before the hostile step."""
    r = w.pinman("use", "a")
    assert r.code == 0, r.text
    assert w.runs() == "1.0.1"
    return w


# --------------------------------------------------------------------------- path traversal

TRAVERSALS = ["../x", "../../etc/passwd", "/etc/passwd", "..", ".", "a/../../b", "x\n../y", "~root"]


@pytest.mark.parametrize("name", TRAVERSALS)
def test_use_refuses_a_profile_name_that_is_a_path(using_a: World, name: str, tmp_path: Path) -> None:
    w = using_a
    for args in (["use", name], ["use", "--local", name]):
        one_line_error(w.pinman(*args), "invalid profile name")
    assert not (w.cwd / ".pinman.toml").exists()
    assert w.paths.global_choice.read_text() == "a\n"
    assert w.runs() == "1.0.1"


@pytest.mark.parametrize("target", [*TRAVERSALS, "../1.0.2", "1.0.2/../../x", "/tmp"])
def test_install_and_uninstall_refuse_a_path(using_a: World, target: str, tmp_path: Path) -> None:
    w = using_a
    outside = sorted(p.name for p in tmp_path.iterdir())
    r = w.pinman("install", target)
    one_line_error(r)
    assert "invalid profile name" in r.err or "not an exact version" in r.err or "unknown profile" in r.err, r.err
    one_line_error(w.pinman("uninstall", target), "not an exact version")
    assert w.installed() == ["1.0.1"] and w.runs() == "1.0.1"
    assert sorted(p.name for p in tmp_path.iterdir()) == outside  # nothing made or removed beside


def test_uninstall_cannot_reach_outside_the_store(using_a: World) -> None:
    w = using_a
    victim = w.paths.store / "claude-code" / "1.0.1"
    for target in ["../claude-code/1.0.1", "../../store/claude-code/1.0.1", str(victim), "1.0.1/."]:
        one_line_error(w.pinman("uninstall", "--force", target), "not an exact version")
    assert victim.is_dir() and w.runs() == "1.0.1"


@pytest.mark.parametrize("name", ["../x", "/etc/passwd", "a/b", ".hidden", "$(touch CANARY)"])
def test_pinman_profile_env_var_cannot_name_a_path(using_a: World, name: str) -> None:
    w = using_a
    decoy = w.paths.config / "x.toml"  # what profiles/../x.toml would load
    decoy.write_text('[claude-code]\nversion = "1.0.2"\n')
    r = w.claude("--version", PINMAN_PROFILE=name)  # the shim sends it to the slow path
    one_line_error(r, "invalid profile name")
    one_line_error(w.pinman("current", PINMAN_PROFILE=name), "invalid profile name")
    assert not (w.cwd / "CANARY").exists() and w.installed() == ["1.0.1"]


@pytest.mark.parametrize("name", ["../x", "../../profiles/a", "/etc/passwd", "$(touch CANARY)"])
def test_project_file_cannot_name_a_path(using_a: World, name: str) -> None:
    w = using_a
    repo = w.cwd / "repo"
    (repo / "profiles").mkdir(parents=True)
    (repo / "x.toml").write_text('[claude-code]\nversion = "1.0.2"\n')  # what profiles/../x would be
    (repo / ".pinman.toml").write_text(f"# team\nprofile = {json.dumps(name)}\n")
    one_line_error(w.pinman("current", cwd=repo), ".pinman.toml:2:", "invalid profile name")
    one_line_error(w.claude("--version", cwd=repo), "invalid profile name")
    assert not (repo / "CANARY").exists() and w.installed() == ["1.0.1"]


@pytest.mark.parametrize("version", ["../../../x", "/etc/passwd", "1.0.1/../../x", "1.0.1; touch CANARY",
                                     "$(touch CANARY)", "1.0.1\ntouch CANARY"])
def test_a_version_that_is_a_path_or_a_command_is_refused(using_a: World, version: str) -> None:
    w = using_a
    prof = w.profile("evil", "1.0.1")
    prof.write_text('[claude-code]\nversion = ' + json.dumps(version) + "\n")
    one_line_error(w.pinman("use", "evil"), "evil.toml:2:", "claude-code.version")
    one_line_error(w.pinman("install", version))
    one_line_error(w.pinman("pin", "a", version))
    one_line_error(w.pinman("rollback", "a", "--to", version))
    assert not (w.cwd / "CANARY").exists() and w.installed() == ["1.0.1"] and w.runs() == "1.0.1"


def test_a_hand_edited_override_or_journal_cannot_point_outside_the_store(using_a: World) -> None:
    w = using_a
    w.paths.overrides.write_text(json.dumps({"schema": 1, "overrides": {
        "a": {"version": "../../../../tmp", "previous": "1.0.1", "reason": "x", "at": 1}}}))
    w.paths.journal.write_text(json.dumps({"event": "check", "profile": "a", "version": "../../x",
                                           "endpoint": "https://api.anthropic.com:443", "outcome": "ok",
                                           "ts": 1}) + "\n")
    r = w.pinman("current", "--json")  # the malformed override is no override: the pin holds
    assert r.code == 0 and json.loads(r.out)["version"] == "1.0.1", r.text
    one_line_error(w.pinman("rollback", "a"))
    assert w.runs() == "1.0.1"


# --------------------------------------------------------------------------- shell metacharacters

def _hostile_values(canary: Path) -> dict[str, str]:
    c = str(canary)
    return {
        "H_SUBST": f"$(touch {c})",
        "H_BACKTICK": f"`touch {c}`",
        "H_QUOTE": f"'; touch {c}; '",
        "H_DQUOTE": f'"; touch {c}; "',
        "H_NEWLINE": f"x\ntouch {c}\n",
        "H_BACKSLASH": "ends with a backslash\\",
        "H_VARS": "$HOME ${PATH} $0 $$ $@",
        "H_GLOB": "* ? [a-z] ~",
        "H_SEMI": f"a; touch {c} & touch {c} | cat",
        "H_UNICODE": "é 🙂 \u2028 \u00a0",
    }


def _toml_env(values: dict[str, str]) -> str:
    return "[env]\n" + "".join(f"{k} = {json.dumps(v, ensure_ascii=False)}\n" for k, v in values.items())


def test_env_values_reach_claude_verbatim_and_nothing_executes(using_a: World, tmp_path: Path) -> None:
    """Through `pinman use` (the pointer file), the shim, `pinman exec` and `eval $(pinman env)`."""
    w = using_a
    canary = tmp_path / "CANARY"
    values = _hostile_values(canary)
    w.profile("hostile", "1.0.1", _toml_env(values))
    assert w.pinman("use", "hostile").code == 0
    ptr = pointer_path(w.paths, None, "hostile")
    text = ptr.read_text()
    assert w.claude("--version").out.startswith("1.0.1")  # sources the pointer, runs its env function
    dump = "import json, os; print(json.dumps({k: v for k, v in os.environ.items() if k.startswith('H_')}))"
    r = w.pinman("exec", "-p", "hostile", "--", sys.executable, "-c", dump)
    assert r.code == 0 and json.loads(r.out) == values, r.text
    env_lines = w.pinman("env", "hostile").out
    r2 = subprocess.run(["sh", "-c", env_lines + f"\nexec {sys.executable} -c \"{dump}\""], capture_output=True,
                        text=True, env={"PATH": os.environ["PATH"], "HOME": str(tmp_path)})
    assert json.loads(r2.stdout) == values, r2.stderr
    assert not canary.exists(), text


def test_the_shim_applies_a_pointer_verbatim(pinman_home: Paths, tmp_path: Path) -> None:
    """The pointer file alone: every hostile value, a hostile version string and a binary path
    with quotes and spaces, read back exactly by the real shim; the canary never appears."""
    canary = tmp_path / "CANARY"
    values = _hostile_values(canary)
    folder = tmp_path / "it's a \"dir\" $(touch x)"
    folder.mkdir()
    binary = folder / "claude; touch CANARY"
    binary.write_text(f"#!{sys.executable}\nimport json, os, sys\n"
                      "print(json.dumps({'argv': sys.argv[1:], 'env': dict(os.environ)}))\n")
    binary.chmod(0o755)
    src = tmp_path / "p.toml"
    src.write_text("")
    os.utime(src, (1, 1))
    version = f"1.0.1'; touch {canary}; '$(touch {canary})"
    write_pointer(pinman_home, None, Pointer("p", version, binary, src, values))
    write_global(pinman_home, "p")
    ensure_shim(pinman_home)
    env = {"PATH": os.environ["PATH"], "PINMAN_HOME": str(pinman_home.config.parent)}
    args = ["$(touch CANARY)", "a b", "'", ""]
    r = subprocess.run([str(pinman_home.shim), *args], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    got = json.loads(r.stdout)
    assert got["argv"] == args
    assert {k: v for k, v in got["env"].items() if k.startswith("H_")} == values
    assert not canary.exists() and not (tmp_path / "x").exists() and not (tmp_path / "CANARY").exists()


# --------------------------------------------------------------------------- a misbehaving registry

@pytest.mark.parametrize("mode, needle", [
    ("500", "HTTP 500"),
    ("hang", "timed out"),
    ("truncated", "malformed metadata"),
    ("wrong-json", "without a versions list"),
    ("html", "malformed metadata"),
])
def test_a_broken_registry_is_one_line_and_switches_nothing(using_a: World, mode: str, needle: str) -> None:
    w = using_a
    w.registry.mode = mode
    shutil.rmtree(w.paths.registry_cache)  # with a cached answer pinman works offline (below)
    for args in (["install", "1.0.2"], ["use", "latest"], ["resolve", "latest"]):
        r = w.pinman(*args)
        one_line_error(r, needle, w.registry.url.rstrip("/"))
        assert r.code == 4, r.text
        assert "hint:" in r.err
    assert w.installed() == ["1.0.1"] and w.runs() == "1.0.1" and w.leftovers() == []


def test_a_broken_registry_after_a_good_answer_is_served_from_the_cache(using_a: World) -> None:
    w = using_a
    assert w.pinman("resolve", "latest").out.strip() == "1.0.3"
    for mode in ("500", "hang"):
        w.registry.mode = mode
        r = w.pinman("resolve", "latest")
        assert r.code == 0 and r.out.strip() == "1.0.3" and "offline" in r.err, r.text
    w.registry.mode = "truncated"  # an answer that is wrong is not served around: it is an error
    one_line_error(w.pinman("resolve", "latest"), "malformed metadata")


def test_a_tarball_whose_integrity_differs_is_refused(using_a: World) -> None:
    w = using_a
    r = w.pinman("use", "b", FAKE_NPM_INTEGRITY="sha512-" + "B" * 86 + "==")
    one_line_error(r, "integrity mismatch", "1.0.2")
    assert r.code == 5
    assert w.installed() == ["1.0.1"] and w.leftovers() == [] and w.runs() == "1.0.1"
    assert w.paths.global_choice.read_text() == "a\n"


def test_npm_failing_half_way_leaves_nothing_and_the_next_install_repairs(using_a: World) -> None:
    w = using_a
    r = w.pinman("use", "b", FAKE_NPM_FAIL="halfway")
    one_line_error(r, "npm install @anthropic-ai/claude-code@1.0.2 failed", "network aborted")
    assert r.code == 5 and "hint:" in r.err
    assert w.installed() == ["1.0.1"] and w.leftovers() == [] and w.runs() == "1.0.1"
    assert w.pinman("use", "b").code == 0 and w.runs() == "1.0.2"


def test_a_package_whose_manifest_is_nested_too_deeply_is_refused(using_a: World, fake_npm: Path,
                                                                   tmp_path: Path) -> None:
    """What npm unpacked is the package author's: a package.json no parser can read is no install."""
    wrapper = tmp_path / "deep-npm"
    wrapper.mkdir()
    deep = "[" * 100_000
    (wrapper / "npm").write_text(
        f'#!/bin/sh\n"{fake_npm}" "$@" || exit $?\n'
        'while [ $# -gt 0 ]; do [ "$1" = --prefix ] && p=$2; shift; done\n'
        f'[ -n "$p" ] && printf %s "{deep}" > "$p/node_modules/@anthropic-ai/claude-code/package.json"\n')
    (wrapper / "npm").chmod(0o755)
    path = os.pathsep.join([str(using_a.paths.bin), str(wrapper), os.environ["PATH"]])
    r = using_a.pinman("use", "b", PATH=path)
    one_line_error(r, "1.0.2 without a readable package.json")
    assert r.code == 5 and using_a.installed() == ["1.0.1"] and using_a.leftovers() == []
    assert using_a.runs() == "1.0.1"
