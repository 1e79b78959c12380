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
import tempfile
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


def test_npm_alone_would_leave_world_writable_files(tmp_path: Path) -> None:
    """The control for the test above: the same npm under umask 000, outside pinman."""
    prefix = Path(tempfile.mkdtemp(dir=tmp_path))
    env = {**os.environ, **NPM_ENV}
    subprocess.run(["sh", "-c", UMASK_000, "npm", "install", "--prefix", str(prefix), "--no-audit", "--no-fund",
                    f"{CLAUDE_CODE}@{V1}"], env=env, check=True, capture_output=True, timeout=300)
    entries = [p for p in prefix.rglob("*") if not p.is_symlink()]
    assert entries and sum(1 for p in entries if _mode(p) & 0o002) > len(entries) // 2
