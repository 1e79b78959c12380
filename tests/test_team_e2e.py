"""End to end: a team shares one repository folder; real Claude Code 1.0.100 / 2.1.331, the real
registry for hashes, pinman's loopback fake API for guarded upgrades.

Two users are two PINMAN_HOMEs. Installs come from the session store by hard links, except the one
install user B's `pinman sync` makes itself (1.0.100, from npm's warm cache), which proves sync
installs and verifies rather than only finding things in place.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from cli_support import Result, claude, pinman
from e2e_support import REAL_HOME, seed

from pinman.fingerprint.fakeapi import CLAUDE_CODE_1_0_100_KEYS, FakeAPI
from pinman.paths import Paths
from pinman.profile.validate import load_profile
from pinman.names import CLAUDE_CODE
from pinman.install.layout import MARKER
from pinman.install.store import Store
from pinman.install.layout import Install
from pinman.install.native import native_platform_keys

pytestmark = pytest.mark.e2e

V1, V2 = "1.0.100", "2.1.331"
HERE = native_platform_keys()[0]
KEY = "sk-ant-api03-e2e-dummy-0123456789abcdef"
# npm for installs pinman runs in these tests: the user's own config and warm cache, as in
# e2e_support.real_npm_env, without handing the user's HOME to pinman or claude.
NPM_ENV = {"npm_config_cache": f"{REAL_HOME}/.npm", "npm_config_userconfig": f"{REAL_HOME}/.npmrc"} \
    if REAL_HOME else {}


@dataclass
class User:
    paths: Paths

    def pinman(self, cwd: Path, *args: str, **extra: str) -> Result:
        return pinman(self.paths, cwd, *args, PINMAN_HOME=str(self.paths.config.parent), **NPM_ENV, **extra)

    def claude(self, cwd: Path, *args: str, **extra: str) -> Result:
        return claude(self.paths, cwd, *args, PINMAN_HOME=str(self.paths.config.parent), **extra)

    def marker(self, version: str) -> dict:
        return json.loads((Store(self.paths).path_for(CLAUDE_CODE, version) / MARKER).read_text())


def user(root: Path) -> User:
    return User(Paths.from_env({"PINMAN_HOME": str(root)}))


@pytest.fixture
def session_installs(real_store: Store, real_install: Callable[[str], Install]) -> Store:
    real_install(V1)
    real_install(V2)
    return real_store


def _integrity(path: Path) -> str:
    value = load_profile(path).claude_code.integrity
    assert value is not None
    return value


def test_two_users_share_a_repository(tmp_path: Path, session_installs: Store) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    alice, bob = user(tmp_path / "alice"), user(tmp_path / "bob")
    seed(session_installs, alice.paths, (V1, V2))
    seed(session_installs, bob.paths, (V2,))  # 2.1.331 is 200+ MB: bob's sync installs only 1.0.100

    # Alice sets the repository up, pins, adds a range profile and locks it for two platforms.
    r = alice.pinman(repo, "init")
    assert r.code == 0 and "wrote" in r.out, r.text
    started = load_profile(repo / "profiles" / "stable.toml").claude_code.version  # the built-in stable's choice
    r = alice.pinman(repo, "pin", "stable", V1)
    assert r.code == 0 and f"pinned {started} -> {V1}" in r.out, r.text
    (repo / "profiles" / "edge.toml").write_text(
        "# the newest 2.1.331 build, locked by `pinman lock`\n[claude-code]\nversion = \">=2.1.331 <2.1.332\"\n")
    r = alice.pinman(repo, "lock", "--platform", "darwin-arm64")
    assert r.code == 0 and f"edge: >=2.1.331 <2.1.332 locked at {V2}" in r.out, r.text
    edge = load_profile(repo / "profiles" / "edge.toml").claude_code
    assert edge.locked == V2 and set(edge.native) == {HERE, "darwin-arm64"}
    r = alice.pinman(repo, "sync", "--frozen")
    assert r.code == 0 and r.out.count("already installed, integrity ok") == 2, r.text
    assert alice.claude(repo, "--version").out.startswith(V1)

    # Bob pulls a copy whose stable pin was tampered with: refused, nothing left behind.
    stable = repo / "profiles" / "stable.toml"
    good = stable.read_text()
    pinned, forged = _integrity(stable), edge.integrity
    assert forged and forged != pinned
    stable.write_text(good.replace(pinned, forged))
    r = bob.pinman(repo, "sync")
    assert r.code == 5, r.text
    errors = [line for line in r.err.splitlines() if line.startswith("pinman: ")]
    assert errors == [f"pinman: stable: {CLAUDE_CODE}@{V1}: integrity mismatch: expected {forged} "
                      f"(stable.toml), actual {pinned} (registry)"]
    assert not Store(bob.paths).path_for(CLAUDE_CODE, V1).exists()
    assert not [p for p in (bob.paths.store / ".tmp").glob("build-*")]

    # The real file: bob gets exactly alice's bits, checked against the file.
    stable.write_text(good)
    r = bob.pinman(repo, "sync", "--frozen")
    assert r.code == 0, r.text
    assert f"stable: {V1} installed, integrity ok" in r.out
    assert f"edge: {V2} already installed, integrity ok, native {HERE} ok" in r.out
    for version in (V1, V2):
        a, b = alice.marker(version), bob.marker(version)
        assert a["integrity"] == b["integrity"] and a.get("native") == b.get("native")
    assert bob.marker(V1)["integrity"] == pinned
    assert bob.marker(V2)["native"]["integrity"] == edge.native[HERE]
    assert bob.claude(repo, "--version").out.startswith(V1)
    assert bob.claude(repo, "--version", PINMAN_PROFILE="edge").out.startswith(V2)


@pytest.fixture
def project(seeded_home: Callable[..., object], pinman_home: Paths, tmp_path: Path) -> Path:
    """A repository whose stable profile is pinned to 1.0.100; both versions installed."""
    seeded_home(V1, V2)
    repo = tmp_path / "repo"
    repo.mkdir()
    assert pinman(pinman_home, repo, "init").code == 0
    r = pinman(pinman_home, repo, "pin", "stable", V1)
    assert r.code == 0, r.text
    assert pinman(pinman_home, repo, "sync").code == 0
    return repo


def upgrade(paths: Paths, repo: Path, api: FakeAPI, *args: str) -> Result:
    return pinman(paths, repo, "upgrade", "stable", "--to", V2, "--isolated-home", *args,
                  ANTHROPIC_BASE_URL=api.url, ANTHROPIC_API_KEY=KEY)


def test_guarded_upgrade_against_a_strict_gateway_keeps_the_pin(pinman_home: Paths, project: Path) -> None:
    stable = project / "profiles" / "stable.toml"
    before = stable.read_text()
    with FakeAPI("strict", allow_keys=CLAUDE_CODE_1_0_100_KEYS) as api:
        r = upgrade(pinman_home, project, api, "--record")
        sent = {req.user_agent.split()[0] for req in api.requests}
    assert r.code == 11, r.text
    assert "rejected field: thinking" in r.out and f"the pin stays at {V1}" in r.out
    assert sent == {f"claude-cli/{V2}"}  # the candidate itself was probed
    pin = load_profile(stable).claude_code
    assert pin.version == V1
    bad = pin.is_bad(V2)
    assert bad is not None and "thinking: Extra inputs are not permitted" in bad.reason
    # Only the bad entry was added to the file.
    added = [line for line in stable.read_text().splitlines() if line not in before.splitlines()]
    assert len(added) == 3 and added[0] == "bad = [" and V2 in added[1]
    history = json.loads(pinman(pinman_home, project, "history", "--json").out)
    events = [(e["event"], e["version"], e.get("outcome")) for e in history[:2]]
    assert events == [("bad", V2, "schema"), ("check", V2, "schema")]
    assert claude(pinman_home, project, "--version").out.startswith(V1)


def test_guarded_upgrade_against_an_ok_endpoint_moves_the_pin(pinman_home: Paths, project: Path) -> None:
    with FakeAPI("ok") as api:
        r = upgrade(pinman_home, project, api)
    assert r.code == 0, r.text
    assert f"stable: {V1} -> {V2}: moved." in r.out
    pin = load_profile(project / "profiles" / "stable.toml").claude_code
    installed = Store(pinman_home).get(CLAUDE_CODE, V2)
    assert installed is not None
    assert (pin.version, pin.integrity) == (V2, installed.integrity)
    assert set(pin.native) == {HERE}
    assert claude(pinman_home, project, "--version").out.startswith(V2)  # the shim follows the file
