"""The ladder and its remedies, step by step, against a simulated client and gateway (no real client).

`World` plays both: a version sends a set of body fields, each switch takes some away (what the
offline measurement sees, and what the probe sends), and the gateway refuses the first field of
its deny-list that a request carries, in body order, naming it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from pinman.errors import ExitCode
from pinman.fingerprint.fingerprints import Fingerprint
from pinman.fingerprint.proxy import Recorded
from pinman.health.result import ProbeResult
from pinman.paths import Paths
from pinman.policy import ladder, measure
from pinman.policy.candidates import table
from pinman.policy.measure import Effect
from pinman.policy.search import MAX_FIELDS
from pinman.profile.discovery import find_profile
from pinman.runtime import resolution
from pinman.state.journal import Entry, Journal
from pinman.state.overrides import get_override, get_remedies, read_remedies

EP = "http://127.0.0.1:4000"
V1, V2 = "1.0.100", "2.1.331"
BETAS, EFFORT = "CLAUDE_CODE_DISABLE_EXPERIMENTAL_BETAS=1", "CLAUDE_CODE_EFFORT_LEVEL=auto"
THINKING, CACHING = "CLAUDE_CODE_DISABLE_THINKING=1", "DISABLE_PROMPT_CACHING=1"
# body order, as 2.1.331 sends it
SENDS = {V1: ["model", "messages", "system", "tools", "metadata", "max_tokens", "stream"],
         V2: ["model", "messages", "system", "tools", "metadata", "max_tokens", "thinking", "context_management",
              "output_config", "stream", "cache_control"]}
# what each switch takes away on 2.1.331, as measured (DISABLE_PROMPT_CACHING: a stand-in field)
DROPS = {BETAS: {"context_management"}, EFFORT: {"output_config"}, THINKING: {"thinking", "context_management"},
         CACHING: {"cache_control"}}


class World:
    def __init__(self, deny: set[str], drops: dict[str, set[str]] | None = None) -> None:
        self.deny = deny
        self.drops = DROPS if drops is None else drops
        self.probes: list[tuple[str, dict[str, str]]] = []  # (version, switches on)
        self.measured: list[tuple[str, str]] = []

    def sends(self, version: str, env: Mapping[str, str]) -> list[str]:
        gone = set().union(*(d for s, d in self.drops.items() if env.get(s.split("=")[0]) == s.split("=")[1]))
        return [f for f in SENDS[version] if f not in gone]

    def prober_for(self, env: Mapping[str, str]) -> Any:
        def probe(version: str, sdk_version: str | None = None) -> ProbeResult:
            switches = {k: v for k, v in env.items() if k in {s.split("=")[0] for s in DROPS}}
            self.probes.append((version, switches))
            refused = next((f for f in self.sends(version, env) if f in self.deny), None)
            if refused is None:
                return ProbeResult("cli", 0, None, None, "OK", 0.1, is_error=False)
            body = json.dumps({"type": "error", "error": {"type": "invalid_request_error",
                                                          "message": f"{refused}: Extra inputs are not permitted"}})
            return ProbeResult("cli", 1, 400, "invalid_request_error", f"API Error: 400 {body}", 0.1, is_error=True)

        return probe

    def fingerprint(self, version: str, env: Mapping[str, str]) -> Fingerprint:
        keys = self.sends(version, env)
        return Fingerprint(version, (Recorded("POST", "/v1/messages", [], [], keys, [], "", None, 200),))


@pytest.fixture
def world(pinman_home: Paths, monkeypatch: pytest.MonkeyPatch) -> World:
    w = World({"output_config"})
    monkeypatch.setenv("ANTHROPIC_BASE_URL", EP + "/")
    monkeypatch.setattr(resolution, "ensure_installed", lambda *a, **k: None)
    measure_in(w, monkeypatch)
    return w


def measure_in(w: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """Measurements of switches read from `w`'s fingerprints instead of running a client (recorded)."""
    monkeypatch.setattr(measure, "plain", lambda paths, version: w.fingerprint(version, {}))

    def effect(paths: Paths, version: str, switch: Any, **kw: Any) -> Effect:
        w.measured.append((version, switch.name))
        fp = w.fingerprint(version, {switch.env: switch.value})
        return Effect(version, switch.name, tuple(fp.keys), tuple(fp.betas), True, 0.0)

    monkeypatch.setattr(measure, "effect", effect)


