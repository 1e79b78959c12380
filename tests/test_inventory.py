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
