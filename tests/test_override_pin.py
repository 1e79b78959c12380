"""An override belongs to the pin it replaced: any move of the pin — to another exact version, tag
or range, or to another lock of the same tag — outdates it; the same pin written another way
does not."""

from __future__ import annotations

from pathlib import Path

import pytest

from pinman.paths import Paths
from pinman.profile.discovery import find_profile
from pinman.profile.model import ClaudeCodePin
from pinman.runtime.resolution import dropped_override, override_for, stale_override
from pinman.state.overrides import Override, set_override


def _ov(spec: str, version: str | None = "2.1.331") -> Override:
    return Override("1.0.100", version, "thinking rejected", 1.0, pin_spec=spec, pin_version=version)


@pytest.mark.parametrize("was, now", [
    ("latest", "stable"),          # a tag to another tag
    ("^2.1.0", "^2.2.0"),          # a range to another range
    ("latest", "^2.1.0"),          # a tag to a range
    ("^2.1.0", "latest"),          # a range to a tag
    ("2.1.331", "latest"),         # exact to a tag
    ("latest", "2.1.331"),         # a tag to exact (even the version it ran)
    ("~2.1.331", "^2.1.331"),
])
def test_a_pin_moved_to_another_spec_outdates_the_override(was: str, now: str) -> None:
    assert stale_override(_ov(was), ClaudeCodePin(now)) == f"the pin changed from {was} to {now}"


@pytest.mark.parametrize("was, now", [
    ("latest", "latest"), ("^2.1.0", "^2.1.0"), ("latest", " latest "),
    ("2.1.331", "v2.1.331"), ("v2.1.331", "2.1.331"), ("2.1.331", "=2.1.331"),
])
def test_the_same_pin_keeps_the_override(was: str, now: str) -> None:
    assert stale_override(_ov(was), ClaudeCodePin(now)) is None


def test_a_tag_locked_at_another_version_outdates_it() -> None:
    assert stale_override(_ov("latest"), ClaudeCodePin("latest", locked="2.1.331")) is None
    assert stale_override(_ov("latest"), ClaudeCodePin("latest", locked="2.1.332")) == \
        "the pin moved from 2.1.331 to 2.1.332"
    assert stale_override(_ov("latest", None), ClaudeCodePin("latest", locked="2.1.332")) is None


def test_an_override_of_a_tag_stops_applying_when_the_profile_names_another(pinman_home: Paths,
                                                                            tmp_path: Path) -> None:
    p = pinman_home.user_profiles / "team.toml"
    p.parent.mkdir(parents=True)
    p.write_text('[claude-code]\nversion = "latest"\n')
    set_override(pinman_home, "team", None, _ov("latest"))
    assert override_for(pinman_home, find_profile("team", tmp_path, pinman_home)) is not None
    p.write_text('[claude-code]\nversion = "stable"\n')  # a teammate's edit, a git pull
    team = find_profile("team", tmp_path, pinman_home)
    assert override_for(pinman_home, team) is None
    found = dropped_override(pinman_home, team)
    assert found is not None and found[1] == "the pin changed from latest to stable"
