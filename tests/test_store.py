"""The store: validated names, build aside, marker last, locks, safe removal, real installs."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from e2e_support import CLAUDE_V1, CLAUDE_V2, REAL_VERSIONS, fake_integrity, real_npm_env

from pinman.install import npmfiles, npmrun
from pinman.errors import InstallError, IntegrityError
from pinman.paths import Paths
from pinman.names import CLAUDE_CODE
from pinman.install.layout import MARKER
from pinman.install.store import Store
from pinman.install.layout import Install, semver_key, slug


@pytest.fixture
def store(pinman_home: Paths, fake_npm: Path) -> Store:
    return Store(pinman_home, npm=str(fake_npm))


@pytest.fixture
def npm_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    log = tmp_path / "npm-calls.log"
    monkeypatch.setenv("FAKE_NPM_LOG", str(log))
    return log


def npm_calls(log: Path) -> int:
    return len(log.read_text().splitlines()) if log.exists() else 0


def leftovers(paths: Paths) -> list[str]:
    tmp = paths.store / ".tmp"
    return sorted(p.name for p in tmp.iterdir()) if tmp.is_dir() else []


def run_version(binary: Path) -> str:
    env = {**os.environ, "DISABLE_AUTOUPDATER": "1"}
    done = subprocess.run([str(binary), "--version"], capture_output=True, text=True, env=env)
    return done.stdout


# -- 1. validation ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "version",
    ["../x", "/", "", "1.0", "01.0.0", "1.0.0 ", "1.0.0;rm -rf /", "$(id)", "1.0.0/../..",
     "1.0.0+build", "latest", "^2.1.0", "1.0.0\n"],
)
def test_rejects_versions_that_are_not_exact(store: Store, version: str) -> None:
    with pytest.raises(InstallError) as info:
        store.install(CLAUDE_CODE, version)
    assert "\n" not in info.value.message
    with pytest.raises(InstallError):
        store.path_for(CLAUDE_CODE, version)


@pytest.mark.parametrize(
    "package",
    ["", "../x", "@a/../b", "@scope", "A", "a b", "a;b", "@a/b/c", "$(id)", ".x", "x" * 215],
)
def test_rejects_bad_package_names(store: Store, package: str) -> None:
    with pytest.raises(InstallError) as info:
        store.install(package, "1.0.0")
    assert "\n" not in info.value.message


def test_accepts_prerelease_versions(store: Store) -> None:
    assert store.path_for(CLAUDE_CODE, "2.0.0-beta.1").name == "2.0.0-beta.1"


def test_slugs_are_distinct_folder_names() -> None:
    assert slug(CLAUDE_CODE) == "claude-code"
    assert slug("@anthropic-ai/sdk") == "anthropic-ai+sdk"
    assert slug("left-pad") == "left-pad"
    names = ["claude-code", CLAUDE_CODE, "anthropic-ai__sdk", "@anthropic-ai/sdk", "@a__b/x"]
    assert len({slug(n) for n in names}) == len(names)


# -- fresh installs --------------------------------------------------------------------------


def test_installs_a_js_version(store: Store, pinman_home: Paths) -> None:
    install = store.install(CLAUDE_CODE, "1.0.50")
    assert install.prefix == pinman_home.store / "claude-code" / "1.0.50"
    assert install.binary == install.prefix / "node_modules" / CLAUDE_CODE / "cli.js"
    assert run_version(install.binary).startswith("1.0.50 ")
    assert install.integrity == fake_integrity(CLAUDE_CODE, "1.0.50")
    marker = json.loads((install.prefix / MARKER).read_text())
    assert marker["schema"] == 1
    assert marker["npm"] == "10.0.0-fake"
    assert marker["installed_at"] == install.installed_at
    assert store.get(CLAUDE_CODE, "1.0.50") == install
    assert leftovers(pinman_home) == []


def test_places_the_native_binary_over_the_placeholder(store: Store) -> None:
    install = store.install(CLAUDE_CODE, "2.1.300")
    assert install.binary.name == "claude.exe"
    assert run_version(install.binary).startswith("2.1.300 ")
    native = next((install.prefix / "node_modules" / "@anthropic-ai").glob("claude-code-*/claude"))
    assert os.path.samefile(native, install.binary)  # hard link, not a second copy
    marker = json.loads((install.prefix / MARKER).read_text())
    assert marker["native"]["integrity"] == "sha512-native"


def test_native_binary_already_placed_by_a_postinstall(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_NPM_POSTINSTALL", "1")
    install = store.install(CLAUDE_CODE, "2.1.300")
    assert run_version(install.binary).startswith("2.1.300 ")


def test_missing_native_package_is_refused(
    store: Store, pinman_home: Paths, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_NPM_PLATFORM", "")  # like npm with omit=optional
    with pytest.raises(InstallError, match="no native binary"):
        store.install(CLAUDE_CODE, "2.1.300")
    assert store.get(CLAUDE_CODE, "2.1.300") is None
    assert not store.path_for(CLAUDE_CODE, "2.1.300").exists()
    assert leftovers(pinman_home) == []


def test_binary_printing_another_version_is_refused(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_NPM_PRINTS", "1.0.1 (Claude Code)")
    with pytest.raises(InstallError, match="does not run"):
        store.install(CLAUDE_CODE, "1.0.50")
    assert store.list() == []


def test_npm_installing_another_version_is_refused(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_NPM_INSTALLED_VERSION", "1.0.51")
    with pytest.raises(InstallError, match="1.0.51 instead of 1.0.50"):
        store.install(CLAUDE_CODE, "1.0.50")


def test_progress_phases(store: Store) -> None:
    phases: list[str] = []
    store.install(CLAUDE_CODE, "2.1.300", progress=phases.append)
    assert phases == ["downloading with npm", "placing native binary", "verifying", "done"]
    phases.clear()
    store.install(CLAUDE_CODE, "1.0.50", progress=phases.append)
    assert phases == ["downloading with npm", "verifying", "done"]


def test_other_packages_install_without_running_anything(store: Store) -> None:
    install = store.install("@anthropic-ai/sdk", "0.40.0")
    assert install.prefix.parent.name == "anthropic-ai+sdk"
    assert store.list("@anthropic-ai/sdk") == [install]


# -- 2. cached installs need no npm ----------------------------------------------------------


def test_cached_install_runs_no_npm(
    store: Store, pinman_home: Paths, npm_log: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = store.install(CLAUDE_CODE, "2.1.300")
    assert npm_calls(npm_log) == 1
    monkeypatch.setenv("PATH", "/nonexistent")
    for npm in ("npm", "/nonexistent/npm", "false"):
        assert Store(pinman_home, npm=npm).install(CLAUDE_CODE, "2.1.300") == first
    assert npm_calls(npm_log) == 1


def test_cached_install_with_another_integrity_is_refused(store: Store) -> None:
    store.install(CLAUDE_CODE, "1.0.50")
    with pytest.raises(IntegrityError, match="expected sha512-other"):
        store.install(CLAUDE_CODE, "1.0.50", integrity="sha512-other")
    same = store.install(CLAUDE_CODE, "1.0.50", integrity=fake_integrity(CLAUDE_CODE, "1.0.50"))
    assert same.version == "1.0.50"


# -- 3. npm failures -------------------------------------------------------------------------


def test_npm_failure_is_one_line_and_leaves_nothing(
    store: Store, pinman_home: Paths, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_NPM_FAIL", "etarget")
    with pytest.raises(InstallError) as info:
        store.install(CLAUDE_CODE, "9.9.9")
    err = info.value
    spec = f"{CLAUDE_CODE}@9.9.9"
    assert err.message == f"npm install {spec} failed: No matching version found for {spec}."
    assert err.hint and "npm view" in err.hint
    log = pinman_home.state / "logs" / "npm-claude-code-9.9.9.log"
    assert log.exists() and "ETARGET" in log.read_text() and str(log) in err.hint
    assert leftovers(pinman_home) == []
    assert not store.path_for(CLAUDE_CODE, "9.9.9").exists()


def test_npm_failing_half_way_leaves_nothing(
    store: Store, pinman_home: Paths, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_NPM_FAIL", "halfway")
    with pytest.raises(InstallError, match="failed: network aborted"):
        store.install(CLAUDE_CODE, "1.0.50")
    assert leftovers(pinman_home) == []
    assert store.list() == []


def test_npm_missing(pinman_home: Paths, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(InstallError) as info:
        Store(pinman_home).install(CLAUDE_CODE, "1.0.50")
    assert info.value.message == "npm not found on PATH"
    assert info.value.hint and "Node.js" in info.value.hint


def test_npm_timeout_kills_it_and_leaves_nothing(
    pinman_home: Paths, fake_npm: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_NPM_FAIL", "hang")
    started = time.monotonic()
    with pytest.raises(InstallError, match="did not finish"):
        Store(pinman_home, npm=str(fake_npm), timeout=1).install(CLAUDE_CODE, "1.0.50")
    assert time.monotonic() - started < 30  # killed, not waited for
    assert leftovers(pinman_home) == []


def test_npm_error_line_picks_the_informative_line() -> None:
    refused = """npm warn Unknown user config "nodedir".
