"""What `status` and `show` say about each kind of profile: every version once, no placeholder
left unfilled, and a last check that is always of the version that runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_support import cache_registry, fake_install, pinman

from pinman.paths import Paths
from pinman.state.journal import Entry, Journal
from pinman.state.overrides import Override, set_override

V1, V2, V3 = "1.0.100", "2.1.331", "2.1.332"
EP = "http://127.0.0.1:4000"


def _profile(paths: Paths, name: str, body: str) -> None:
    paths.user_profiles.mkdir(parents=True, exist_ok=True)
    (paths.user_profiles / f"{name}.toml").write_text(body)


def _check(paths: Paths, key: str, version: str, outcome: str, ts: float) -> None:
    Journal(paths).append(Entry("check", key, version, endpoint=EP, outcome=outcome, ts=ts))


def _status(paths: Paths, cwd: Path, **env: str) -> dict[str, str]:
    r = pinman(paths, cwd, "status", **env)
    assert r.code == 0, r.text
    return {line.split(":")[0].strip(" *"): line for line in r.out.splitlines() if line.startswith(("  ", "* "))
            and not line.startswith("    ")}


# ------------------------------------------------------------------ the last check is of the version that runs


def test_a_check_of_another_version_never_reads_as_the_running_ones(pinman_home: Paths, tmp_path: Path) -> None:
    import time

    now = time.time()
    _profile(pinman_home, "team", f'[claude-code]\nversion = "{V1}"\n')
    _check(pinman_home, "team", V1, "ok", now - 7200)
    _profile(pinman_home, "team", f'[claude-code]\nversion = "{V3}"\n')  # `pinman pin team 2.1.332`, a pull

    line = _status(pinman_home, tmp_path)["team"]
    assert f"last check of {V3}: never ({V1}: ok 2 hours ago)" in line, line
    assert "last check: ok" not in line
    row = next(r for r in json.loads(pinman(pinman_home, tmp_path, "status", "--json").out) if r["name"] == "team")
    assert row["last_check"] is None and row["newest_check"]["version"] == V1
    show = pinman(pinman_home, tmp_path, "show", "team")
    assert f"last check:    never of {V3} ({V1}: ok 2 hours ago)" in show.out, show.out
    detail = json.loads(pinman(pinman_home, tmp_path, "show", "team", "--json").out)
    assert detail["last_check"] is None and detail["newest_check"]["version"] == V1

    _check(pinman_home, "team", V3, "schema", now - 3600)  # now the version that runs has its own
    assert "last check: schema 1 hour ago" in _status(pinman_home, tmp_path)["team"]
    _check(pinman_home, "team", V1, "ok", now - 60)  # and a newer check of another is named, not taken
    line = _status(pinman_home, tmp_path)["team"]
    assert f"last check: schema 1 hour ago (since then {V1}: ok 1 minute ago)" in line, line
    row = next(r for r in json.loads(pinman(pinman_home, tmp_path, "status", "--json").out) if r["name"] == "team")
    assert (row["last_check"]["version"], row["newest_check"]["version"]) == (V3, V1)


# ------------------------------------------------------------------ status for every kind of profile


@pytest.fixture
def kinds(pinman_home: Paths, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An exact pin, a tag, a locked range, a rolled-back pin, a file that does not load and a
    project profile; the registry answered once and is gone."""
    _profile(pinman_home, "exact", f'[claude-code]\nversion = "{V2}"\n')
    _profile(pinman_home, "edge", '[claude-code]\nversion = "latest"\n')
    _profile(pinman_home, "held", f'[claude-code]\nversion = "^2.1.0"\nlocked = "{V2}"\n')
    _profile(pinman_home, "back", f'[claude-code]\nversion = "{V2}"\n')
    _profile(pinman_home, "broken", '[claude-code]\nversion = "2.1.x1"\n')
    set_override(pinman_home, "back", None, Override(V1, V2, "rolled back by hand", 0.0, None, V2, V2))
    fake_install(pinman_home, V1)
    monkeypatch.setenv("npm_config_registry", cache_registry(pinman_home, tmp_path, [V1, V2, V3], V3))
    repo = tmp_path / "repo"
    (repo / "profiles").mkdir(parents=True)
    (repo / ".pinman.toml").write_text('profile = "proj"\n')
    (repo / "profiles" / "proj.toml").write_text(f'[claude-code]\nversion = "{V1}"\n[env]\nFOO = "1"\n')
    return repo


