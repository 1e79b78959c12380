"""Killed at any instant: `install`, `use`, `rollback`, `pin` and `lock` are SIGKILLed at every fault
point they pass (pinman/faults.py) and at random instants, and what they leave must be whole.

After each kill: `claude` through the shim runs a complete version, the old one or the new one,
and the one the state files say (real 1.0.100 / 2.1.331 for `use` and `rollback`); no incomplete
install counts as installed and the next `pinman install` finishes the job and leaves no build
dirs behind; every profile file, the project file, the journal and the state files parse.
The harness lives in tests/kill_support.py; each test prints its row of the kill table.
"""

from __future__ import annotations

import os
import re
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from e2e_support import seed, serve_packuments, write_fake_npm
from kill_support import Campaign, Run, Scenario, campaign, python_script
from test_team import NPM_WRAPPER, PLATFORMS, claude_doc, native_doc, native_sri, sri

from pinman.runtime.choice import read_global, write_global
from pinman.state import journal
from pinman.team.edits import STARTER
from pinman.profile import trust
from pinman.state.overrides import read_overrides
from pinman.paths import Paths
from pinman.profile.discovery import find_profile
from pinman.profile.validate import load_profile
from pinman.profile.project import read_project_file
from pinman.runtime.resolution import activate
from pinman.names import CLAUDE_CODE
from pinman.install.layout import Install, validate_version
from pinman.install.store import Store
from pinman.install.native import native_platform_keys

pytestmark = pytest.mark.e2e

V1, V2 = "1.0.100", "2.1.331"
HERE = native_platform_keys()[0]
ROWS: list[str] = []
STARTER_ENV = '\n[env]\nTEAM_FLAG = "on"   # needs `pinman trust`\n'


# --------------------------------------------------------------------------- shared worlds


@pytest.fixture(scope="module")
def registry_url() -> Iterator[str]:
    """A loopback npm registry with the fake Claude Code versions (as in tests/test_team.py)."""
    docs: dict[str, Any] = {CLAUDE_CODE: claude_doc()}
    docs.update({f"{CLAUDE_CODE}-{k}": native_doc(k) for k in PLATFORMS})

    with serve_packuments(docs) as url:
        yield url


