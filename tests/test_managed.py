"""Managed settings: the version range this machine enforces, read as Claude Code reads it; a
rollback never picks a known-good outside it; check and doctor warn; `pinman policy` prints the
fragment that holds every machine to a profile."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import pytest
from cli_support import pinman
from hostile_support import PROPERTY, TEXT
from hypothesis import given
from hypothesis import strategies as st

from pinman.health.doctor import check_managed
from pinman.health.rollback import check
from pinman.paths import Paths
from pinman.runtime.managed import ENV, fragment, managed_file, read
from pinman.state.journal import Entry, Journal
from pinman.state.overrides import get_override
from test_rollback import EP, Script, ok, schema, team  # noqa: F401 - team: the fixture, used by name


@pytest.fixture
def managed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Where this test's managed-settings.json lives (never /etc)."""
    folder = tmp_path / "etc-claude-code"
    folder.mkdir()
    monkeypatch.setenv(ENV, str(folder / "managed-settings.json"))
    return folder


def test_the_default_places_and_the_override(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV, raising=False)
    assert managed_file(platform="linux") == Path("/etc/claude-code/managed-settings.json")
    assert managed_file(platform="darwin") == Path("/Library/Application Support/ClaudeCode/managed-settings.json")
    assert managed_file({ENV: "/tmp/m.json"}) == Path("/tmp/m.json")


def test_drop_ins_merge_over_the_file_in_name_order(managed: Path) -> None:
    (managed / "managed-settings.json").write_text(json.dumps(
        {"requiredMinimumVersion": "2.1.200", "env": {"A": "1"}, "processWrapper": "/opt/launch"}))
    drop = managed / "managed-settings.d"
    drop.mkdir()
    (drop / "20-team.json").write_text('{"requiredMaximumVersion": "2.1.340", "env": {"B": "2"}}')
    (drop / "10-base.json").write_text('{"requiredMaximumVersion": "2.1.999"}')
    (drop / ".hidden.json").write_text('{"requiredMinimumVersion": "9.9.9"}')
    (drop / "notes.txt").write_text('{"requiredMinimumVersion": "9.9.9"}')
    (drop / "30-broken.json").write_text('{\n  // comments are not allowed here\n  "requiredMinimumVersion": "2.1.330"\n}')
    m = read()
    assert (m.minimum, m.maximum, m.describe()) == ("2.1.200", "2.1.340", "2.1.200 … 2.1.340")
    assert m.settings["env"] == {"A": "1", "B": "2"} and m.launcher == "/opt/launch"
    assert [p.name for p in m.files] == ["managed-settings.json", "10-base.json", "20-team.json"]
    assert m.problems == (f"{drop / '30-broken.json'}:2: not strict JSON (Expecting property name enclosed in "
                          "double quotes): Claude Code ignores the whole file",)


@pytest.mark.parametrize("version, refused", [
    ("2.1.331", None), ("2.1.200", None), ("2.1.340", None),  # bounds are inclusive
    ("2.1.199", "older than the minimum 2.1.200"), ("2.1.341", "newer than the maximum 2.1.340"),
    ("2.1.162", None), ("1.0.100", None),  # before 2.1.163 a client does not read the range: it starts
    ("2.1.163", "older than the minimum 2.1.200"),
])
def test_what_would_refuse_to_start(managed: Path, version: str, refused: str | None) -> None:
    (managed / "managed-settings.json").write_text('{"requiredMinimumVersion": "2.1.200", '
                                                   '"requiredMaximumVersion": "2.1.340"}')
    why = read().refuses(version)
    assert (why is None) == (refused is None) and (refused is None or refused in why), why


def test_an_invalid_version_is_ignored_as_claude_code_ignores_it(managed: Path) -> None:
    (managed / "managed-settings.json").write_text('{"requiredMinimumVersion": "2.1", "requiredMaximumVersion": 3}')
    assert (read().minimum, read().maximum, read().refuses("1.0.0")) == (None, None, None)


def test_the_fragment_is_strict_json_with_a_comment_per_key() -> None:
    doc, comments = fragment("1.0.100", "2.1.331")
    assert json.loads(json.dumps(doc)) == {"requiredMinimumVersion": "1.0.100", "requiredMaximumVersion": "2.1.331",
                                           "env": {"DISABLE_AUTOUPDATER": "1", "DISABLE_UPDATES": "1"}}
    for key in ("requiredMinimumVersion", "requiredMaximumVersion", "env.DISABLE_AUTOUPDATER", "env.DISABLE_UPDATES"):
        assert sum(c.startswith(key + " ") for c in comments) == 1


# -- the rollback never picks what would not start ------------------------------------------------------------
def _good(paths: Paths, version: str, ts: float) -> None:
    Journal(paths).append(Entry("check", "team", version, endpoint=EP, outcome="ok", ts=ts))


def test_a_known_good_below_the_floor_is_no_rollback_target(pinman_home: Paths, team: Any, managed: Path) -> None:
    _good(pinman_home, "1.0.100", ts=1)
    _good(pinman_home, "2.1.250", ts=2)  # the newest known-good, but the floor is above it
    (managed / "managed-settings.json").write_text('{"requiredMinimumVersion": "2.1.300"}')
    probe = Script({"2.1.331": schema, "1.0.100": ok})
    r = check(pinman_home, team, prober=probe)
    assert probe.calls == ["2.1.331", "1.0.100"]  # 2.1.250 was never probed
    assert r.rollback == {"from": "2.1.331", "to": "1.0.100"}  # 1.0.100 does not read the floor: it starts
    assert r.warnings == [f"Claude Code 2.1.250 is older than the minimum 2.1.300 set in {managed / 'managed-settings.json'}"
                          ": a rollback of team will not switch to its known-good 2.1.250"]