def test_status_says_each_version_once_and_fills_every_field(pinman_home: Paths, kinds: Path) -> None:
    r = pinman(pinman_home, kinds, "status")
    assert r.code == 0, r.text
    lines = _status(pinman_home, kinds)
    assert lines["exact"] == f"  exact: {V2}  pinned  last check: never"
    assert lines["edge"] == f"  edge: {V3}  pinned latest, resolved just now  last check: never"
    assert lines["held"] == f"  held: {V2}  pinned ^2.1.0, locked  last check: never"
    assert lines["back"] == f"  back: {V1}  pinned {V2}, local override: rolled back by hand  last check: never"
    assert lines["broken"] == "  broken: does not load"
    assert lines["proj"] == f"* proj: {V1}  pinned  last check: never"
    assert "None" not in r.out and "((" not in r.out and ") (" not in r.out
    for name, line in lines.items():  # a version is named once: as what runs, or as the pin it replaces
        versions = [w.strip(",:()") for w in line.split() if w.strip(",:()") in (V1, V2, V3)]
        assert len(versions) == len(set(versions)), line
    assert "problem: " in r.out and "broken.toml:2" in r.out


def test_status_of_a_tag_never_resolved_here_says_so(pinman_home: Paths, tmp_path: Path) -> None:
    _profile(pinman_home, "edge", '[claude-code]\nversion = "latest"\n')
    r = pinman(pinman_home, tmp_path, "status", npm_config_registry="http://127.0.0.1:9/")
    assert "  edge: ?  pinned latest  last check: never" in r.out, r.out
    assert "latest not resolved on this machine yet" in r.out


def test_show_names_what_is_withheld_only_when_something_is(pinman_home: Paths, kinds: Path) -> None:
    mine = pinman(pinman_home, kinds, "show", "exact")
    assert mine.code == 0 and "withheld" not in mine.out and "[]" not in mine.out, mine.out
    theirs = pinman(pinman_home, kinds, "show", "proj")
    assert "withheld:      FOO (until `pinman trust`)" in theirs.out, theirs.out
    assert json.loads(pinman(pinman_home, kinds, "show", "exact", "--json").out)["withheld"] == []


# ------------------------------------------------------------------ a change to a profile `claude` does not run here


@pytest.fixture
def other_runs(pinman_home: Paths, tmp_path: Path) -> Path:
    """`pinman use mine` made: `claude` here runs the user's profile `mine` (2.1.331), not stable."""
    from pinman.runtime.choice import write_global

    _profile(pinman_home, "mine", f'[claude-code]\nversion = "{V2}"\n')
    _profile(pinman_home, "stable", f'[claude-code]\nversion = "{V2}"\n')  # exact, not the built-in channel
    write_global(pinman_home, "mine")
    fake_install(pinman_home, V1)
    return tmp_path


def test_rolling_back_a_profile_that_does_not_run_here_says_what_does(pinman_home: Paths, other_runs: Path) -> None:
    r = pinman(pinman_home, other_runs, "rollback", "stable", "--to", V1)
    assert r.code == 0, r.text
    assert f"rolled back: stable {V2} -> {V1}" in r.out and "the global choice" in r.out  # the undo switches too
    assert (f"note: stable is not what `claude` runs here: it runs {V2} (profile mine, the global choice); "
            "`pinman use stable` switches to it") in r.err, r.err
    doc = json.loads(pinman(pinman_home, other_runs, "rollback", "stable", "--to", V1, "--json").out)
    assert "it runs 2.1.331 (profile mine" in doc["not_here"]
    here = pinman(pinman_home, other_runs, "rollback", "mine", "--to", V1)  # what runs here: nothing to add
    assert here.code == 0 and "note:" not in here.err and "global choice" not in here.out, here.text
    env = pinman(pinman_home, other_runs, "rollback", "mine", "--to", V1, PINMAN_PROFILE="stable")
    assert "it runs 1.0.100 (profile stable, PINMAN_PROFILE=stable); unset PINMAN_PROFILE" in env.err, env.err


def test_rollback_without_a_name_rolls_back_the_profile_that_runs_here(pinman_home: Paths, other_runs: Path) -> None:
    r = pinman(pinman_home, other_runs, "rollback", "--to", V1)
    assert r.code == 0 and f"rolled back: mine {V2} -> {V1}" in r.out and "note:" not in r.err, r.text
    none = pinman(pinman_home, other_runs, "rollback", PINMAN_PROFILE="stable")
    assert none.code == 2 and "no known-good version recorded for stable" in none.err, none.text


def test_checking_a_profile_that_does_not_run_here_says_what_does(pinman_home: Paths, other_runs: Path) -> None:
    _profile(pinman_home, "old", f'[claude-code]\nversion = "{V1}"\n')  # installed: its check runs
    r = pinman(pinman_home, other_runs, "check", "old", "--no-rollback", ANTHROPIC_BASE_URL="http://127.0.0.1:9")
    assert "note: old is not what `claude` runs here: it runs 2.1.331 (profile mine" in r.err, r.text
    assert "note:" not in pinman(pinman_home, other_runs, "check", "--no-rollback",
                                 ANTHROPIC_BASE_URL="http://127.0.0.1:9", PINMAN_PROFILE="old").err
