"""Who uses what: the versions prune must keep, and broken profiles in listings."""

from __future__ import annotations

from pathlib import Path

from pinman.runtime.choice import write_global
from pinman.state.bisect_state import State, save_state, state_path
from pinman.views.inventory import profile_rows, protected
from pinman.state.journal import Entry, Journal
from pinman.paths import Paths


def test_prune_keeps_used_known_good_and_a_paused_bisects_installs(pinman_home: Paths, tmp_path: Path) -> None:
    write_global(pinman_home, "legacy")  # built-in legacy pins 1.0.100
    Journal(pinman_home).append(Entry("check", "stable", "2.1.300", endpoint="http://h:1", outcome="ok"))
    save_state(state_path(pinman_home, "stable", "http://h:1"),
               State("stable", "http://h:1", "2.1.300", "2.1.331", installed=["2.1.310", "2.1.320"]))
    keep = protected(pinman_home, tmp_path)
    assert {"1.0.100", "2.1.300", "2.1.310", "2.1.320"} <= keep
    assert "2.1.200" not in keep


def test_broken_profiles_are_listed_with_their_problem(pinman_home: Paths, tmp_path: Path) -> None:
    bad = pinman_home.user_profiles / "broken.toml"
    bad.parent.mkdir(parents=True)
    bad.write_text("[claude-code\nversion = 1\n")
    rows = {r["name"]: r for r in profile_rows(pinman_home, tmp_path)}
    assert "broken.toml:1" in rows["broken"]["problem"]
    assert rows["legacy"]["problem"] is None


def test_engine_skips_are_summarised_per_constraint_and_native_only_when_every_one_is() -> None:
    from pinman.install.native import native_platform_keys
    from pinman.names import CLAUDE_CODE
    from pinman.npm.packument import Packument, VersionInfo
    from pinman.views.engines import engine_skips

    here = {f"{CLAUDE_CODE}-{native_platform_keys()[0]}": "x"}
    doc = Packument(CLAUDE_CODE, {}, {
        "2.1.198": VersionInfo("2.1.198", engines_node=">=22", optional_dependencies=here),
        "2.1.199": VersionInfo("2.1.199", engines_node=">=22", optional_dependencies=here),
        "2.1.200": VersionInfo("2.1.200", engines_node=">=24", optional_dependencies=here),
        "2.1.201": VersionInfo("2.1.201", engines_node=">=24"),  # no native package: runs on Node
    })
    skips = engine_skips(doc, ["2.1.199", "2.1.198", "2.1.200"], "v20.20.2")
    assert skips is not None and skips["native"] and skips["versions"] == ["2.1.198", "2.1.199", "2.1.200"]
    assert skips["groups"] == [{"engines": ">=22", "from": "2.1.198", "to": "2.1.199", "count": 2},
                               {"engines": ">=24", "from": "2.1.200", "to": "2.1.200", "count": 1}]
    mixed = engine_skips(doc, ["2.1.200", "2.1.201"], "v20.20.2")
    assert mixed is not None and not mixed["native"]  # one of them needs that Node: no such promise
    assert engine_skips(doc, [], "v20.20.2") is None
