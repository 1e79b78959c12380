"""Modes under `umask 000`: nothing pinman writes can be written by another local user.

Folders pinman makes are 0700, its state and pointer files 0600 (a pointer is sh the shim
sources, and may carry a profile's ANTHROPIC_CUSTOM_HEADERS token), the shim 0755, and what npm
unpacks into the store keeps its read and execute bits but never group or world write. Real
`pinman` and `claude`, a real npm install of 1.0.100 (from npm's warm cache).
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest
from cli_support import PINMAN, Result, run
from e2e_support import REAL_HOME

from pinman.paths import Paths
from pinman.names import CLAUDE_CODE
from pinman.install.layout import MARKER

pytestmark = pytest.mark.e2e

V1 = "1.0.100"
TEAM_HEADER = "X-Team-Token: tok-modes-0123"  # a header value, kept in the pointer
NPM_ENV = {"npm_config_cache": f"{REAL_HOME}/.npm", "npm_config_userconfig": f"{REAL_HOME}/.npmrc"} \
    if REAL_HOME else {}
UMASK_000 = 'umask 000; exec "$0" "$@"'


def under_umask_000(paths: Paths, cwd: Path, *args: str, **extra: str) -> Result:
    return run(["sh", "-c", UMASK_000, *args], paths, cwd, **NPM_ENV, **extra)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def _install_trees(paths: Paths) -> list[Path]:
    return [m.parent for m in paths.store.glob(f"*/*/{MARKER}")]


def test_nothing_is_writable_by_others_under_umask_000(pinman_home: Paths, tmp_path: Path) -> None:
    prof = pinman_home.user_profiles / "hdr.toml"
    prof.parent.mkdir(parents=True)
    prof.write_text(f'[claude-code]\nversion = "{V1}"\n[env]\nANTHROPIC_CUSTOM_HEADERS = "{TEAM_HEADER}"\n')
    home = pinman_home.config.parent
    made = {home, pinman_home.config, prof.parent, prof}  # by this test, as the user would
    work = tmp_path / "work"
    repo = work / "repo"
    repo.mkdir(parents=True)
    (repo / ".pinman.toml").write_text('profile = "hdr"\n')

    r = under_umask_000(pinman_home, work, PINMAN, "use", "hdr")
    assert r.code == 0, r.text
    for cwd in (work, repo):  # the global pointer, then the slow path in a project
        r = under_umask_000(pinman_home, cwd, str(pinman_home.shim), "--version")
        assert r.out.strip() == f"{V1} (Claude Code)", r.text

    trees = _install_trees(pinman_home)
    assert [t.parent.name + "/" + t.name for t in trees] == [f"claude-code/{V1}"]
    writable, loose_dirs, loose_files, files = [], [], [], []
    for folder, dirs, names in os.walk(home):
        for p in [Path(folder) / n for n in (*dirs, *names)]:
            mode = _mode(p)
            if p.is_symlink():
                continue
            if mode & 0o022:
                writable.append((str(p), oct(mode)))
            if p in made or any(p == t or t in p.parents for t in trees):
                continue  # npm's files: their own read/execute bits, checked for write above
            if p.is_dir() and mode != 0o700:
                loose_dirs.append((str(p), oct(mode)))
            elif p.is_file():
                files.append(p)
                if p != pinman_home.shim and mode != 0o600:
                    loose_files.append((str(p), oct(mode)))
    assert writable == [] and loose_dirs == [] and loose_files == []
    assert _mode(pinman_home.shim) == 0o755
    assert _mode(pinman_home.data) == 0o700 and _mode(trees[0]) == 0o700
    # Not vacuous: the state files, both pointers (carrying the token) and the record are there.
    carrying = [p for p in files if TEAM_HEADER.encode() in p.read_bytes()]
    assert len(carrying) == 2 and all(_mode(p) == 0o600 for p in carrying), carrying
    assert pinman_home.global_choice in files and any(p.name == ".choice" for p in files)
    assert any(pinman_home.registry_cache in p.parents for p in files), files


def test_npm_alone_would_leave_world_writable_files_pinman_does_not(pinman_home: Paths, tmp_path: Path) -> None:
    """The control: the same npm under umask 000, outside pinman, leaves most files world-writable;
    the very same paths in pinman's install of that version (also under umask 000) are not."""
    prefix = Path(tempfile.mkdtemp(dir=tmp_path))
    env = {**os.environ, **NPM_ENV}
    subprocess.run(["sh", "-c", UMASK_000, "npm", "install", "--prefix", str(prefix), "--no-audit", "--no-fund",
                    f"{CLAUDE_CODE}@{V1}"], env=env, check=True, capture_output=True, timeout=300)
    control = {p.relative_to(prefix) for p in prefix.rglob("*") if not p.is_symlink() and _mode(p) & 0o002}
    entries = [p for p in prefix.rglob("*") if not p.is_symlink()]
    assert entries and len(control) > len(entries) // 2

    r = under_umask_000(pinman_home, tmp_path, PINMAN, "install", V1)
    assert r.code == 0, r.text
    (tree,) = _install_trees(pinman_home)
    mine = [rel for rel in control if (tree / rel).exists() or (tree / rel).is_symlink()]
    assert len(mine) > len(control) // 2  # the same files, for the most part (npm's own extras aside)
    assert [(str(rel), oct(_mode(tree / rel))) for rel in mine if _mode(tree / rel) & 0o022] == []
    assert _mode(tree) == 0o700


