"""A remedy as state and at run time: the overrides file (schema 2, schema 1 still read), the shim's
pointer applying it at its endpoint only, the user's own value winning, the profile key and trust,
the candidate table and how rejected fields are matched."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from test_shim import shim  # noqa: F401 - the fixture, used by name

from pinman.errors import PinmanError, ProfileError
from pinman.paths import Paths
from pinman.policy.candidates import _switch
from pinman.policy.fields import fold, meant, present
from pinman.profile.discovery import find_profile
from pinman.profile.trust import applied_health, guarded_parts, trust_project
from pinman.runtime.choice import write_global
from pinman.runtime.pointers import Pointer, write_pointer
from pinman.runtime.remedies import applied, url_patterns
from pinman.state.overrides import Override, Remedy, get_override, read_remedies, set_override, set_remedy

EP = "http://127.0.0.1:4000"
EFFORT = (("CLAUDE_CODE_EFFORT_LEVEL", "auto"),)


def remedy(endpoint: str = EP, env: tuple[tuple[str, str], ...] = EFFORT) -> Remedy:
    return Remedy("2.1.331", endpoint, env, ("output_config",), "output_config rejected by x", 1.0,
                  ("sends no effort level",), "cheap", "2.1.331", "2.1.331")


# -- the overrides file ------------------------------------------------------------------------------
def test_remedies_and_overrides_live_side_by_side(pinman_home: Paths) -> None:
    set_remedy(pinman_home, "team", None, EP, remedy())
    set_override(pinman_home, "other", None, Override("1.0.100", "2.1.331", "why", 2.0))
    assert read_remedies(pinman_home) == {"team": {EP: remedy()}}  # writing an override kept it
    set_remedy(pinman_home, "team", None, "https://gw.example:443", remedy("https://gw.example:443"))
    assert get_override(pinman_home, "other", None) is not None  # and the other way round
    doc = json.loads(pinman_home.overrides.read_text())
    assert doc["schema"] == 2 and doc["remedies"]["team"][EP]["env"] == {"CLAUDE_CODE_EFFORT_LEVEL": "auto"}
    set_remedy(pinman_home, "team", None, EP, None)
    assert list(read_remedies(pinman_home)["team"]) == ["https://gw.example:443"]
    assert os.stat(pinman_home.overrides).st_mode & 0o077 == 0


def test_a_schema_1_file_still_reads(pinman_home: Paths) -> None:
    pinman_home.overrides.parent.mkdir(parents=True)
    pinman_home.overrides.write_text(json.dumps({"schema": 1, "overrides": {"team": {
        "version": "1.0.100", "previous": "2.1.331", "reason": "r", "at": 1.0}}}))
    assert get_override(pinman_home, "team", None).version == "1.0.100"  # type: ignore[union-attr]
    assert read_remedies(pinman_home) == {}


@pytest.mark.parametrize("env, endpoint", [
    ({"ANTHROPIC_BASE_URL": "http://evil.example"}, EP),  # a switch may not say where requests go
    ({"ANTHROPIC_API_KEY": "x"}, EP),
    ({"NODE_OPTIONS": "--require=/tmp/x.js"}, EP),
    ({"CLAUDE_CODE_EFFORT_LEVEL": "auto; touch /tmp/pwned"}, EP),
    ({"CLAUDE_CODE_EFFORT_LEVEL": "auto"}, "http://a'b:1"),
    ({}, EP),
])
def test_a_record_that_is_not_a_well_formed_remedy_is_no_remedy(pinman_home: Paths, env: dict, endpoint: str) -> None:
    pinman_home.overrides.parent.mkdir(parents=True)
    good = remedy().to_json()
    bad = {**good, "env": env}
    pinman_home.overrides.write_text(json.dumps({"schema": 2, "overrides": {}, "remedies": {
        "team": {endpoint: bad}, "ok": {EP: good}}}))
    assert read_remedies(pinman_home) == {"ok": {EP: remedy()}}


# -- at run time ----------------------------------------------------------------------------------------
def test_url_patterns_cover_what_endpoint_of_maps_to_the_endpoint() -> None:
    assert url_patterns("https://gw.example:443") == [
        "'https://gw.example:443'", "'https://gw.example:443/'*", "'https://'*'@gw.example:443'",
        "'https://'*'@gw.example:443/'*", "'https://gw.example'", "'https://gw.example/'*",
        "'https://'*'@gw.example'", "'https://'*'@gw.example/'*"]
    assert url_patterns("https://api.anthropic.com:443")[0] == "''"  # unset: the API itself


def test_applied_adds_only_what_the_environment_does_not_set() -> None:
    mine = {EP: remedy()}
    assert applied({"ANTHROPIC_BASE_URL": EP + "/v1"}, mine) == {"CLAUDE_CODE_EFFORT_LEVEL": "auto"}
    assert applied({"ANTHROPIC_BASE_URL": EP, "CLAUDE_CODE_EFFORT_LEVEL": "high"}, mine) == {}
    assert applied({"ANTHROPIC_BASE_URL": "http://127.0.0.1:4001"}, mine) == {}
    assert applied({}, mine) == {}


@pytest.fixture
def remedied_shim(shim: Path, pinman_home: Paths, tmp_path: Path) -> Path:
    """test_shim's shim, pointing at a client that prints what a remedy sets, with a remedy per endpoint."""
    binary = tmp_path / "claude-fake"
    binary.write_text('#!/bin/sh\necho "effort=${CLAUDE_CODE_EFFORT_LEVEL-unset} url=${ANTHROPIC_BASE_URL-unset}"\n')
    binary.chmod(0o755)
    src = tmp_path / "team.toml"
    src.write_text('[claude-code]\nversion = "2.1.331"\n')
    gw = "https://gw.example:443"
    write_pointer(pinman_home, None, Pointer("team", "2.1.331", binary, src, {"DISABLE_AUTOUPDATER": "1"}, 0,
                                             {EP: remedy(), gw: remedy(gw, (("CLAUDE_CODE_EFFORT_LEVEL", "low"),))}))
    write_global(pinman_home, "team")
    return pinman_home.shim