def team(paths: Paths, tmp_path: Path, version: str = V2, health: str = "") -> Any:
    p = paths.user_profiles / "team.toml"
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(f'[claude-code]\nversion = "{version}"\n\n[health]\n{health}\n')
    return find_profile("team", tmp_path, paths)


def known_good(paths: Paths, version: str = V1) -> None:
    Journal(paths).append(Entry("check", "team", version, endpoint=EP, outcome="ok", ts=1.0))


def check(paths: Paths, profile: Any, w: World, **kw: Any) -> Any:
    return ladder.check(paths, profile, prober_for=w.prober_for, **kw)


def test_a_cheap_switch_that_drops_the_field_keeps_the_version(pinman_home: Paths, tmp_path: Path,
                                                               world: World) -> None:
    known_good(pinman_home)
    r = check(pinman_home, team(pinman_home, tmp_path), world)
    assert (r.action, r.exit_code, r.version) == ("remedied", ExitCode.ROLLED_BACK, V2)
    assert world.measured == [(V2, EFFORT)]  # only the switch meant for the field was measured
    assert world.probes == [(V2, {}), (V2, {"CLAUDE_CODE_EFFORT_LEVEL": "auto"})]
    (kept,) = get_remedies(pinman_home, "team", None).values()
    assert (kept.version, kept.endpoint, kept.env, kept.rejected) == (V2, EP, (("CLAUDE_CODE_EFFORT_LEVEL", "auto"),),
                                                                      ("output_config",))
    assert (kept.pin_spec, kept.pin_version, kept.cost) == (V2, V2, "cheap")
    assert get_override(pinman_home, "team", None) is None  # no rollback
    assert r.remedy["env_lines"] == ['CLAUDE_CODE_EFFORT_LEVEL = "auto"']
    journal = Journal(pinman_home)
    assert [e.event for e in journal.history("team")][:3] == ["remedied", "check", "check"]
    # A probe with a switch on is no verdict about the plain version: 2.1.331 is not known-good.
    assert journal.last_known_good("team", EP).version == V1
    assert journal.verdicts("team", EP)[V2].outcome == "schema"


def test_a_switch_whose_measured_effect_differs_is_not_used_and_the_others_are_measured(
        pinman_home: Paths, tmp_path: Path, world: World) -> None:
    # This release ignores the switch meant for the field; another switch happens to drop it.
    world.drops = {**DROPS, EFFORT: set(), BETAS: {"context_management", "output_config"}}
    known_good(pinman_home)
    r = check(pinman_home, team(pinman_home, tmp_path), world)
    assert r.action == "remedied" and r.remedy["switches"] == BETAS
    assert world.measured == [(V2, EFFORT), (V2, BETAS)]
    assert world.probes[1] == (V2, {"CLAUDE_CODE_DISABLE_EXPERIMENTAL_BETAS": "1"})


def test_the_next_rejected_field_is_followed_and_cheap_ends_on_the_rollback(pinman_home: Paths, tmp_path: Path,
                                                                             world: World) -> None:
    world.deny = {"output_config", "cache_control"}  # the second field has only a costly switch
    known_good(pinman_home)
    r = check(pinman_home, team(pinman_home, tmp_path), world)
    assert r.action == "rolled-back" and r.rollback == {"from": V2, "to": V1}
    assert world.probes == [(V2, {}), (V2, {"CLAUDE_CODE_EFFORT_LEVEL": "auto"}), (V1, {})]
    assert any("no cheap switch drops cache_control" in n for n in r.notes)
    assert read_remedies(pinman_home) == {}