@pytest.fixture(scope="module")
def npm_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with the fake `npm` (hashes the loopback registry agrees with)."""
    base = tmp_path_factory.mktemp("kill-npm")
    fake = write_fake_npm(base / "fake")
    python_script(base / "bin" / "npm", NPM_WRAPPER.format(tests=str(Path(__file__).parent), fake=str(fake)))
    return base / "bin"


@pytest.fixture(scope="module")
def fake_store(tmp_path_factory: pytest.TempPathFactory, npm_dir: Path) -> Store:
    """Fake installs built once; each run gets hard links of them (like seeded_home)."""
    paths = Paths.from_env({"PINMAN_HOME": str(tmp_path_factory.mktemp("kill-fake-store"))})
    store = Store(paths, npm=str(npm_dir / "npm"))
    for version in ("2.1.300", "2.1.330", "2.1.331"):
        store.install(CLAUDE_CODE, version, integrity=sri(version))
    return store


@pytest.fixture
def fake_env(registry_url: str, npm_dir: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    monkeypatch.setenv("npm_config_registry", registry_url)  # in-process setup resolves ranges too
    return {**os.environ, "PATH": f"{npm_dir}{os.pathsep}{os.environ['PATH']}"}


@pytest.fixture
def real_env(tmp_path: Path) -> dict[str, str]:
    """Real installs are seeded; an `npm` that fails makes any attempt to download one visible."""
    python_script(tmp_path / "no-npm" / "npm", "import sys\nprint('npm must not run here', file=sys.stderr)\n"
                  "sys.exit(1)\n")
    return {**os.environ, "PATH": f"{tmp_path / 'no-npm'}{os.pathsep}{os.environ['PATH']}",
            "npm_config_registry": "http://127.0.0.1:9/"}


@pytest.fixture
def real(seeded_home: Callable[..., list[Install]], real_store: Store) -> dict[str, str]:
    """Versions -> integrity of the real session installs (seeded_home downloads them once)."""
    seeded_home(V1, V2)
    out = {}
    for v in (V1, V2):
        inst = real_store.get(CLAUDE_CODE, v)
        assert inst is not None and inst.integrity
        out[v] = inst.integrity
    return out


def world(run: Run, store: Store, versions: tuple[str, ...]) -> Paths:
    for d in (run.work, run.root / "user"):
        d.mkdir(parents=True, exist_ok=True)
    seed(store, run.paths, versions)
    return run.paths


def user_profile(paths: Paths, name: str, version: str, integrity: str) -> None:
    f = paths.user_profiles / f"{name}.toml"
    f.parent.mkdir(parents=True, exist_ok=True)
    f.write_text(f'# {name}: pinned by hand\n[claude-code]\nversion = "{version}"\nintegrity = "{integrity}"\n')


def point_at(run: Run, name: str, context: Path | None) -> None:
    """What an earlier `pinman use` left: the pointer for `name` in that context."""
    activate(run.paths, find_profile(name, context or run.work, run.paths), context)


def expect(run: Run, *, global_choice: str | None = None, claude: dict[Path, str] | None = None) -> list[str]:
    """Problems unless the global choice and the version `claude` runs in each folder are these."""
    out = []
    if global_choice is not None and (chosen := read_global(run.paths)) != global_choice:
        out.append(f"the global choice is {chosen}, not {global_choice}")
    for where, version in (claude or {}).items():
        if (got := run.claude_version(where)) != version:
            out.append(f"claude runs {got} in {where.name}, not {version}")
    return out


def report(result: Campaign) -> None:
    ROWS.append(result.row())
    print("\n" + "\n".join(ROWS))
    kinds = Counter(re.sub(r"\.[a-z0-9_]{8}\.tmp$|-[a-z0-9_]{8}$", "*", re.sub(r"links/r/\d+/.*/", "links/r/D/ROOT/", f))
                    for k in result.tried for f in k.leftovers)
    print("  temp files left by kills (none is read by pinman or the shim):", dict(kinds))
    for k in result.broken:
        print(f"  BROKEN at {k.spec}: {k.problems}")
    missed = [k.spec for k in result.kills if not k.reached]
    assert not missed, f"fault points the command did not pass again: {missed}"
    assert not result.broken, [(k.spec, k.problems) for k in result.broken]


# --------------------------------------------------------------------------- use and rollback: real claude


# The state most kills leave is the "old" one, so "old" is the native 2.x (30 ms to run) and "new"
# the 1.x node script (0.8 s): same proof, a fraction of the time.


def test_kill_use(real: dict[str, str], real_store: Store, real_env: dict[str, str], tmp_path: Path) -> None:
    versions = {"old": V2, "new": V1}

    def setup(run: Run) -> None:
        paths = world(run, real_store, (V1, V2))
        for name, v in versions.items():
            user_profile(paths, name, v, real[v])
        point_at(run, "old", None)
        write_global(paths, "old")

    def verify(run: Run) -> list[str]:
        chosen = read_global(run.paths)
        got = run.claude_version(run.work)
        return [] if got == versions.get(chosen or "") else [f"global is {chosen} but claude runs {got}"]

    def effect(run: Run) -> list[str]:
        return expect(run, global_choice="new", claude={run.work: V1})

    report(campaign(Scenario("use", ("use", "new"), setup, verify, effect=effect), tmp_path / "k", real_env))


def test_kill_use_local(real: dict[str, str], real_store: Store, real_env: dict[str, str], tmp_path: Path) -> None:
    versions = {"old": V2, "new": V1}

    def setup(run: Run) -> None:
        paths = world(run, real_store, (V1, V2))
        for name, v in versions.items():
            user_profile(paths, name, v, real[v])
        run.repo.mkdir()
        (run.repo / ".pinman.toml").write_text('# this project\nprofile = "old"\n')
        point_at(run, "old", run.repo)
        point_at(run, "old", None)
        write_global(paths, "old")

    def verify(run: Run) -> list[str]:
        chosen = read_project_file(run.repo).profile
        out = []
        if (got := run.claude_version(run.repo)) != versions.get(chosen or ""):
            out.append(f"the project chooses {chosen} but claude runs {got} there")
        if (got := run.claude_version(run.work)) != V2:
            out.append(f"outside the project claude runs {got}, not {V2}")
        return out

    def effect(run: Run) -> list[str]:
        chosen = read_project_file(run.repo).profile
        return ([] if chosen == "new" else [f"the project chooses {chosen}"]) + expect(
            run, global_choice="old", claude={run.repo: V1, run.work: V2})

    scn = Scenario("use --local", ("use", "--local", "new"), setup, verify, cwd="repo", effect=effect)
    report(campaign(scn, tmp_path / "k", real_env))


def test_kill_rollback(real: dict[str, str], real_store: Store, real_env: dict[str, str], tmp_path: Path) -> None:
    # Rolled back *to* the native 2.x (the known-good here), for the speed reason above.
    endpoint = journal.endpoint_of(None)

    def setup(run: Run) -> None:
        paths = world(run, real_store, (V1, V2))
        user_profile(paths, "team", V1, real[V1])
        run.repo.mkdir()
        (run.repo / ".pinman.toml").write_text('profile = "team"\n')
        point_at(run, "team", None)
        point_at(run, "team", run.repo)
        write_global(paths, "team")
        j = journal.Journal(paths)
        j.append(journal.Entry("check", "team", V2, endpoint=endpoint, outcome="ok", ts=time.time() - 60))
        j.append(journal.Entry("check", "team", V1, endpoint=endpoint, outcome="schema"))

    def verify(run: Run) -> list[str]:
        ov = read_overrides(run.paths).get("team")
        want = V2 if ov is not None else V1
        out = [] if ov is None or ov.version == V2 else [f"override to {ov.version}"]
        for where in (run.work, run.repo):
            if (got := run.claude_version(where)) != want:
                out.append(f"override {ov.version if ov else None}: claude runs {got} in {where.name}")
        return out

    def effect(run: Run) -> list[str]:
        ov = read_overrides(run.paths).get("team")
        return ([] if ov is not None and ov.version == V2 else [f"override {ov}"]) + expect(
            run, claude={run.work: V2, run.repo: V2})

    scn = Scenario("rollback", ("rollback", "team"), setup, verify, effect=effect)
    report(campaign(scn, tmp_path / "k", real_env))


# --------------------------------------------------------------------------- installs: fake npm


def test_kill_install(fake_store: Store, fake_env: dict[str, str], tmp_path: Path) -> None:
    def setup(run: Run) -> None:
        paths = world(run, fake_store, ("2.1.300",))
        user_profile(paths, "cur", "2.1.300", sri("2.1.300"))
        point_at(run, "cur", None)
        write_global(paths, "cur")

    def verify(run: Run) -> list[str]:
        got = run.claude_version(run.work)
        return [] if got == "2.1.300" else [f"claude runs {got}"]

    def effect(run: Run) -> list[str]:
        return [] if Store(run.paths).get(CLAUDE_CODE, "2.1.330") else ["2.1.330 is not installed"]

    scn = Scenario("install", ("install", "2.1.330"), setup, verify, repair=("install", "2.1.330"),
                   expect_installed=("2.1.300", "2.1.330"), run_binaries=True, random_kills=6, effect=effect)
    report(campaign(scn, tmp_path / "k", fake_env))


def test_a_command_that_does_nothing_fails_the_campaign(fake_store: Store, fake_env: dict[str, str],
                                                       tmp_path: Path) -> None:
    """`install` that installs nothing leaves every kill "whole": the trace refuses to go on."""
    from kill_support import trace

    def setup(run: Run) -> None:
        world(run, fake_store, ("2.1.300",))

    def effect(run: Run) -> list[str]:
        return [] if Store(run.paths).get(CLAUDE_CODE, "2.1.330") else ["2.1.330 is not installed"]

    run = Run(tmp_path / "noop", fake_env)
    run.root.mkdir(parents=True)
    scn = Scenario("install", ("versions",), setup, lambda run: [], effect=effect)  # reads, installs nothing
    with pytest.raises(AssertionError, match=r"did not do its job: \['2.1.330 is not installed'\]"):
        trace(scn, run)


def test_kill_use_that_installs(fake_store: Store, fake_env: dict[str, str], tmp_path: Path) -> None:
    versions = {"cur": "2.1.300", "next": "2.1.331"}

    def setup(run: Run) -> None:
        paths = world(run, fake_store, ("2.1.300",))
        for name, v in versions.items():
            user_profile(paths, name, v, sri(v))
        point_at(run, "cur", None)
        write_global(paths, "cur")

    def verify(run: Run) -> list[str]:
        chosen = read_global(run.paths)
        got = run.claude_version(run.work)
        return [] if got == versions.get(chosen or "") else [f"global is {chosen} but claude runs {got}"]

    def effect(run: Run) -> list[str]:
        return expect(run, global_choice="next", claude={run.work: "2.1.331"})

    scn = Scenario("use+install", ("use", "next"), setup, verify, repair=("install", "next"),
                   expect_installed=("2.1.300", "2.1.331"), run_binaries=True, random_kills=6, effect=effect)
    report(campaign(scn, tmp_path / "k", fake_env))


# --------------------------------------------------------------------------- pin and lock: profile edits


def team_repo(run: Run, profiles: dict[str, str], chosen: str) -> None:
    (run.repo / "profiles").mkdir(parents=True)
    (run.repo / ".pinman.toml").write_text(f'profile = "{chosen}"\n')
    for name, text in profiles.items():
        (run.repo / "profiles" / f"{name}.toml").write_text(text)


def test_kill_pin(fake_store: Store, fake_env: dict[str, str], tmp_path: Path) -> None:
    starter = STARTER.format(name="stable", version=V2, integrity=sri(V2)) + STARTER_ENV

    def setup(run: Run) -> None:
        world(run, fake_store, ("2.1.330", V2))
        team_repo(run, {"stable": starter}, "stable")
        trust.trust_project(run.paths, run.repo)
        point_at(run, "stable", run.repo)

    def verify(run: Run) -> list[str]:
        prof = find_profile("stable", run.repo, run.paths)
        pin = prof.claude_code
        out = []
        if pin.version not in ("2.1.330", V2) or pin.integrity != sri(pin.version):
            out.append(f"stable.toml pins {pin.version} with integrity {pin.integrity}")
        if pin.version == "2.1.330" and pin.native.get(HERE) != native_sri(HERE, "2.1.330"):
            out.append(f"stable.toml pins 2.1.330 without its {HERE} hash")
        if not trust.is_trusted(run.paths, prof):
            out.append("the trusted profile lost its trust (its env would be withheld)")
        if (got := run.claude_version(run.repo)) != pin.version:
            out.append(f"stable.toml pins {pin.version} but claude runs {got}")
        return out

    def effect(run: Run) -> list[str]:
        pin = find_profile("stable", run.repo, run.paths).claude_code
        out = [] if pin.version == "2.1.330" else [f"stable.toml still pins {pin.version}"]
        return out + expect(run, claude={run.repo: "2.1.330"})

    scn = Scenario("pin", ("pin", "stable", "2.1.330"), setup, verify, cwd="repo", random_kills=5, effect=effect)
    report(campaign(scn, tmp_path / "k", fake_env))


def test_kill_lock(fake_store: Store, fake_env: dict[str, str], tmp_path: Path) -> None:
    edge = '# edge: the newest 2.1\n[claude-code]\nversion = "^2.1.0"\n'
    stable = f'[claude-code]\nversion = "{V2}"\n'

    def setup(run: Run) -> None:
        world(run, fake_store, (V2,))
        team_repo(run, {"edge": edge, "stable": stable}, "edge")
        point_at(run, "edge", run.repo)

    def verify(run: Run) -> list[str]:
        out = []
        for name in ("edge", "stable"):
            pin = load_profile(run.repo / "profiles" / f"{name}.toml").claude_code
            locked = pin.integrity is not None
            if locked and (pin.exact != V2 or pin.integrity != sri(V2)
                           or pin.native.get(HERE) != native_sri(HERE, V2)):
                out.append(f"{name}.toml is half locked: {pin}")
        if (got := run.claude_version(run.repo)) != V2:
            out.append(f"claude runs {got}, not {V2}")
        return out

    def effect(run: Run) -> list[str]:
        out = []
        for name in ("edge", "stable"):
            pin = load_profile(run.repo / "profiles" / f"{name}.toml").claude_code
            if pin.exact != V2 or pin.integrity != sri(V2) or pin.native.get(HERE) != native_sri(HERE, V2):
                out.append(f"{name}.toml is not locked at {V2} with both hashes: {pin}")
        return out

    scn = Scenario("lock", ("lock",), setup, verify, cwd="repo", random_kills=5, effect=effect)
    report(campaign(scn, tmp_path / "k", fake_env))


# --------------------------------------------------------------------------- promotion of a guarded channel


ANSWER = '{"type":"result","subtype":"success","is_error":false,"result":"OK"}'


@pytest.fixture(scope="module")
def answering_store(tmp_path_factory: pytest.TempPathFactory, npm_dir: Path) -> Store:
    """Fake installs whose `claude` answers a probe (`-p … --output-format json`) with ok."""
    paths = Paths.from_env({"PINMAN_HOME": str(tmp_path_factory.mktemp("kill-answering-store"))})
    for version in ("2.1.299", "2.1.300", "2.1.330"):
        store = Store(paths, npm=str(npm_dir / "npm"), npm_env={"FAKE_NPM_PRINTS": f"{version} (Claude Code)\n{ANSWER}"})
        store.install(CLAUDE_CODE, version, integrity=sri(version))
    return store


def test_kill_promotion(answering_store: Store, fake_env: dict[str, str], tmp_path: Path) -> None:
    """`check` of a guarded channel promotes 2.1.330 over 2.1.300 and removes 2.1.299, an older
    promotion it downloaded. Killed anywhere: `claude` runs what the channels file names, a
    complete install, and what ran before is still installed (a running session keeps its binary)."""
    from pinman.state.channels import ChannelState, get_channel, update_channel

    endpoint = "http://127.0.0.1:9"

    def setup(run: Run) -> None:
        paths = world(run, answering_store, ("2.1.299", "2.1.300", "2.1.330"))
        f = paths.user_profiles / "chan.toml"
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text('[claude-code]\nversion = ">=2.1.299 <2.1.331"\n[update]\npolicy = "guarded"\nsoak = "0h"\n')
        update_channel(paths, "chan", None, lambda old: ChannelState(
            "2.1.300", ">=2.1.299 <2.1.331", time.time() - 86400, "2.1.299", endpoint, True, ("2.1.299", "2.1.300")))
        point_at(run, "chan", None)
        write_global(paths, "chan")

    def verify(run: Run) -> list[str]:
        state = get_channel(run.paths, "chan", None)
        out = []
        if state is None or state.version not in ("2.1.300", "2.1.330"):
            return [f"the channels file says {state}"]
        if (got := run.claude_version(run.work)) != state.version:
            out.append(f"the channel runs {state.version} but claude runs {got}")
        if state.version == "2.1.330" and state.previous != "2.1.300":
            out.append(f"promoted 2.1.330 with previous {state.previous}")
        if Store(run.paths).get(CLAUDE_CODE, "2.1.300") is None:
            out.append("2.1.300, which ran, was removed")
        return out

    def effect(run: Run) -> list[str]:
        state = get_channel(run.paths, "chan", None)
        out = [] if state is not None and (state.version, state.verified) == ("2.1.330", True) else [f"state {state}"]
        if Store(run.paths).get(CLAUDE_CODE, "2.1.299") is not None:
            out.append("2.1.299 (an older promotion the channel downloaded) is still installed")
        return out + expect(run, claude={run.work: "2.1.330"})

    env = {**fake_env, "ANTHROPIC_BASE_URL": endpoint, "ANTHROPIC_API_KEY": "sk-ant-kill-0123456789abcdef"}
    scn = Scenario("promotion", ("check", "chan"), setup, verify, random_kills=6, effect=effect)
    report(campaign(scn, tmp_path / "k", env))
