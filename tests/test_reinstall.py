"""`install --force`: the rebuild grows aside and replaces the install only once it is complete and
checked; a failed, refused or offline rebuild leaves the present install running, and a process
killed between the swap's two renames leaves nothing missing for long."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from cli_support import claude, pinman
from e2e_support import serve_packuments

from pinman.errors import InstallError, IntegrityError
from pinman.install.layout import MARKER, Install
from pinman.install.store import Store
from pinman.names import CLAUDE_CODE
from pinman.paths import Paths

V = "1.0.50"


@pytest.fixture
def store(pinman_home: Paths, fake_npm: Path) -> Store:
    return Store(pinman_home, npm=str(fake_npm))


def leftovers(paths: Paths) -> list[str]:
    tmp = paths.store / ".tmp"
    return sorted(p.name for p in tmp.iterdir()) if tmp.is_dir() else []


def runs(inst: Install) -> str:
    return subprocess.run([str(inst.binary), "--version"], capture_output=True, text=True).stdout.strip()


@pytest.mark.parametrize("fail, said", [
    ({"FAKE_NPM_FAIL": "etarget"}, "No matching version found"),
    ({"FAKE_NPM_FAIL": "halfway"}, "network aborted"),
    ({"FAKE_NPM_INSTALLED_VERSION": "1.0.51"}, "instead of 1.0.50"),  # built, but fails the checks
    ({"FAKE_NPM_PRINTS": "9.9.9 (Claude Code)"}, "does not run"),
])
def test_a_failed_rebuild_leaves_the_install_as_it_was(store: Store, pinman_home: Paths,
                                                       monkeypatch: pytest.MonkeyPatch, fail: dict[str, str],
                                                       said: str) -> None:
    old = store.install(CLAUDE_CODE, V)
    marker = (old.prefix / MARKER).read_bytes()
    for k, v in fail.items():
        monkeypatch.setenv(k, v)
    with pytest.raises(InstallError) as info:
        store.reinstall(CLAUDE_CODE, V)
    assert said in info.value.message and f"the installed {V} is kept as it was and still runs" in info.value.message
    kept = store.get(CLAUDE_CODE, V)
    assert kept is not None and (kept.prefix / MARKER).read_bytes() == marker
    assert runs(kept) == f"{V} (Claude Code)"
    assert leftovers(pinman_home) == []


def test_a_rebuild_replaces_the_install_once_it_is_checked(store: Store, pinman_home: Paths,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    old = store.install(CLAUDE_CODE, V)
    (old.package_dir / "cli.js").chmod(0o755)
    (old.package_dir / "cli.js").write_text("#!/bin/sh\necho tampered\n")  # what `verify` would find
    phases: list[str] = []
    new = store.reinstall(CLAUDE_CODE, V, progress=phases.append)
    assert runs(new) == f"{V} (Claude Code)" and new.prefix == old.prefix
    assert store.verify(new) is None
    assert phases[-2:] == ["verifying", "done"]
    assert leftovers(pinman_home) == []  # the old one is gone, not parked


def test_a_build_the_caller_refuses_never_replaces_the_install(store: Store, pinman_home: Paths) -> None:
    old = store.install(CLAUDE_CODE, V)
    marker = (old.prefix / MARKER).read_bytes()
    seen: list[Path] = []

    def refuse(built: Install) -> None:
        seen.append(built.prefix)
        raise IntegrityError("native hash differs")

    with pytest.raises(IntegrityError, match="native hash differs; the installed 1.0.50 is kept"):
        store.reinstall(CLAUDE_CODE, V, accept=refuse)
    assert seen and seen[0] != old.prefix  # judged where it was built, before any swap
    kept = store.get(CLAUDE_CODE, V)
    assert kept is not None and (kept.prefix / MARKER).read_bytes() == marker
    assert leftovers(pinman_home) == []


def test_reinstall_of_a_missing_version_is_an_install(store: Store) -> None:
    assert runs(store.reinstall(CLAUDE_CODE, V)) == f"{V} (Claude Code)"


KILLED = """
import sys
from pinman.paths import Paths
from pinman.install.store import Store
from pinman.names import CLAUDE_CODE
Store(Paths.from_env(), npm=sys.argv[1]).reinstall(CLAUDE_CODE, sys.argv[2])
"""


def _kill_at(fake_npm: Path, tmp_path: Path, label: str) -> None:
    trace = tmp_path / "trace"
    env = {**os.environ, "PINMAN_FAULT_POINTS": str(trace), "PINMAN_FAULT_STOP": f"{label}#1"}
    proc = subprocess.Popen([sys.executable, "-c", KILLED, str(fake_npm), V], env=env)
    deadline = time.monotonic() + 60
    while f"!{label}#1" not in (trace.read_text() if trace.exists() else ""):
        assert proc.poll() is None and time.monotonic() < deadline, "never reached " + label
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()


def test_killed_between_the_two_renames_the_old_install_comes_back(
        store: Store, pinman_home: Paths, fake_npm: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    old = store.install(CLAUDE_CODE, V)
    marker = (old.prefix / MARKER).read_bytes()
    _kill_at(fake_npm, tmp_path, f"store.swapped_aside:{V}")
    assert store.get(CLAUDE_CODE, V) is None  # the window: two renames wide
    log = tmp_path / "npm.log"
    monkeypatch.setenv("FAKE_NPM_LOG", str(log))
    monkeypatch.setenv("FAKE_NPM_FAIL", "etarget")  # offline: only what the store has can help
    back = store.install(CLAUDE_CODE, V)
    assert (back.prefix / MARKER).read_bytes() == marker and runs(back) == f"{V} (Claude Code)"
    assert not log.exists() and leftovers(pinman_home) == []


def test_killed_after_the_swap_the_new_install_stays(store: Store, pinman_home: Paths, fake_npm: Path,
                                                     tmp_path: Path) -> None:
    old = store.install(CLAUDE_CODE, V)
    (old.prefix / "old-only").write_text("x")
    _kill_at(fake_npm, tmp_path, f"store.swapped:{V}")
    new = store.get(CLAUDE_CODE, V)
    assert new is not None and not (new.prefix / "old-only").exists()
    assert [n for n in leftovers(pinman_home) if n.startswith("swap-")]  # the old one, parked
    store.install(CLAUDE_CODE, "1.0.51")  # any later build clears it away
    assert leftovers(pinman_home) == []
    assert store.get(CLAUDE_CODE, V) is not None and not (new.prefix / "old-only").exists()


# ---------------------------------------------------------------- through the CLI, with real npm


@pytest.mark.e2e
def test_install_force_offline_keeps_the_install_running(
        pinman_home: Paths, seeded_home: Callable[..., list[Install]], tmp_path: Path) -> None:
    """The registry answers pinman's question, but npm cannot fetch the tarball (a closed port, an
    empty npm cache): the rebuild fails and the install is still there, and runs."""
    (inst,) = seeded_home("1.0.100")
    doc = {"name": CLAUDE_CODE, "dist-tags": {"latest": "1.0.100"},
           "versions": {"1.0.100": {"name": CLAUDE_CODE, "version": "1.0.100", "dist": {
               "integrity": inst.integrity, "tarball": "http://127.0.0.1:9/claude-code-1.0.100.tgz"}}}}
    work = tmp_path / "work"
    work.mkdir()
    assert pinman(pinman_home, work, "use", "legacy").code == 0
    npm = {"npm_config_cache": str(tmp_path / "empty-npm-cache"), "npm_config_fetch_retries": "0"}
    with serve_packuments({CLAUDE_CODE: doc}) as url:
        r = pinman(pinman_home, work, "install", "--force", "1.0.100", npm_config_registry=url, **npm)
    assert r.code != 0 and "npm install" in r.err, r.text
    assert claude(pinman_home, work, "--version").out.startswith("1.0.100")
    assert "the installed 1.0.100 is kept as it was and still runs" in r.err
    assert Store(pinman_home).verify(Store(pinman_home).get(CLAUDE_CODE, "1.0.100")) is None  # type: ignore[arg-type]
    r = pinman(pinman_home, work, "install", "--force", "legacy", npm_config_registry="http://127.0.0.1:9/", **npm)
    assert r.code != 0 and "kept as it was" in r.err, r.text
    assert claude(pinman_home, work, "--version").out.startswith("1.0.100")


def test_a_forced_rebuild_of_a_pin_without_a_hash_is_checked_against_the_registrys(
        pinman_home: Paths, fake_npm: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`install --force PROFILE` repairs: with no integrity in the profile, the registry's applies,
    and a rebuild that does not match it never replaces the install."""
    from pinman.profile.discovery import find_profile
    from pinman.runtime.resolution import ensure_installed, target

    monkeypatch.setenv("PATH", f"{fake_npm.parent}{os.pathsep}{os.environ['PATH']}")
    old = Store(pinman_home).install(CLAUDE_CODE, V)
    marker = (old.prefix / MARKER).read_bytes()
    p = pinman_home.user_profiles / "team.toml"
    p.parent.mkdir(parents=True)
    p.write_text(f'[claude-code]\nversion = "{V}"\n')
    team = find_profile("team", tmp_path, pinman_home)
    doc = {"name": CLAUDE_CODE, "dist-tags": {"latest": V},
           "versions": {V: {"name": CLAUDE_CODE, "version": V, "dist": {"integrity": "sha512-registrys"}}}}
    with serve_packuments({CLAUDE_CODE: doc}) as url:
        monkeypatch.setenv("npm_config_registry", url)
        with pytest.raises(IntegrityError, match="expected sha512-registrys.*is kept as it was"):
            ensure_installed(pinman_home, target(pinman_home, team), force=True)
    kept = Store(pinman_home).get(CLAUDE_CODE, V)
    assert kept is not None and (kept.prefix / MARKER).read_bytes() == marker
