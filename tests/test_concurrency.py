"""20 pinman processes at once: `use`, `check` and `install` of the same real Claude Code version.

Nothing is installed when they start, so every one of them wants the install. `npm` is a logging
stand-in that fills the prefix with hard links of the session's real 2.1.331 after a delay (so the
others pile up behind the first); `check` runs the real client against pinman's loopback fake API.

Must hold: npm runs exactly once; every check's journal entry is there, whole; the final state
(global choice, pointers, overrides, store) is one that some serial order of the same commands
gives; a second, warm round changes none of that except the journal, which grows by its checks.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import secret_guard
from cli_support import PINMAN
from kill_support import python_script

from pinman.runtime.pointers import pointer_path, read_pointer
from pinman.runtime.choice import read_global
from pinman.state.overrides import read_overrides
from pinman.fingerprint.fakeapi import FakeAPI
from pinman.state.journal import Journal, endpoint_of
from pinman.paths import Paths
from pinman.install.layout import Install, validate_version
from pinman.install.store import Store
from pinman.install.layout import Install
from pinman.install.store import Store

pytestmark = pytest.mark.e2e

V2 = "2.1.331"
KEY = "sk-ant-api03-concurrency-0123456789abcdef"
PROFILES = ("team", "crew")  # two profiles pinning the same version: `use` races between them
NPM_DELAY = 3.0  # seconds the first install holds its lock while the others arrive

SEEDING_NPM = '''
import os, shutil, sys, time
from pathlib import Path

args = sys.argv[1:]
if args[:1] == ["--version"]:
    print("10.0.0-seeding")
    sys.exit(0)
fd = os.open({log!r}, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
os.write(fd, (" ".join(args) + "\\n").encode())
os.close(fd)
prefix = Path(args[args.index("--prefix") + 1])
version = args[-1].rpartition("@")[2]
time.sleep({delay})
src = Path({store!r}) / version
for entry in src.iterdir():  # what npm would have written, as hard links; the marker is pinman's
    if entry.name == ".pinman-install.json":
        continue
    if entry.is_dir():
        shutil.copytree(entry, prefix / entry.name, copy_function=os.link, symlinks=True)
    else:
        os.link(entry, prefix / entry.name)
'''


@pytest.fixture
def api() -> Iterator[FakeAPI]:
    with FakeAPI("ok") as server:
        yield server


@pytest.fixture
def world(pinman_home: Paths, real_store: Store, real_install: Callable[[str], Install],
          tmp_path: Path) -> dict[str, str]:
    """Profiles written, nothing installed; the environment each process gets."""
    integrity = real_install(V2).integrity
    for name in PROFILES:
        f = pinman_home.user_profiles / f"{name}.toml"
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text(f'[claude-code]\nversion = "{V2}"\nintegrity = "{integrity}"\n\n[health]\ntimeout = 60\n')
    npm_log = tmp_path / "npm.log"
    python_script(tmp_path / "npm-bin" / "npm", SEEDING_NPM.format(
        log=str(npm_log), delay=NPM_DELAY, store=str(real_store.paths.store / "claude-code")))
    (tmp_path / "work").mkdir()
    env = {k: v for k, v in os.environ.items() if k != "PINMAN_PROFILE"}
    env["PATH"] = os.pathsep.join([str(pinman_home.bin), str(tmp_path / "npm-bin"), env["PATH"]])
    env["npm_config_registry"] = "http://127.0.0.1:9/"  # exact pins with hashes: no registry needed
    env["ANTHROPIC_API_KEY"] = KEY
    secret_guard.note(env)
    return env


def commands() -> list[list[str]]:
    """7 × use (alternating profiles), 7 × check, 6 × install, interleaved."""
    out = []
    for i in range(20):
        kind = ("use", "check", "install")[i % 3]
        if kind == "use":
            out.append(["use", PROFILES[(i // 3) % 2]])
        elif kind == "check":
            out.append(["check", "team", "--isolated-home", "--json"])
        else:
            out.append(["install", "team"])
    return out


def run_all(cmds: list[list[str]], env: dict[str, str], cwd: Path) -> list[subprocess.CompletedProcess[str]]:
    procs = [subprocess.Popen([PINMAN, *c], cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for c in cmds]
    done = []
    for c, p in zip(cmds, procs):
        out, err = p.communicate(timeout=300)
        done.append(subprocess.CompletedProcess([PINMAN, *c], p.returncode, out, err))
    return done


def test_twenty_processes_install_once_lose_nothing_and_end_in_a_serial_state(
        pinman_home: Paths, world: dict[str, str], api: FakeAPI, tmp_path: Path) -> None:
    env = {**world, "ANTHROPIC_BASE_URL": api.url}
    cmds = commands()
    checks = sum(c[0] == "check" for c in cmds)
    uses = {c[1] for c in cmds if c[0] == "use"}

    for round_no in (1, 2):  # cold (everyone wants the install), then warm
        results = run_all(cmds, env, tmp_path / "work")
        for r in results:
            assert r.returncode == 0, (r.args, r.stdout, r.stderr)
            assert "Traceback" not in r.stderr
            secret_guard.assert_clean_output(r.stdout + r.stderr, {KEY}, " ".join(r.args[1:3]))
        for r in results:
            if r.args[1] == "check":
                assert json.loads(r.stdout)["outcome"] == "ok", r.stdout

        npm_runs = (tmp_path / "npm.log").read_text().splitlines()
        assert len(npm_runs) == 1, npm_runs  # one install, however many processes wanted it
        waited = sum("waiting for another install" in r.stderr for r in results)
        if round_no == 1:
            assert waited >= 5, "the processes did not race for the install"  # proof the race was real
            first_waited = waited

        assert_journal(pinman_home, api, checks * round_no)
        assert_serial_state(pinman_home, uses, env, tmp_path / "work")
    print(f"\n20 processes x 2 rounds: {first_waited} waited for the one npm run, {2 * checks} check entries, "
          f"global {read_global(pinman_home)}")


def assert_journal(paths: Paths, api: FakeAPI, expected: int) -> None:
    """Every check recorded exactly one whole entry; nothing else was lost; the database is sound."""
    with sqlite3.connect(paths.journal_db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        docs = [json.loads(doc) for (doc,) in conn.execute("SELECT doc FROM entries ORDER BY id")]
    assert len(docs) == expected, f"{len(docs)} journal entries for {expected} checks"
    assert all(d["event"] == "check" and d["outcome"] == "ok" and d["version"] == V2 for d in docs)
    assert {d["endpoint"] for d in docs} == {endpoint_of(api.url)}
    assert len(list(Journal(paths, keep=0).entries())) == expected


def assert_serial_state(paths: Paths, uses: set[str], env: dict[str, str], cwd: Path) -> None:
    """Any serial order of these commands ends with: global = the profile of the last `use` (either
    one), a pointer per used profile naming the one install, no override, one complete install."""
    assert read_global(paths) in uses
    installs = Store(paths).list()
    assert [i.version for i in installs] == [V2]
    assert Store(paths).verify(installs[0]) is None
    for name in uses:
        ptr = read_pointer(pointer_path(paths, None, name))
        assert ptr is not None and ptr["ver"] == V2 and ptr["bin"] == str(installs[0].binary), ptr
    assert read_overrides(paths) == {}
    leftovers = list(paths.config.parent.rglob(".*.tmp")) + list((paths.store / ".tmp").iterdir())
    assert not leftovers, leftovers
    shim = subprocess.run([str(paths.shim), "--version"], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=60)
    assert shim.stdout.split()[:1] == [V2], shim