@pytest.mark.parametrize("url, effort", [
    (EP, "auto"), (EP + "/", "auto"), (EP + "/v1/proxy", "auto"),
    ("https://gw.example", "low"), ("https://gw.example:443/anthropic", "low"), ("https://u:p@gw.example/", "low"),
    ("http://127.0.0.1:4001", "unset"),  # another endpoint: the plain version
    ("http://127.0.0.1:40000", "unset"), (None, "unset"), ("", "unset"),
])
def test_the_shim_applies_a_remedy_at_its_endpoint_only(remedied_shim: Path, tmp_path: Path, url: str | None,
                                                        effort: str) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("ANTHROPIC_BASE_URL", "CLAUDE_CODE_EFFORT_LEVEL")}
    if url is not None:
        env["ANTHROPIC_BASE_URL"] = url
    r = subprocess.run([str(remedied_shim), "-p", "x"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=30)
    assert r.stdout.split()[0] == f"effort={effort}", r.stdout + r.stderr


def test_in_the_shim_the_users_own_value_wins(remedied_shim: Path, tmp_path: Path) -> None:
    for mine in ("high", ""):
        env = {**os.environ, "ANTHROPIC_BASE_URL": EP, "CLAUDE_CODE_EFFORT_LEVEL": mine}
        r = subprocess.run([str(remedied_shim)], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=30)
        assert r.stdout.split()[0] == f"effort={mine}"


# -- the profile key, and trust -------------------------------------------------------------------------
def test_remedies_level_is_validated(pinman_home: Paths, tmp_path: Path) -> None:
    p = pinman_home.user_profiles / "team.toml"
    p.parent.mkdir(parents=True)
    p.write_text('[claude-code]\nversion = "2.1.331"\n\n[health]\nremedies = "some"\n')
    with pytest.raises(ProfileError) as e:
        find_profile("team", tmp_path, pinman_home)
    assert "team.toml:5: health.remedies" in e.value.message and "off, cheap, all" in (e.value.hint or "")


def test_an_untrusted_projects_remedies_take_the_default(pinman_home: Paths, tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / "profiles").mkdir(parents=True)
    (repo / ".pinman.toml").write_text('profile = "team"\n')
    (repo / "profiles" / "team.toml").write_text('[claude-code]\nversion = "2.1.331"\n\n[health]\nremedies = "all"\n')
    profile = find_profile("team", repo, pinman_home)
    assert guarded_parts(profile) == ["[health] remedies"]
    assert applied_health(pinman_home, profile).remedies == "cheap"
    trust_project(pinman_home, repo)
    assert applied_health(pinman_home, find_profile("team", repo, pinman_home)).remedies == "all"


# -- the candidate table and rejected fields --------------------------------------------------------------
@pytest.mark.parametrize("entry, why", [
    ({"env": "ANTHROPIC_BASE_URL", "value": "x", "fields": ["a"], "cost": "cheap", "tradeoff": "t"}, "env and value"),
    ({"env": "CLAUDE_CODE_X", "value": "$(id)", "fields": ["a"], "cost": "cheap", "tradeoff": "t"}, "env and value"),
    ({"env": "CLAUDE_CODE_X", "value": "1", "fields": [], "cost": "cheap", "tradeoff": "t"}, "fields"),
    ({"env": "CLAUDE_CODE_X", "value": "1", "fields": ["a"], "cost": "free", "tradeoff": "t"}, "cost"),
    ({"env": "CLAUDE_CODE_X", "value": "1", "fields": ["a"], "cost": "cheap"}, "exactly the keys"),
])
def test_a_malformed_table_entry_is_an_error_naming_it(entry: dict, why: str) -> None:
    with pytest.raises(PinmanError) as e:
        _switch("remedies.toml", 3, entry)
    assert e.value.message.startswith("remedies.toml: switch[3]: ") and why in e.value.message


def test_rejected_fields_match_request_paths_however_the_endpoint_names_them() -> None:
    assert fold("tools.3.defer_loading") == fold("tools[3].defer_loading") == "tools.*.defer_loading"
    assert meant("output_config", "output_config.effort") and not meant("output_config", "output")
    assert meant("tools.*.defer_loading", "tools.12.custom.defer_loading")  # the API's variant level
    assert meant("system.*.cache_control", "cache_control")  # a gateway naming only the leaf
    keys = ["thinking", "thinking.type", "tools", "tools.*.defer_loading"]
    assert present(keys, [], "thinking") and present(keys, [], "tools.0.custom.defer_loading")
    assert present([], ["effort-2025-11-24"], "effort-2025-11-24") and not present(keys, [], "output_config")


def test_a_remedy_belongs_to_the_version_its_pin_ran(pinman_home: Paths, tmp_path: Path) -> None:
    from dataclasses import replace

    from pinman.runtime.remedies import remedies_for, stale_remedy

    p = pinman_home.user_profiles / "edge.toml"
    p.parent.mkdir(parents=True)
    p.write_text('[claude-code]\nversion = "latest"\n')
    edge = find_profile("edge", tmp_path, pinman_home)
    mine = replace(remedy(), pin_spec="latest", pin_version=None)
    set_remedy(pinman_home, "edge", None, EP, mine)
    assert remedies_for(pinman_home, edge, "2.1.331") == {EP: mine}
    assert stale_remedy(mine, edge, "2.1.332") == "the pin moved from 2.1.331 to 2.1.332"
    assert remedies_for(pinman_home, edge, "2.1.332") == {}  # the tag moved on: not for the new version
    p.write_text('[claude-code]\nversion = "latest"\n\n[env]\nCLAUDE_CODE_EFFORT_LEVEL = "auto"\n')
    edge = find_profile("edge", tmp_path, pinman_home)
    assert stale_remedy(mine, edge, "2.1.331") == "the profile's [env] sets CLAUDE_CODE_EFFORT_LEVEL=auto itself now"