npm error code ECONNREFUSED
npm error syscall connect
npm error errno ECONNREFUSED
npm error FetchError: request to http://127.0.0.1:9/x failed, reason: connect ECONNREFUSED
npm error     at ClientRequest.<anonymous> (/usr/lib/node_modules/npm/index.js:130:14)
npm error   code: 'ECONNREFUSED',
npm error }
npm error A complete log of this run can be found in: /root/.npm/_logs/x.log
"""
    code, line = npmrun.npm_error(refused)
    assert code == "ECONNREFUSED"
    assert line and line.startswith("FetchError: request to http://127.0.0.1:9/x failed")
    not_found = """npm error code E404
npm error 404 Not Found - GET https://registry.npmjs.org/@anthropic-ai%2fnope
npm error 404
npm error 404  The requested resource '@anthropic-ai/nope@1.0.0' could not be found.
"""
    assert npmrun.npm_error(not_found) == (
        "E404",
        "404 Not Found - GET https://registry.npmjs.org/@anthropic-ai%2fnope",
    )
    assert npmrun.npm_error("npm ERR! code E401\nnpm ERR! Unable to authenticate\n") == (
        "E401",
        "Unable to authenticate",
    )
    assert npmrun.npm_error("something else\n") == (None, None)


def test_interrupted_build_leaves_nothing(store: Store, pinman_home: Paths) -> None:
    def interrupt(phase: str) -> None:
        if phase == "verifying":
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        store.install(CLAUDE_CODE, "2.1.300", progress=interrupt)
    assert leftovers(pinman_home) == []
    assert not store.path_for(CLAUDE_CODE, "2.1.300").exists()


# -- 4. integrity ----------------------------------------------------------------------------


def test_integrity_mismatch_names_everything_and_leaves_nothing(
    store: Store, pinman_home: Paths, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_NPM_INTEGRITY", "sha512-served")
    with pytest.raises(IntegrityError) as info:
        store.install(CLAUDE_CODE, "2.1.300", integrity="sha512-pinned")
    message = info.value.message
    for part in (CLAUDE_CODE, "2.1.300", "sha512-pinned", "sha512-served"):
        assert part in message
    assert store.get(CLAUDE_CODE, "2.1.300") is None
    assert not store.path_for(CLAUDE_CODE, "2.1.300").exists()
    assert leftovers(pinman_home) == []


def test_matching_integrity_is_accepted(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_NPM_INTEGRITY", "sha512-abc sha1-def")
    install = store.install(CLAUDE_CODE, "1.0.50", integrity="sha512-abc")
    assert install.integrity == "sha512-abc sha1-def"


def test_integrity_matches() -> None:
    assert npmfiles.integrity_matches("sha512-a", "sha512-a")
    assert npmfiles.integrity_matches("sha512-a", "sha1-x sha512-a")
    assert not npmfiles.integrity_matches("sha512-a", "sha512-b")
    assert not npmfiles.integrity_matches("sha512-a", "sha1-a")
    assert not npmfiles.integrity_matches("sha512-a", None)


# -- 5. marker last --------------------------------------------------------------------------


def test_dir_without_marker_is_not_an_install_and_is_redone(
    store: Store, npm_log: Path, pinman_home: Paths
) -> None:
    # What a process killed before the marker would leave, were it not for the rename.
    half = store.path_for(CLAUDE_CODE, "1.0.50")
    (half / "node_modules" / CLAUDE_CODE).mkdir(parents=True)
    (half / "node_modules" / CLAUDE_CODE / "cli.js").write_text("truncated")
    assert store.get(CLAUDE_CODE, "1.0.50") is None
    assert store.list() == []
    install = store.install(CLAUDE_CODE, "1.0.50")
    assert npm_calls(npm_log) == 1
    assert run_version(install.binary).startswith("1.0.50 ")
    assert leftovers(pinman_home) == []


def test_marker_of_another_version_does_not_count(store: Store) -> None:
    install = store.install(CLAUDE_CODE, "1.0.50")
    copy = store.path_for(CLAUDE_CODE, "1.0.51")
    shutil.copytree(install.prefix, copy, symlinks=True)
    assert store.get(CLAUDE_CODE, "1.0.51") is None
    assert [i.version for i in store.list()] == ["1.0.50"]


def test_stale_build_dirs_are_cleaned_fresh_ones_kept(store: Store, pinman_home: Paths) -> None:
    tmp = pinman_home.store / ".tmp"
    old = tmp / "build-claude-code-1.0.1-old"
    fresh = tmp / "build-claude-code-1.0.2-new"
    trash = tmp / "trash-claude-code-1.0.3-x"
    for d in (old, fresh, trash):
        (d / "node_modules").mkdir(parents=True)
    two_hours_ago = time.time() - 7200
    os.utime(old, (two_hours_ago, two_hours_ago))
    store.install(CLAUDE_CODE, "1.0.50")
    assert leftovers(pinman_home) == [fresh.name]


def test_build_dirs_of_killed_builders_go_at_once_live_ones_stay(store: Store, pinman_home: Paths) -> None:
    from filelock import FileLock

    tmp = pinman_home.store / ".tmp"
    dead = tmp / "build-claude-code-1.0.2-dead0001"  # its builder was killed: the lock is free
    live = tmp / "build-claude-code-1.0.3-live0001"  # its builder still holds the lock
    again = tmp / "build-claude-code-1.0.50-mine0001"  # an earlier, killed try of this very install
    for d in (dead, live, again):
        (d / "node_modules").mkdir(parents=True)
    pinman_home.locks.mkdir(parents=True)
    (pinman_home.locks / "store-claude-code-1.0.2.lock").touch()
    builder = FileLock(str(pinman_home.locks / "store-claude-code-1.0.3.lock"))
    with builder:
        store.install(CLAUDE_CODE, "1.0.50")
    assert leftovers(pinman_home) == [live.name]


# -- 6. one npm run for concurrent installs --------------------------------------------------


def test_two_processes_install_once(pinman_home: Paths, fake_npm: Path, npm_log: Path) -> None:
    code = (
        "import sys; from pathlib import Path\n"
        "from pinman.paths import Paths; from pinman.install.store import Store, CLAUDE_CODE\n"
        "i = Store(Paths.from_env(), npm=sys.argv[1]).install(CLAUDE_CODE, '2.1.300')\n"
        "print(i.prefix)\n"
    )
    env = {**os.environ, "FAKE_NPM_DELAY": "1.5"}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code, str(fake_npm)], env=env, stdout=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    outs = [p.communicate(timeout=60)[0].strip() for p in procs]
    assert [p.returncode for p in procs] == [0, 0]
    assert outs[0] == outs[1] == str(Store(pinman_home).path_for(CLAUDE_CODE, "2.1.300"))
    assert npm_calls(npm_log) == 1


def test_waiting_for_another_install_is_reported(store: Store, pinman_home: Paths) -> None:
    from filelock import FileLock

    lock = FileLock(str(pinman_home.locks / "store-claude-code-1.0.50.lock"))
    pinman_home.locks.mkdir(parents=True)
    phases: list[str] = []
    with lock:
        short = Store(pinman_home, npm=store.npm, timeout=-59.5)  # lock wait = timeout + 60 s
        with pytest.raises(InstallError, match="still installing"):
            short.install(CLAUDE_CODE, "1.0.50", progress=phases.append)
    assert phases == ["waiting for another install"]


# -- 7. list, remove, verify -----------------------------------------------------------------


def test_list_sorts_and_skips_tmp_and_incomplete(store: Store, pinman_home: Paths) -> None:
    for v in ("2.1.10", "2.1.9", "1.0.50", "2.1.10-beta.2"):
        store.install(CLAUDE_CODE, v)
    store.install("@anthropic-ai/sdk", "0.40.0")
    store.path_for(CLAUDE_CODE, "2.1.11").mkdir()  # incomplete
    (pinman_home.store / ".tmp" / "build-claude-code-2.1.12-x").mkdir(parents=True)
    (pinman_home.store / "claude-code" / "notes.txt").write_text("not an install")
    versions = [i.version for i in store.list(CLAUDE_CODE)]
    assert versions == ["1.0.50", "2.1.9", "2.1.10-beta.2", "2.1.10"]
    assert [(i.package, i.version) for i in store.list()][-1] == ("@anthropic-ai/sdk", "0.40.0")
    assert len(store.list()) == 5


def test_semver_key() -> None:
    ordered = ["0.9.9", "0.9.10", "1.0.0-alpha", "1.0.0-beta.2", "1.0.0-beta.11", "1.0.0-rc.1"]
    ordered.append("1.0.0")
    assert sorted(reversed(ordered), key=semver_key) == ordered


def test_remove_renames_before_deleting(
    store: Store, pinman_home: Paths, monkeypatch: pytest.MonkeyPatch
) -> None:
    install = store.install(CLAUDE_CODE, "1.0.50")
    seen: list[tuple[Path, bool]] = []
    real_rmtree = shutil.rmtree

    def spy(path: Path, *args: object, **kwargs: object) -> None:
        seen.append((Path(path), install.prefix.exists()))
        real_rmtree(path, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(shutil, "rmtree", spy)
    store.remove(CLAUDE_CODE, "1.0.50")
    assert len(seen) == 1
    trash, final_still_there = seen[0]
    assert trash.parent == pinman_home.store / ".tmp" and trash.name.startswith("trash-")
    assert not final_still_there
    assert store.get(CLAUDE_CODE, "1.0.50") is None
    assert leftovers(pinman_home) == []
    store.remove(CLAUDE_CODE, "1.0.50")  # already gone: fine


def test_verify(store: Store) -> None:
    js = store.install(CLAUDE_CODE, "1.0.50")
    native = store.install(CLAUDE_CODE, "2.1.300")
    assert store.verify(js) is None and store.verify(native) is None

    native.binary.unlink()
    assert "not executable" in (store.verify(native) or "")

    pkg_json = js.package_dir / "package.json"
    pkg_json.write_text(json.dumps({"name": CLAUDE_CODE, "version": "1.0.49"}))
    assert "not version 1.0.50" in (store.verify(js) or "")

    (js.prefix / MARKER).write_text("{")
    assert MARKER in (store.verify(js) or "")


def test_verify_runs_the_binary(store: Store) -> None:
    install = store.install(CLAUDE_CODE, "1.0.50")
    install.binary.write_text("#!/bin/sh\necho 'claude native binary not installed.' >&2\nexit 1\n")
    reason = store.verify(install) or ""
    assert "exited 1" in reason and "native binary not installed" in reason
    assert store.verify(install, run=False) is None


# -- real Claude Code (npm registry) ---------------------------------------------------------


@pytest.mark.e2e
@pytest.mark.parametrize("version", REAL_VERSIONS)
def test_real_install_runs(
    real_store: Store, real_install: Callable[[str], Install], version: str
) -> None:
    install = real_install(version)
    assert real_store.verify(install) is None
    # the check ran the binary without leaving Claude Code config in the (test) home
    assert list(Path(os.environ["HOME"]).iterdir()) == []
    assert run_version(install.binary).split()[:1] == [version]
    assert install.integrity and install.integrity.startswith("sha512-")
    if version == CLAUDE_V2:
        assert install.binary.name == "claude.exe"
        assert install.binary.stat().st_size > 10_000_000  # the native binary, not the placeholder
        assert install.binary.stat().st_nlink >= 2  # hard-linked from the platform package
    else:
        assert install.binary.name == "cli.js"
    offline = Store(real_store.paths, npm="/nonexistent/npm")
    assert offline.install(CLAUDE_CODE, version, integrity=install.integrity) == install


@pytest.mark.e2e
def test_real_integrity_mismatch_is_refused(pinman_home: Paths) -> None:
    real = Store(pinman_home, npm_env=real_npm_env())
    wrong = fake_integrity(CLAUDE_CODE, CLAUDE_V1)
    with pytest.raises(IntegrityError, match=f"{CLAUDE_CODE}@{CLAUDE_V1}: integrity mismatch"):
        real.install(CLAUDE_CODE, CLAUDE_V1, integrity=wrong)
    assert real.list() == [] and leftovers(pinman_home) == []


@pytest.mark.e2e
def test_real_unknown_version(pinman_home: Paths) -> None:
    with pytest.raises(InstallError, match="No matching version found"):
        Store(pinman_home, npm_env=real_npm_env()).install(CLAUDE_CODE, "0.0.1-nope")
    assert leftovers(pinman_home) == []


@pytest.mark.e2e
def test_seeded_home_links_session_installs(
    seeded_home: Callable[..., list[Install]], pinman_home: Paths, real_store: Store
) -> None:
    seeded = seeded_home(CLAUDE_V1, CLAUDE_V2)
    assert [i.version for i in Store(pinman_home).list(CLAUDE_CODE)] == [CLAUDE_V1, CLAUDE_V2]
    for install in seeded:
        assert install.prefix.is_relative_to(pinman_home.store)
        source = real_store.get(CLAUDE_CODE, install.version)
        assert source is not None and os.path.samefile(source.binary, install.binary)
        assert run_version(install.binary).split()[:1] == [install.version]
    Store(pinman_home).remove(CLAUDE_CODE, CLAUDE_V2)  # unlinks only this test's copy
    source = real_store.get(CLAUDE_CODE, CLAUDE_V2)
    assert source is not None and source.binary.exists()