BISECT_STATE = """
from pinman.paths import Paths
from pinman.state.bisect_state import State, save_state, state_path
paths = Paths.from_env()
save_state(state_path(paths, "hdr", "http://127.0.0.1:4000"), State("hdr", "http://127.0.0.1:4000", "1.0.100",
                                                                   "2.1.331", ["1.0.101"]))
"""


def _loose(paths: Paths, made: set[Path], executables: set[Path]) -> list[tuple[str, str]]:
    """Everything pinman wrote under PINMAN_HOME (not npm's install trees) that is not 0700 (a
    folder), 0600 (a file) or, for an executable it writes, 0755."""
    trees = _install_trees(paths)
    out = []
    for folder, dirs, names in os.walk(paths.config.parent):
        for p in [Path(folder) / n for n in (*dirs, *names)]:
            if p.is_symlink() or p in made or any(p == t or t in p.parents for t in trees):
                continue
            want = 0o700 if p.is_dir() else 0o755 if p in executables else 0o600
            if _mode(p) != want:
                out.append((str(p.relative_to(paths.config.parent)), oct(_mode(p))))
    return out


def test_every_state_file_is_private_under_umask_000(pinman_home: Paths, seeded_home: Callable[..., object],
                                                     tmp_path: Path) -> None:
    """The journal (and SQLite's -wal/-shm), overrides, trust, the hook's cool-down and notice,
    next-due, the registry cache, fingerprints and a paused bisect's state: each written by
    pinman itself under umask 000, each private."""
    import json

    from e2e_support import serve_packuments

    from pinman.autopilot.files import HookFiles
    from pinman.fingerprint.fakeapi import FakeAPI

    seeded_home(V1)  # the install, hard-linked by the test: its folders are the test's
    seeded = {pinman_home.data, pinman_home.store, pinman_home.store / "claude-code"}
    prof = pinman_home.user_profiles / "hdr.toml"
    prof.parent.mkdir(parents=True)
    prof.write_text(f'[claude-code]\nversion = "{V1}"\n')
    files = HookFiles(pinman_home)
    # The hook log is created by the failure hook's own logging, checked where that is tested: here it
    # exists already, as after any earlier failure, and is only appended to.
    pinman_home.state.mkdir(mode=0o700, parents=True, exist_ok=True)
    files.folder.mkdir(mode=0o700)
    files.log.touch(mode=0o600)
    made = {prof.parent, prof, pinman_home.config, pinman_home.config.parent, files.log, *seeded}
    work = tmp_path / "work"
    repo = work / "repo"
    (repo / "profiles").mkdir(parents=True)
    (repo / ".pinman.toml").write_text('profile = "team"\n')
    (repo / "profiles" / "team.toml").write_text(f'[claude-code]\nversion = "{V1}"\n[env]\nX_TEAM = "1"\n')
    doc = {"name": CLAUDE_CODE, "dist-tags": {"latest": V1},
           "versions": {V1: {"name": CLAUDE_CODE, "version": V1, "dist": {"integrity": "sha512-x"}}}}

    def step(cwd: Path, *args: str, **extra: str) -> None:
        r = under_umask_000(pinman_home, cwd, *args, **extra)
        assert r.code == 0, (args, r.text)

    with FakeAPI("ok") as api, serve_packuments({CLAUDE_CODE: doc}) as registry:
        step(work, PINMAN, "use", "hdr")
        step(work, PINMAN, "check", "hdr", "--isolated-home", ANTHROPIC_BASE_URL=api.url)
        step(work, PINMAN, "rollback", "hdr", "--to", V1)
        step(repo, PINMAN, "trust")
        step(work, PINMAN, "resolve", "latest", npm_config_registry=registry)
        step(work, PINMAN, "fingerprint", V1)
        for client in (V1, "2.1.400"):  # runs the check (cool-down), then a notice: not pinman's client
            transcript = tmp_path / f"t-{client}.jsonl"
            transcript.write_text(json.dumps({"type": "user", "version": client}) + "\n")
            payload = tmp_path / f"p-{client}.json"
            payload.write_text(json.dumps({"hook_event_name": "StopFailure", "cwd": str(work), "error": "unknown",
                                           "transcript_path": str(transcript), "last_assistant_message":
                                           'API Error: 400 {"type":"error","error":{"type":"invalid_request_'
                                           'error","message":"thinking: Extra inputs are not permitted"}}'}))
            step(work, PINMAN, "_hook", "stop-failure", str(payload), ANTHROPIC_BASE_URL=api.url)
        step(work, sys.executable, "-c", BISECT_STATE)

    written = {"journal": pinman_home.journal_db, "overrides": pinman_home.overrides, "trust": pinman_home.trust,
               "cool-down": files.cooldown, "notice": files.notice, "next-due": files.next_due}
    assert [k for k, p in written.items() if not p.is_file()] == [], files.log.read_text()
    for folder in (pinman_home.registry_cache, pinman_home.fingerprints, pinman_home.bisects):
        assert [p for p in folder.rglob("*") if p.is_file()], folder  # not vacuous: each was written
    assert "done: ok" in files.log.read_text() and "done: not-ours" in files.log.read_text()
    loose = _loose(pinman_home, made, {pinman_home.shim})
    assert loose == [], "\n".join(map(str, loose))