def test_no_allowed_known_good_means_no_rollback_and_says_why(pinman_home: Paths, team: Any, managed: Path) -> None:
    _good(pinman_home, "2.1.250", ts=2)
    (managed / "managed-settings.json").write_text('{"requiredMinimumVersion": "2.1.300"}')
    r = check(pinman_home, team, prober=Script({"2.1.331": schema}))
    assert r.action == "no-known-good" and get_override(pinman_home, "team", None) is None
    assert r.detail.startswith("no known-good that this machine's managed settings let start (Claude Code 2.1.250 "
                               "is older than the minimum 2.1.300")
    (managed / "managed-settings.json").write_text("{}")  # without the floor the same journal rolls back
    r = check(pinman_home, team, prober=Script({"2.1.331": schema, "2.1.250": ok}))
    assert r.rollback == {"from": "2.1.331", "to": "2.1.250"}


def test_check_warns_when_the_pin_itself_would_not_start(pinman_home: Paths, team: Any, managed: Path) -> None:
    (managed / "managed-settings.json").write_text('{"requiredMaximumVersion": "2.1.300"}')
    r = check(pinman_home, team, prober=Script({"2.1.331": ok}))
    assert r.warnings == [f"Claude Code 2.1.331 is newer than the maximum 2.1.300 set in "
                          f"{managed / 'managed-settings.json'}: `claude` of profile team will refuse to start on "
                          "this machine"]
    assert r.to_json()["warnings"] == r.warnings


def test_doctor_says_it(pinman_home: Paths, team: Any, managed: Path, tmp_path: Path) -> None:
    _good(pinman_home, "2.1.250", ts=2)
    (managed / "managed-settings.json").write_text('{"requiredMinimumVersion": "2.1.300", '
                                                   '"requiredMaximumVersion": "2.1.320"}')
    found = check_managed(pinman_home, tmp_path, {**os.environ, "ANTHROPIC_BASE_URL": EP + "/"})
    messages = [f.message for f in found if f.level == "warn"]
    assert any(m.startswith("Claude Code 2.1.331 is newer than the maximum 2.1.320") and "team will refuse to start"
               in m for m in messages)
    assert any("a rollback of team will not switch to its known-good 2.1.250" in m for m in messages)
    (managed / "managed-settings.json").write_text('{"requiredMinimumVersion": "2.1.200"}')
    (ok_line,) = check_managed(pinman_home, tmp_path, {**os.environ, "ANTHROPIC_BASE_URL": EP + "/"})
    assert ok_line.level == "ok" and "allow Claude Code ≥ 2.1.200" in ok_line.message


def test_policy_prints_the_range_from_the_known_good_to_the_pin(pinman_home: Paths, team: Any,
                                                                tmp_path: Path) -> None:
    _good(pinman_home, "1.0.100", ts=1)
    _good(pinman_home, "2.1.331", ts=2)
    r = pinman(pinman_home, tmp_path, "policy", "team", ANTHROPIC_BASE_URL=EP + "/")
    assert r.code == 0, r.text
    assert json.loads(r.out) == {"requiredMinimumVersion": "1.0.100", "requiredMaximumVersion": "2.1.331",
                                 "env": {"DISABLE_AUTOUPDATER": "1", "DISABLE_UPDATES": "1"}}
    assert all(line.startswith("#") for line in r.err.splitlines())
    assert "managed-settings.d/50-pinman-team.json" in r.err and "requiredMinimumVersion 1.0.100" in r.err
    doc = json.loads(pinman(pinman_home, tmp_path, "policy", "team", "--json", ANTHROPIC_BASE_URL=EP + "/").out)
    assert (doc["pin"], doc["known_good"], doc["notes"]) == ("2.1.331", "1.0.100", [])
    other = json.loads(pinman(pinman_home, tmp_path, "policy", "team", "--json",
                              ANTHROPIC_BASE_URL="https://elsewhere.example").out)
    assert (other["fragment"]["requiredMinimumVersion"], other["known_good"]) == ("2.1.331", None)
    assert "no known-good other than the pin is recorded for https://elsewhere.example" in other["notes"][0]


def test_the_check_command_prints_the_warnings(pinman_home: Paths, team: Any, managed: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    from pinman.cli.checks import render_check

    (managed / "managed-settings.json").write_text('{"requiredMaximumVersion": "2.1.300"}')
    render_check(check(pinman_home, team, prober=Script({"2.1.331": ok})))
    err = capsys.readouterr().err
    assert err.startswith("warning: Claude Code 2.1.331 is newer than the maximum 2.1.300 set in ")


@PROPERTY
@given(st.lists(st.one_of(st.binary(max_size=40), TEXT.map(lambda t: t.encode("utf-8", "surrogatepass")),
                          st.sampled_from([b'{"requiredMinimumVersion": "2.1.300"}', b"[]", b"{", b"\xff\xfe",
                                           b'{"requiredMaximumVersion": {"a": 1}}', b"[" * 5000])),
                min_size=1, max_size=3))
def test_hostile_managed_files_are_read_or_named_never_raised(contents: list[bytes]) -> None:
    with tempfile.TemporaryDirectory() as d:
        base = Path(d) / "managed-settings.json"
        base.write_bytes(contents[0])
        (Path(d) / "managed-settings.d").mkdir()
        for i, raw in enumerate(contents[1:]):
            (Path(d) / "managed-settings.d" / f"{i}.json").write_bytes(raw)
        m = read({ENV: str(base)})
        assert len(m.files) + len(m.problems) <= len(contents)
        assert all("\n" not in p and p.startswith(d) for p in m.problems)
        for version in ("1.0.100", "2.1.331", "x"):
            assert m.refuses(version) is None or m.refuses(version).startswith(f"Claude Code {version} is ")
