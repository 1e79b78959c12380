"""The incident, replayed with real Claude Code against pinman's loopback gateway.

A strict gateway accepts what 1.0.100 sends and rejects what 2.1.331 sends (`thinking: Extra
inputs are not permitted`), as LiteLLM-style proxies do. `pinman check` must detect it, roll back
to the last known-good offline, and refuse to "fix" outages, bad keys or credit problems.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable, Iterator

import pytest
from cli_support import claude, pinman

from pinman.fingerprint.fakeapi import FakeAPI
from pinman.paths import Paths

pytestmark = pytest.mark.e2e

V1, V2 = "1.0.100", "2.1.331"
KEY = "sk-ant-test-e2e-SECRET-0123456789"
CLOSED = "http://127.0.0.1:9/"  # nothing listens: the registry is unreachable


@pytest.fixture
def gateway() -> Iterator[FakeAPI]:
    with FakeAPI("strict") as api:
        yield api


@pytest.fixture
def team(pinman_home: Paths, seeded_home: Callable[..., object], tmp_path: Path) -> Path:
    """A user profile pinned to 1.0.100, active globally; both versions installed."""
    seeded_home(V1, V2)
    p = pinman_home.user_profiles / "team.toml"
    p.parent.mkdir(parents=True)
    p.write_text(f'# our pin\n[claude-code]\nversion = "{V1}"\n\n[health]\ntimeout = 60\n')
    work = tmp_path / "work"
    work.mkdir()
    assert pinman(pinman_home, work, "use", "team").code == 0
    return work


def env(api: FakeAPI, **extra: str) -> dict[str, str]:
    return {"ANTHROPIC_BASE_URL": api.url, "ANTHROPIC_API_KEY": KEY, **extra}


def check(paths: Paths, cwd: Path, api: FakeAPI, **extra: str) -> tuple[int, dict]:
    r = pinman(paths, cwd, "check", "--isolated-home", "--json", **env(api, **extra))
    return r.code, json.loads(r.out)


def _repin(paths: Paths, version: str) -> None:
    p = paths.user_profiles / "team.toml"
    p.write_text(p.read_text().replace(f'version = "{V1}"', f'version = "{version}"'))


def test_schema_error_rolls_back_offline_and_the_shim_follows(pinman_home: Paths, team: Path,
                                                              gateway: FakeAPI) -> None:
    code, doc = check(pinman_home, team, gateway)
    assert (code, doc["outcome"], doc["version"]) == (0, "ok", V1)

    _repin(pinman_home, V2)  # the team moves to the new version...
    assert claude(pinman_home, team, "--version").out.startswith(V2)

    # ...and the gateway rejects what it sends. The registry is down: rollback must not need it.
    code, doc = check(pinman_home, team, gateway, npm_config_registry=CLOSED)
    assert code == 10, doc
    assert doc["outcome"] == "schema" and doc["version"] == V2
    assert doc["rejected"] == "thinking"
    assert doc["rollback"] == {"from": V2, "to": V1}

    assert claude(pinman_home, team, "--version").out.startswith(V1)
    code, doc = check(pinman_home, team, gateway, npm_config_registry=CLOSED)
    assert (code, doc["outcome"], doc["version"], doc["rollback"]) == (0, "ok", V1, None)

    status = pinman(pinman_home, team, "status", "--json")
    row = next(r for r in json.loads(status.out) if r["name"] == "team")
    assert row["version"] == V1 and row["override"] and "rolled back from 2.1.331" in row["why"]
    history = json.loads(pinman(pinman_home, team, "history", "team", "--json").out)
    # newest first: the pin re-probed by the check on the override (still rejected), that check,
    # the rollback, the known-good re-probed, the failing check
    assert [h["event"] for h in history[:5]] == ["check", "check", "rollback", "check", "check"]
    assert (history[0]["version"], history[0]["outcome"], history[1]["version"]) == (V2, "schema", V1)
    assert (pinman_home.user_profiles / "team.toml").read_text().count(V2) == 1  # profile untouched

    # Back to the pin by hand: the override goes, the shim follows.
    assert pinman(pinman_home, team, "use", "team", "--reset").code == 0
    assert claude(pinman_home, team, "--version").out.startswith(V2)

    _assert_no_secret_written(pinman_home)
    assert all(KEY not in "".join(r.headers.values()) for r in gateway.requests)
    assert any(r.user_agent.startswith(f"claude-cli/{V2}") for r in gateway.requests)


@pytest.mark.parametrize("mode, outcome", [("529", "overloaded"), ("401", "auth"), ("credit", "client")])
def test_failures_a_version_change_cannot_fix_never_roll_back(pinman_home: Paths, team: Path, gateway: FakeAPI,
                                                              mode: str, outcome: str) -> None:
    assert check(pinman_home, team, gateway)[0] == 0  # 1.0.100 recorded as known-good
    _repin(pinman_home, V2)
    gateway.mode = mode
    code, doc = check(pinman_home, team, gateway)
    assert code == 12, doc
    assert doc["outcome"] == outcome and doc["rollback"] is None
    assert claude(pinman_home, team, "--version").out.startswith(V2)


def test_gateway_rejecting_both_versions_means_the_endpoint_changed(pinman_home: Paths, team: Path,
                                                                    gateway: FakeAPI) -> None:
    assert check(pinman_home, team, gateway)[0] == 0
    _repin(pinman_home, V2)
    gateway.allow_keys.discard("temperature")  # 1.0.100 sends it: now nothing passes
    code, doc = check(pinman_home, team, gateway)
    assert code == 11, doc
    assert doc["outcome"] == "schema" and doc["rollback"] is None
    assert "endpoint changed" in doc["detail"]
    assert claude(pinman_home, team, "--version").out.startswith(V2)


def test_human_output_names_field_and_target(pinman_home: Paths, team: Path, gateway: FakeAPI) -> None:
    assert check(pinman_home, team, gateway)[0] == 0
    _repin(pinman_home, V2)
    r = pinman(pinman_home, team, "check", "--isolated-home", **env(gateway))
    assert r.code == 10
    assert f"team {V2}  schema error: 400" in r.out and "thinking: Extra inputs are not permitted" in r.out
    assert f"rolled back: team -> {V1} (last known-good for this endpoint" in r.out


def _assert_no_secret_written(paths: Paths) -> None:
    root = Path(paths.config).parent
    for f in root.rglob("*"):
        if f.is_file() and not f.is_symlink() and "store" not in f.parts:
            assert KEY.encode() not in f.read_bytes(), f


def test_use_check_switches_then_rolls_back(pinman_home: Paths, team: Path, gateway: FakeAPI) -> None:
    assert check(pinman_home, team, gateway)[0] == 0
    _repin(pinman_home, V2)
    r = pinman(pinman_home, team, "use", "team", "--check", **env(gateway))
    assert r.code == 10, r.text
    assert claude(pinman_home, team, "--version").out.startswith(V1)


def test_if_due_checks_at_most_once_per_interval_and_is_quiet_when_ok(pinman_home: Paths, team: Path,
                                                                      gateway: FakeAPI) -> None:
    r = pinman(pinman_home, team, "check", "--if-due", "--isolated-home", **env(gateway))
    assert r.code == 0 and r.out == ""
    assert len(gateway.messages_requests()) >= 1
    gateway.clear()
    r = pinman(pinman_home, team, "check", "--if-due", "--isolated-home", **env(gateway))
    assert r.code == 0 and r.out == "" and gateway.messages_requests() == []
