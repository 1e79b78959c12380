"""The `claude` shim on its own: pure sh, driven with fake binaries and hand-made pointers."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

from pinman.runtime.choice import write_global
from pinman.runtime.pointers import pointer_path, pointers, read_pointer, record_project_choice, state_stamp, write_pointer
from pinman.runtime.shim import shim_text
from pinman.runtime.pointers import Pointer
from pinman.errors import ProfileError
from pinman.paths import Paths


def _fake_binary(folder: Path, label: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    exe = folder / f"claude-{label}"
    exe.write_text(
        "#!/bin/sh\n"
        f'echo "{label} $#:$*"\n'
        'echo "AU=$DISABLE_AUTOUPDATER X=$X"\n'
        'if [ "$1" = "--stdin" ]; then cat; fi\n'
        'if [ "$1" = "--exit" ]; then exit "$2"; fi\n'
    )
    exe.chmod(0o755)
    return exe


@pytest.fixture
def shim(pinman_home: Paths, tmp_path: Path) -> Path:
    """The shim with a fake python: reaching the slow path prints SLOW instead of resolving."""
    fake_python = tmp_path / "fake-python"
    fake_python.write_text('#!/bin/sh\necho "SLOW $*"\n')
    fake_python.chmod(0o755)
    pinman_home.shim.parent.mkdir(parents=True)
    pinman_home.shim.write_text(shim_text(pinman_home, python=str(fake_python)))
    pinman_home.shim.chmod(0o755)
    return pinman_home.shim


def _profile_file(tmp_path: Path, name: str) -> Path:
    p = tmp_path / "profiles" / f"{name}.toml"
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text('[claude-code]\nversion = "1.0.0"\n')
    return p


def _point(paths: Paths, root: Path | None, name: str, binary: Path, src: Path, env: dict[str, str] | None = None) -> None:
    write_pointer(paths, root, Pointer(name, "1.0.0", binary, src, {"DISABLE_AUTOUPDATER": "1", **(env or {})}))


def run(shim: Path, cwd: Path, *args: str, env: dict[str, str] | None = None, stdin: str = "") -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if k != "PINMAN_PROFILE"}
    full.update(env or {})
    return subprocess.run([str(shim), *args], cwd=cwd, env=full, input=stdin, capture_output=True, text=True, timeout=30)


def test_global_choice(shim: Path, pinman_home: Paths, tmp_path: Path) -> None:
    a = _fake_binary(tmp_path / "bin", "A")
    _point(pinman_home, None, "stable", a, _profile_file(tmp_path, "stable"))
    write_global(pinman_home, "stable")
    work = tmp_path / "work"
    work.mkdir()
    r = run(shim, work, "--version", "two words")
    assert r.stdout.splitlines() == ["A 2:--version two words", "AU=1 X="]


def test_project_file_wins_over_global_and_env_wins_over_both(shim: Path, pinman_home: Paths, tmp_path: Path) -> None:
    a, b, c = (_fake_binary(tmp_path / "bin", x) for x in "ABC")
    src = _profile_file(tmp_path, "p")
    write_global(pinman_home, "stable")
    _point(pinman_home, None, "stable", a, src)
    repo = tmp_path / "repo"
    (repo / "deep" / "er").mkdir(parents=True)
    (repo / ".pinman.toml").write_text('# which profile\nschema = 1\nprofile = "legacy"   # team choice\n')
    _point(pinman_home, repo, "legacy", b, src)
    _point(pinman_home, repo, "latest", c, src)
    assert run(shim, repo / "deep" / "er").stdout.startswith("SLOW")  # the file is new: parsed by pinman
    assert record_project_choice(pinman_home, repo) == "legacy"  # what the slow path does
    assert run(shim, repo / "deep" / "er").stdout.startswith("B ")
    assert run(shim, repo, env={"PINMAN_PROFILE": "latest"}).stdout.startswith("C ")
    assert run(shim, tmp_path).stdout.startswith("A ")


@pytest.mark.parametrize("line", [
    "profile='legacy'", '  profile = "legacy"', 'profile\t=\t"legacy"#c',
])
def test_project_file_spellings(shim: Path, pinman_home: Paths, tmp_path: Path, line: str) -> None:
    b = _fake_binary(tmp_path / "bin", "B")
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / ".pinman.toml").write_text(line + "\n")
    _point(pinman_home, repo, "legacy", b, _profile_file(tmp_path, "p"))
    record_project_choice(pinman_home, repo)
    assert run(shim, repo).stdout.startswith("B ")


@pytest.mark.parametrize("line", [
    'profile = legacy', 'profile = "legacy" junk', 'profile = "le gacy"', 'profile = "../../etc"',
    'profile = "a;b"', 'profile = "legacy"\nprofile = "legacy"',
])
def test_bad_project_files_take_the_slow_path(shim: Path, pinman_home: Paths, tmp_path: Path, line: str) -> None:
    """pinman refuses these files, so nothing is recorded and each run goes to the slow path, which
    says why; the old shim read the first line of `profile = "legacy"` twice and ran legacy."""
    b = _fake_binary(tmp_path / "bin", "B")
    write_global(pinman_home, "legacy")
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / ".pinman.toml").write_text(line + "\n")
    _point(pinman_home, repo, "legacy", b, _profile_file(tmp_path, "p"))
    with pytest.raises(ProfileError):
        record_project_choice(pinman_home, repo)
    r = run(shim, repo, "--version")
    assert r.stdout.startswith("SLOW -P -m pinman _shim --version"), r.stdout


def test_the_shim_does_not_read_a_long_project_file(shim: Path, pinman_home: Paths, tmp_path: Path) -> None:
    """100,000 comment lines before the choice: the shim reads none of them (dash's `read` takes a
    byte per system call); the slow path parses the file once and records what it chooses."""
    b = _fake_binary(tmp_path / "bin", "B")
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / ".pinman.toml").write_text("# filler\n" * 100_000 + 'profile = "legacy"\n')
    _point(pinman_home, repo, "legacy", b, _profile_file(tmp_path, "p"))
    assert run(shim, repo).stdout.startswith("SLOW")
    assert record_project_choice(pinman_home, repo) == "legacy"
    assert run(shim, repo).stdout.startswith("B ")


def test_a_changed_or_replaced_project_file_takes_the_slow_path(shim: Path, pinman_home: Paths, tmp_path: Path) -> None:
    """The record holds while the file's modification time is exactly the recorded one: an edit
    (newer) and a file moved in from elsewhere (`mv` keeps its older time) both go to the slow path."""
    a, b = (_fake_binary(tmp_path / "bin", x) for x in "AB")
    repo = tmp_path / "repo"
    repo.mkdir()
    project = repo / ".pinman.toml"
    project.write_text('profile = "a"\n')
    src = _profile_file(tmp_path, "p")
    _point(pinman_home, repo, "a", a, src)
    _point(pinman_home, repo, "b", b, src)
    record_project_choice(pinman_home, repo)
    assert run(shim, repo).stdout.startswith("A ")
    time.sleep(0.01)
    project.write_text('profile = "b"\n')
    assert run(shim, repo).stdout.startswith("SLOW")
    record_project_choice(pinman_home, repo)
    assert run(shim, repo).stdout.startswith("B ")
    older = tmp_path / "elsewhere.toml"
    older.write_text('profile = "a"\n')
    st = project.stat()
    os.utime(older, ns=(st.st_atime_ns, st.st_mtime_ns - 10**9))
    older.replace(project)
    assert run(shim, repo).stdout.startswith("SLOW")
    record_project_choice(pinman_home, repo)
    assert run(shim, repo).stdout.startswith("A ")


def test_a_project_file_choosing_nothing_leaves_the_global_choice(shim: Path, pinman_home: Paths, tmp_path: Path) -> None:
    a, b = (_fake_binary(tmp_path / "bin", x) for x in "AB")
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / ".pinman.toml").write_text("# marks the project root\n")
    write_global(pinman_home, "stable")
    _point(pinman_home, repo, "stable", b, _profile_file(tmp_path, "p"))
    assert record_project_choice(pinman_home, repo) is None
    assert run(shim, repo).stdout.startswith("B ")  # the global choice, in this project's context


@pytest.mark.parametrize("nested", [".pinman/stable", "stable", "stable/x", "x/stable", ".pinman"])
def test_no_project_layout_turns_a_pointer_into_a_folder(shim: Path, pinman_home: Paths, tmp_path: Path,
                                                         nested: str) -> None:
    """A project inside a project, at any path (`.pinman/stable` made the old pointer for
    `stable` a folder): each keeps its own pointer, and the shim runs each one's binary."""
    a, b = (_fake_binary(tmp_path / "bin", x) for x in "AB")
    src = _profile_file(tmp_path, "p")
    repo = tmp_path / "repo"
    inner = repo / nested
    inner.mkdir(parents=True)
    for order in ((repo, a), (inner, b)), ((inner, b), (repo, a)):
        for root, binary in order:
            _point(pinman_home, root, "stable", binary, src)
        for root, binary in order:
            (root / ".pinman.toml").write_text("# root\n")
            assert pointer_path(pinman_home, root, "stable").is_file()
            out = run(shim, root, env={"PINMAN_PROFILE": "stable"}).stdout
            assert out.startswith(f"{binary.name[-1]} "), (root, out)
    assert sorted(r for _, r in pointers(pinman_home, "stable")) == sorted([repo, inner])


