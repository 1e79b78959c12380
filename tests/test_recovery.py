"""Recovery and the life of an override, with a scripted prober (no real client).

While a profile runs on a rollback override, a check also probes the pinned version; when the
endpoint accepts it again, the override goes. An override belongs to the pin it replaced: a new
pin outdates it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pinman.runtime import resolution
from pinman.state.overrides import get_override
from pinman.install.layout import validate_version
from pinman.errors import ExitCode, ProfileError
from pinman.health.result import ProbeResult
from pinman.views.inventory import status_rows
from pinman.state.journal import Entry, Journal
from pinman.paths import Paths
from pinman.profile.discovery import find_profile
from pinman.profile.validate import load_profile
from pinman.health.rollback import check
from pinman.health.manual import manual_rollback
from pinman.profile.discovery import find_profile
from pinman.profile.validate import load_profile
from pinman.health.rollback import check
from pinman.health.manual import manual_rollback

EP = "http://127.0.0.1:4000"
SCHEMA_BODY = ('API Error: 400 {"type":"error","error":{"type":"invalid_request_error",'
               '"message":"thinking: Extra inputs are not permitted"}}')


def ok() -> ProbeResult:
    return ProbeResult("cli", 0, None, None, "OK", 0.1, is_error=False)


def schema() -> ProbeResult:
    return ProbeResult("cli", 1, 400, "invalid_request_error", SCHEMA_BODY, 0.1, is_error=True)


def overloaded() -> ProbeResult:
    return ProbeResult("cli", 1, 529, "overloaded_error", "API Error: 529 Overloaded", 0.1, is_error=True)


class Script:
    """version -> result; records the order of probes."""

    def __init__(self, answers: dict[str, Any]) -> None:
        self.answers = answers
        self.calls: list[str] = []

    def __call__(self, version: str, sdk_version: str | None = None) -> ProbeResult:
        self.calls.append(version)
        return self.answers[version]()


@pytest.fixture
def profile_file(pinman_home: Paths, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("ANTHROPIC_BASE_URL", EP + "/")
    monkeypatch.setattr(resolution, "ensure_installed", lambda *a, **k: None)
    p = pinman_home.user_profiles / "team.toml"
    p.parent.mkdir(parents=True)
    p.write_text('[claude-code]\nversion = "2.1.331"\n')
    return p


def load(paths: Paths, tmp_path: Path) -> Any:
    return find_profile("team", tmp_path, paths)


def rolled_back(paths: Paths, tmp_path: Path) -> Any:
    """team pinned 2.1.331, rolled back to its known-good 1.0.100 by a check."""
    Journal(paths).append(Entry("check", "team", "1.0.100", endpoint=EP, outcome="ok", ts=1.0))
    team = load(paths, tmp_path)
    r = check(paths, team, prober=Script({"2.1.331": schema, "1.0.100": ok}))
    assert r.action == "rolled-back"
    return team


def test_an_override_records_the_pin_it_replaced(pinman_home: Paths, profile_file: Path, tmp_path: Path) -> None:
    rolled_back(pinman_home, tmp_path)
    ov = get_override(pinman_home, "team", None)
    assert ov is not None and (ov.version, ov.pin_spec, ov.pin_version) == ("1.0.100", "2.1.331", "2.1.331")
    doc = json.loads(pinman_home.overrides.read_text())
    assert doc["overrides"]["team"]["pin_spec"] == "2.1.331"


def test_the_check_returns_to_the_pin_once_the_endpoint_accepts_it(pinman_home: Paths, profile_file: Path,
                                                                    tmp_path: Path) -> None:
    team = rolled_back(pinman_home, tmp_path)
    probe = Script({"1.0.100": ok, "2.1.331": ok})  # the gateway was fixed
    r = check(pinman_home, team, prober=probe)
    assert probe.calls == ["1.0.100", "2.1.331"]  # what runs now, then the pin
    assert r.action == "recovered" and r.exit_code == ExitCode.OK
    assert r.recovered is not None and (r.recovered["from"], r.recovered["to"]) == ("1.0.100", "2.1.331")
    assert r.detail == "team is back on 2.1.331: the endpoint accepts it again"
    assert r.to_json()["recovered"]["to"] == "2.1.331"
    assert get_override(pinman_home, "team", None) is None
    assert resolution.target(pinman_home, team).version == "2.1.331"
    last = Journal(pinman_home).history("team")[0]
    assert (last.event, last.version, last.previous, last.endpoint) == ("recovered", "2.1.331", "1.0.100", EP)
    assert last.message == "team is back on 2.1.331: the endpoint accepts it again"
    # the next check probes the pin only: nothing left to recover from
    again = Script({"2.1.331": ok})
    assert check(pinman_home, team, prober=again).action == "ok" and again.calls == ["2.1.331"]


def test_a_pin_still_rejected_keeps_the_override(pinman_home: Paths, profile_file: Path, tmp_path: Path) -> None:
    team = rolled_back(pinman_home, tmp_path)
    r = check(pinman_home, team, prober=Script({"1.0.100": ok, "2.1.331": schema}))
    assert r.action == "ok" and r.exit_code == ExitCode.OK
    assert r.pin_probe is not None and r.pin_probe["outcome"] == "schema"
    assert "the pin 2.1.331 still fails here (schema" in r.detail
    assert resolution.target(pinman_home, team).version == "1.0.100"
    assert all(e.event != "recovered" for e in Journal(pinman_home).entries())


def test_an_outage_says_nothing_about_the_pin(pinman_home: Paths, profile_file: Path, tmp_path: Path) -> None:
    team = rolled_back(pinman_home, tmp_path)
    probe = Script({"1.0.100": overloaded, "2.1.331": ok})
    r = check(pinman_home, team, prober=probe)
    assert probe.calls == ["1.0.100"] and r.action == "not-client"
    assert resolution.target(pinman_home, team).version == "1.0.100"


@pytest.mark.parametrize("how", ["profile", "argument"])
def test_auto_recover_off_stays_on_the_override(pinman_home: Paths, profile_file: Path, tmp_path: Path,
                                                how: str) -> None:
    team = rolled_back(pinman_home, tmp_path)
    if how == "profile":
        profile_file.write_text(profile_file.read_text() + "\n[health]\nauto_recover = false\n")
        team = load(pinman_home, tmp_path)
    probe = Script({"1.0.100": ok, "2.1.331": ok})
    r = check(pinman_home, team, prober=probe, auto_recover=False if how == "argument" else None)
    assert probe.calls == ["1.0.100"] and r.action == "ok"
    assert resolution.target(pinman_home, team).version == "1.0.100"


def test_a_rollback_by_hand_is_not_undone_by_a_check(pinman_home: Paths, profile_file: Path,
                                                     tmp_path: Path) -> None:
    team = load(pinman_home, tmp_path)
    assert manual_rollback(pinman_home, team, "1.0.100") == ("2.1.331", "1.0.100")
    probe = Script({"1.0.100": ok, "2.1.331": ok})
    r = check(pinman_home, team, prober=probe)
    assert probe.calls == ["1.0.100"] and r.action == "ok"  # the user's decision stands
    assert resolution.target(pinman_home, team).version == "1.0.100"
    ov = get_override(pinman_home, "team", None)
    assert ov is not None and ov.pin_spec == "2.1.331"  # it still belongs to the pin it replaced


def test_the_http_probe_cannot_tell_versions_apart_so_it_never_recovers(pinman_home: Paths, profile_file: Path,
                                                                        tmp_path: Path) -> None:
    rolled_back(pinman_home, tmp_path)
    profile_file.write_text(profile_file.read_text() + '\n[health]\nprobe = "http"\n')
    probe = Script({"1.0.100": ok, "2.1.331": ok})
    r = check(pinman_home, load(pinman_home, tmp_path), prober=probe)
    assert probe.calls == ["1.0.100"] and r.action == "ok"


def test_a_second_rollback_still_replaces_the_first_pin(pinman_home: Paths, profile_file: Path,
                                                        tmp_path: Path) -> None:
    team = rolled_back(pinman_home, tmp_path)
    Journal(pinman_home).append(Entry("check", "team", "1.0.90", endpoint=EP, outcome="ok", ts=0.5))
    probe = Script({"1.0.100": schema, "2.1.331": schema, "1.0.90": ok})
    r = check(pinman_home, team, prober=probe)
    assert probe.calls == ["1.0.100", "2.1.331", "1.0.90"]  # the pin is tried before going further back
    assert r.rollback == {"from": "1.0.100", "to": "1.0.90"}
    ov = get_override(pinman_home, "team", None)
    assert ov is not None and (ov.version, ov.previous, ov.pin_spec) == ("1.0.90", "1.0.100", "2.1.331")


def test_a_schema_failure_on_the_override_recovers_when_the_pin_passes(pinman_home: Paths, profile_file: Path,
                                                                      tmp_path: Path) -> None:
    team = rolled_back(pinman_home, tmp_path)
    r = check(pinman_home, team, prober=Script({"1.0.100": schema, "2.1.331": ok}))
    assert r.action == "recovered" and resolution.target(pinman_home, team).version == "2.1.331"


def test_a_new_pin_outdates_the_override(pinman_home: Paths, profile_file: Path, tmp_path: Path) -> None:
    rolled_back(pinman_home, tmp_path)
    profile_file.write_text('[claude-code]\nversion = "2.1.45"\n')  # a pull, `pin` or an edit
    team = load(pinman_home, tmp_path)
    tgt = resolution.target(pinman_home, team)
    assert (tgt.version, tgt.override) == ("2.1.45", None)  # the new pin runs at once
    note = "local override 1.0.100 dropped: the pin changed from 2.1.331 to 2.1.45"
    row = next(r for r in status_rows(pinman_home, tmp_path) if r["name"] == "team")
    assert (row["version"], row["override"], row["dropped"]) == ("2.1.45", False, note)

    probe = Script({"2.1.45": ok})
    r = check(pinman_home, team, prober=probe)
    assert probe.calls == ["2.1.45"] and r.action == "ok" and r.override_dropped == note
    assert get_override(pinman_home, "team", None) is None  # gone from the file
    dropped = next(e for e in Journal(pinman_home).history("team") if e.event == "dropped")
    assert (dropped.version, dropped.previous, dropped.message) == ("1.0.100", "2.1.331", note)
    row = next(r for r in status_rows(pinman_home, tmp_path) if r["name"] == "team")
    assert row["dropped"] == note  # still said, from the journal, until the next switch


def test_pinning_the_override_version_itself_is_a_new_pin(pinman_home: Paths, profile_file: Path,
                                                           tmp_path: Path) -> None:
    rolled_back(pinman_home, tmp_path)
    profile_file.write_text('[claude-code]\nversion = "1.0.100"\n')
    team = load(pinman_home, tmp_path)
    tgt = resolution.target(pinman_home, team)
    assert (tgt.version, tgt.override, tgt.why) == ("1.0.100", None, "pinned 1.0.100")


def test_a_moved_lock_outdates_the_override_a_new_comment_does_not(pinman_home: Paths, profile_file: Path,
                                                                   tmp_path: Path) -> None:
    profile_file.write_text('[claude-code]\nversion = "latest"\nlocked = "2.1.331"\n')
    rolled_back(pinman_home, tmp_path)
    profile_file.write_text('# reviewed\n[claude-code]\nversion = "latest"\nlocked = "2.1.331"\n')
    assert resolution.target(pinman_home, load(pinman_home, tmp_path)).version == "1.0.100"
    profile_file.write_text('[claude-code]\nversion = "latest"\nlocked = "2.1.332"\n')  # `pinman lock`
    team = load(pinman_home, tmp_path)
    assert resolution.target(pinman_home, team).version == "2.1.332"
    found = resolution.dropped_override(pinman_home, team)
    assert found is not None and found[1] == "the pin moved from 2.1.331 to 2.1.332"


def test_an_override_written_before_pins_were_recorded_keeps_working(pinman_home: Paths, profile_file: Path,
                                                                     tmp_path: Path) -> None:
    pinman_home.overrides.parent.mkdir(parents=True, exist_ok=True)
    pinman_home.overrides.write_text(json.dumps({"schema": 1, "overrides": {"team": {
        "version": "1.0.100", "previous": "2.1.331", "reason": "thinking rejected", "at": 1.0}}}))
    team = load(pinman_home, tmp_path)
    assert resolution.target(pinman_home, team).version == "1.0.100"
    profile_file.write_text('[claude-code]\nversion = "2.1.45"\n')
    assert resolution.target(pinman_home, load(pinman_home, tmp_path)).version == "1.0.100"


def test_show_prints_auto_recover(pinman_home: Paths, profile_file: Path, tmp_path: Path) -> None:
    from pinman.views.inventory import profile_detail

    assert profile_detail(pinman_home, tmp_path, "team")["health"]["auto_recover"] is True
    profile_file.write_text(profile_file.read_text() + "\n[health]\nauto_recover = false\n")
    assert profile_detail(pinman_home, tmp_path, "team")["health"]["auto_recover"] is False


def test_auto_recover_is_on_by_default_and_validated(tmp_path: Path) -> None:
    p = tmp_path / "x.toml"
    p.write_text('[claude-code]\nversion = "2.1.331"\n')
    assert load_profile(p).health.auto_recover is True
    p.write_text('[claude-code]\nversion = "2.1.331"\n[health]\nauto_recover = false\n')
    assert load_profile(p).health.auto_recover is False
    p.write_text('[claude-code]\nversion = "2.1.331"\n[health]\nauto_recover = "yes"\n')
    with pytest.raises(ProfileError, match=r"x\.toml:4: health\.auto_recover"):
        load_profile(p)