def test_all_goes_on_with_costly_switches_before_the_rollback(pinman_home: Paths, tmp_path: Path,
                                                             world: World) -> None:
    world.deny = {"output_config", "thinking"}
    known_good(pinman_home)
    r = check(pinman_home, team(pinman_home, tmp_path, health='remedies = "all"'), world)
    assert r.action == "remedied" and r.rollback is None
    assert r.remedy["env"] == {"CLAUDE_CODE_DISABLE_THINKING": "1", "CLAUDE_CODE_EFFORT_LEVEL": "auto"}
    assert r.remedy["cost"] == "costly" and r.remedy["rejected"] == ["thinking", "output_config"]
    assert [p[0] for p in world.probes] == [V2, V2, V2]  # never the known-good


def test_off_is_the_rollback_of_before(pinman_home: Paths, tmp_path: Path, world: World) -> None:
    known_good(pinman_home)
    r = check(pinman_home, team(pinman_home, tmp_path, health='remedies = "off"'), world)
    assert r.action == "rolled-back" and world.measured == [] and world.probes == [(V2, {}), (V1, {})]


def test_the_search_is_bounded(pinman_home: Paths, tmp_path: Path, world: World) -> None:
    world.deny = {"thinking", "context_management", "output_config", "cache_control"}
    world.drops = {**DROPS, THINKING: {"thinking"}}  # four fields, a switch for each
    r = check(pinman_home, team(pinman_home, tmp_path, health='remedies = "all"'), world)
    assert len(world.probes) == 1 + MAX_FIELDS and r.action == "no-known-good"
    assert f"stopped after {MAX_FIELDS} rejected fields (at most {MAX_FIELDS} per check)" in r.notes
    assert read_remedies(pinman_home) == {}


def test_a_variable_the_user_set_is_not_replaced(pinman_home: Paths, tmp_path: Path, world: World) -> None:
    known_good(pinman_home)
    r = check(pinman_home, team(pinman_home, tmp_path), world, environ={"ANTHROPIC_BASE_URL": EP,
                                                                          "CLAUDE_CODE_EFFORT_LEVEL": "high"})
    assert r.action == "rolled-back"
    assert "CLAUDE_CODE_EFFORT_LEVEL=auto cannot apply: CLAUDE_CODE_EFFORT_LEVEL is set to 'high' where the " \
           "client runs, and that value wins" in r.notes
    assert world.measured == [(V2, BETAS)]  # the other cheap switch, measured: it does not drop it
    assert [p[0] for p in world.probes] == [V2, V1]  # no probe with a switch


def test_a_later_check_runs_with_the_remedy_and_drops_it_once_the_plain_version_passes(
        pinman_home: Paths, tmp_path: Path, world: World) -> None:
    profile = team(pinman_home, tmp_path)
    assert check(pinman_home, profile, world).action == "remedied"
    world.probes.clear()
    r = check(pinman_home, profile, world)  # still refused plainly
    assert (r.action, r.pin_probe["outcome"]) == ("ok", "schema") and r.remedy is not None
    assert world.probes == [(V2, {"CLAUDE_CODE_EFFORT_LEVEL": "auto"}), (V2, {})]
    world.deny = set()
    r = check(pinman_home, profile, world)
    assert r.action == "recovered" and r.remedy is None and read_remedies(pinman_home) == {}
    assert r.recovered == {"from": f"{V2} with {EFFORT}", "to": V2,
                           "message": f"team runs {V2} without {EFFORT} again: 127.0.0.1:4000 accepts "
                                      "output_config again"}
    assert Journal(pinman_home).history("team")[0].event == "recovered"
    assert Journal(pinman_home).last_known_good("team", EP).version == V2  # the plain probe is a verdict