def test_missing_or_stale_pointer_takes_the_slow_path(shim: Path, pinman_home: Paths, tmp_path: Path) -> None:
    a = _fake_binary(tmp_path / "bin", "A")
    write_global(pinman_home, "stable")
    assert run(shim, tmp_path).stdout.startswith("SLOW")
    src = _profile_file(tmp_path, "stable")
    _point(pinman_home, None, "stable", a, src)
    assert run(shim, tmp_path).stdout.startswith("A ")
    time.sleep(0.01)
    src.write_text('[claude-code]\nversion = "2.0.0"\n')  # a teammate's pull changed the pin
    assert run(shim, tmp_path).stdout.startswith("SLOW")


@pytest.mark.parametrize("state", ["overrides", "trust"])
def test_pointer_older_than_an_override_or_trust_change_is_stale(shim: Path, pinman_home: Paths, tmp_path: Path,
                                                                  state: str) -> None:
    """A rollback killed after writing its override but before repointing (or a trust change not yet
    applied to the pointers) must not leave the shim running what the pointer says."""
    a = _fake_binary(tmp_path / "bin", "A")
    src = _profile_file(tmp_path, "stable")
    write_global(pinman_home, "stable")
    _point(pinman_home, None, "stable", a, src)
    assert run(shim, tmp_path).stdout.startswith("A ")
    time.sleep(0.01)
    changed = getattr(pinman_home, state)
    changed.parent.mkdir(parents=True, exist_ok=True)
    changed.write_text("{}\n")
    assert run(shim, tmp_path).stdout.startswith("SLOW")
    # A pointer made from the state as it is now is fresh again, even though its profile is older.
    basis = state_stamp(pinman_home)
    write_pointer(pinman_home, None, Pointer("stable", "1.0.0", a, src, {}, basis))
    assert run(shim, tmp_path).stdout.startswith("A ")