def test_a_hooks_environment_carries_the_remedy_which_is_not_the_users_value(pinman_home: Paths, tmp_path: Path,
                                                                           world: World) -> None:
    profile = team(pinman_home, tmp_path)
    assert check(pinman_home, profile, world).action == "remedied"
    world.deny, world.probes = set(), []
    r = check(pinman_home, profile, world, environ={"ANTHROPIC_BASE_URL": EP, "CLAUDE_CODE_EFFORT_LEVEL": "auto"})
    assert r.action == "recovered" and world.probes[-1] == (V2, {})


def test_a_changed_pin_drops_the_remedy(pinman_home: Paths, tmp_path: Path, world: World) -> None:
    assert check(pinman_home, team(pinman_home, tmp_path), world).action == "remedied"
    world.deny = set()
    profile = team(pinman_home, tmp_path, version=V1)
    r = check(pinman_home, profile, world)
    assert r.action == "ok" and read_remedies(pinman_home) == {}
    assert r.notes == [f"remedy {EFFORT} at 127.0.0.1:4000 dropped: the pin changed from {V2} to {V1}"]
    dropped = [e for e in Journal(pinman_home).history("team") if e.event == "dropped"]
    assert dropped[0].extra["remedy"] == {"CLAUDE_CODE_EFFORT_LEVEL": "auto"}


def test_a_rollback_takes_the_remedy_of_the_pin_at_that_endpoint_with_it(pinman_home: Paths, tmp_path: Path,
                                                                         world: World) -> None:
    profile = team(pinman_home, tmp_path)
    assert check(pinman_home, profile, world).action == "remedied"
    known_good(pinman_home)
    world.deny, world.probes = {"output_config", "cache_control"}, []
    r = check(pinman_home, profile, world)
    assert r.action == "rolled-back" and read_remedies(pinman_home) == {}
    assert world.probes[0] == (V2, {"CLAUDE_CODE_EFFORT_LEVEL": "auto"})  # the search went on from the remedy
    assert r.notes[-1] == (f"remedy {EFFORT} at 127.0.0.1:4000 dropped: the version it kept running was rolled "
                           "back")


def test_remedies_off_drops_those_in_place(pinman_home: Paths, tmp_path: Path, world: World) -> None:
    assert check(pinman_home, team(pinman_home, tmp_path), world).action == "remedied"
    known_good(pinman_home)
    r = check(pinman_home, team(pinman_home, tmp_path, health='remedies = "off"'), world)
    assert r.action == "rolled-back" and read_remedies(pinman_home) == {}
    assert any('remedies = "off"' in n for n in r.notes)


def test_no_rollback_changes_nothing(pinman_home: Paths, tmp_path: Path, world: World) -> None:
    profile = team(pinman_home, tmp_path)
    assert check(pinman_home, profile, world).action == "remedied"
    before = read_remedies(pinman_home)
    world.deny, world.probes = set(), []
    r = check(pinman_home, profile, world, switch=False)
    assert r.action == "ok" and read_remedies(pinman_home) == before
    assert world.probes == [(V2, {"CLAUDE_CODE_EFFORT_LEVEL": "auto"})]  # the version as it runs


def test_a_rollback_override_gets_no_remedy(pinman_home: Paths, tmp_path: Path, world: World) -> None:
    world.deny = {"output_config", "cache_control"}
    known_good(pinman_home)
    profile = team(pinman_home, tmp_path)
    assert check(pinman_home, profile, world).action == "rolled-back"
    world.probes, world.measured = [], []
    world.deny = {"max_tokens"}  # now the known-good fails too
    r = check(pinman_home, profile, world, auto_recover=False)
    assert r.version == V1 and r.action == "no-known-good" and world.measured == []


def test_the_table_is_data_and_cheap_comes_first() -> None:
    names = [s.name for s in table()]
    assert names[:2] == [BETAS, EFFORT] and set(names[2:]) == {THINKING, CACHING}
    assert {s.name: s.cost for s in table()}[THINKING] == "costly"
    assert all(s.tradeoff and s.fields for s in table())