def test_env_values_are_quoted_so_nothing_executes(shim: Path, pinman_home: Paths, tmp_path: Path) -> None:
    a = _fake_binary(tmp_path / "bin", "A")
    canary = tmp_path / "pwned"
    nasty = f"$(touch {canary}) `touch {canary}` ' \" ; touch {canary} \\ \n line2"
    _point(pinman_home, None, "stable", a, _profile_file(tmp_path, "stable"), env={"X": nasty})
    write_global(pinman_home, "stable")
    r = run(shim, tmp_path)
    assert not canary.exists()
    assert f"X={nasty}" in r.stdout


def test_stdin_stdout_and_exit_code_pass_through(shim: Path, pinman_home: Paths, tmp_path: Path) -> None:
    a = _fake_binary(tmp_path / "bin", "A")
    _point(pinman_home, None, "stable", a, _profile_file(tmp_path, "stable"))
    write_global(pinman_home, "stable")
    assert "hello from stdin" in run(shim, tmp_path, "--stdin", stdin="hello from stdin").stdout
    assert run(shim, tmp_path, "--exit", "7").returncode == 7


def test_pointer_switch_is_one_rename(pinman_home: Paths, tmp_path: Path) -> None:
    """Rewriting a pointer never leaves a moment without a complete file."""
    a, b = (_fake_binary(tmp_path / "bin", x) for x in "AB")
    src = _profile_file(tmp_path, "stable")
    _point(pinman_home, None, "stable", a, src)
    target = pointer_path(pinman_home, None, "stable")
    inode = target.stat().st_ino
    _point(pinman_home, None, "stable", b, src)
    assert target.stat().st_ino != inode  # replaced, not rewritten in place
    assert read_pointer(target)["bin"] == str(b)
    assert not [p for p in target.parent.iterdir() if p.name.startswith(".")]  # no temp left
