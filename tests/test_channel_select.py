"""Which published versions are a guarded channel's candidates (`pinman.npm.channel`): pure, no I/O.

Ranges and tags, prereleases, soak boundaries, publish times that are not monotonic in version,
versions marked bad or refused; plus properties over random registries."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pinman.errors import VersionNotFound
from pinman.npm.channel import Excluded, Soaking, channel, members
from pinman.npm.packument import format_time, parse_time, times_from

DAY = 86400.0
NOW = 1_800_000_000.0
PUBLISHED = ["2.1.44", "2.1.45", "2.1.47", "2.1.48", "2.1.49", "2.1.50", "2.2.0-beta.1", "2.2.0-beta.2",
             "2.2.0", "3.0.0-rc.1", "1.0.100"]
TAGS = {"latest": "2.2.0", "next": "3.0.0-rc.1", "old": "2.1.47"}


def test_a_range_takes_what_satisfies_it_newest_first() -> None:
    assert members(">=2.1.44 <2.1.48", PUBLISHED, TAGS) == ["2.1.47", "2.1.45", "2.1.44"]
    assert members("^2.1.0", PUBLISHED, TAGS) == ["2.2.0", "2.1.50", "2.1.49", "2.1.48", "2.1.47", "2.1.45", "2.1.44"]


def test_prereleases_only_when_the_range_asks() -> None:
    assert "2.2.0-beta.2" not in members(">=2.1.0", PUBLISHED, TAGS)
    # node-semver: a comparator naming a prerelease of the same major.minor.patch lets its prereleases in
    assert members(">=2.2.0-beta.1 <2.2.0", PUBLISHED, TAGS) == ["2.2.0-beta.2", "2.2.0-beta.1"]


def test_a_tag_takes_what_is_not_newer_than_where_it_points() -> None:
    assert members("old", PUBLISHED, TAGS) == ["2.1.47", "2.1.45", "2.1.44", "1.0.100"]
    assert members("latest", PUBLISHED, TAGS)[:2] == ["2.2.0", "2.1.50"]
    assert not any("-" in v for v in members("latest", PUBLISHED, TAGS))
    # a tag that points at a prerelease is a prerelease channel
    assert members("next", PUBLISHED, TAGS)[:4] == ["3.0.0-rc.1", "2.2.0", "2.2.0-beta.2", "2.2.0-beta.1"]


def test_a_tag_pointing_nowhere_is_an_error() -> None:
    with pytest.raises(VersionNotFound, match="'beta' points at no published version"):
        members("beta", PUBLISHED, TAGS)
    with pytest.raises(VersionNotFound):
        members("latest", PUBLISHED, {"latest": "9.9.9"})
    with pytest.raises(ValueError):
        members("2.1.45", PUBLISHED, TAGS)


def test_soak_boundaries() -> None:
    times = {"2.1.47": NOW - 7 * DAY, "2.1.45": NOW - 7 * DAY + 1, "2.1.44": NOW - 30 * DAY}
    found = channel(">=2.1.44 <2.1.48", PUBLISHED, TAGS, times, soak=7 * DAY, now=NOW)
    assert found.eligible == ("2.1.47", "2.1.44")  # exactly 7 days old counts; one second younger waits
    assert found.soaking == (Soaking("2.1.45", NOW + 1),)
    assert channel(">=2.1.44 <2.1.48", PUBLISHED, TAGS, {}, soak=0, now=NOW).eligible == ("2.1.47", "2.1.45", "2.1.44")


def test_a_version_without_a_publish_time_waits_unless_there_is_no_soak() -> None:
    found = channel(">=2.1.44 <2.1.48", PUBLISHED, TAGS, {"2.1.44": NOW - 30 * DAY}, soak=DAY, now=NOW)
    assert found.eligible == ("2.1.44",)
    assert found.soaking == (Soaking("2.1.47", None), Soaking("2.1.45", None))


def test_publish_times_are_not_monotonic_in_version() -> None:
    # as on the registry: 2.1.48 was published in February, 2.1.47 and 2.1.49 in May
    times = {"2.1.47": NOW - 2 * DAY, "2.1.48": NOW - 90 * DAY, "2.1.49": NOW - 3 * DAY, "2.1.45": NOW - 10 * DAY}
    found = channel(">=2.1.45 <2.1.50", PUBLISHED, TAGS, times, soak=7 * DAY, now=NOW)
    assert found.eligible == ("2.1.48", "2.1.45")  # newest by version among the soaked, not by date
    assert [s.version for s in found.soaking] == ["2.1.49", "2.1.47"]
    assert found.newer_than("2.1.45") == ("2.1.48",) and found.newer_than("2.1.48") == ()
    assert [s.version for s in found.waiting("2.1.48")] == ["2.1.49"]


def test_bad_and_refused_versions_are_excluded_with_why() -> None:
    found = channel(">=2.1.44 <2.1.48", PUBLISHED, TAGS, {}, soak=0, now=NOW,
                    bad={"2.1.47": "marked bad in stable.toml"}, refused={"2.1.45": "thinking rejected by gw"})
    assert found.eligible == ("2.1.44",)
    assert found.excluded == (Excluded("2.1.47", "marked bad in stable.toml"),
                              Excluded("2.1.45", "thinking rejected by gw"))


@pytest.mark.parametrize(("stamp", "expected"), [
    ("2026-11-23T18:36:26.123Z", 1795458986.123), ("2026-11-23T18:36:26+00:00", 1795458986.0),
    ("2026-11-23T19:36:26+01:00", 1795458986.0), ("2026-11-23T18:36:26", 1795458986.0),
    ("2026-04-15T17:16:31.848000+00:00", 1776273391.848),
    ("yesterday", None), ("", None), ("9" * 50, None), ("0001-01-01T00:00:00+14:00", None),
])
def test_registry_times_parse(stamp: str, expected: float | None) -> None:
    got = parse_time(stamp)
    assert got == pytest.approx(expected) if expected is not None else got is None
    if expected is not None:
        assert parse_time(format_time(expected)) == pytest.approx(expected, abs=0.001)


def test_times_keep_only_versions_the_document_publishes() -> None:
    raw = {"created": "2020-01-01T00:00:00Z", "modified": "2026-01-01T00:00:00Z", "2.1.45": "2026-05-17T13:06:36Z",
           "2.1.46": "2026-05-17T13:06:36Z", "2.1.47": 5, "../x": "2026-05-17T13:06:36Z"}
    assert set(times_from(raw, ["2.1.45", "2.1.47"])) == {"2.1.45"}
    assert times_from(["2.1.45"], ["2.1.45"]) == {} and times_from(None, []) == {}


# --------------------------------------------------------------------------- properties

VERSIONS = st.lists(st.builds(lambda a, b, c, pre: f"{a}.{b}.{c}" + (f"-rc.{pre}" if pre is not None else ""),
                              st.integers(0, 3), st.integers(0, 3), st.integers(0, 5),
                              st.none() | st.integers(0, 2)), min_size=1, max_size=25, unique=True)
SPECS = st.sampled_from(["latest", "*", "^2.0.0", ">=1.2.0 <3", "~2.1.0", ">=2.1.0-rc.0 <2.1.1", "1.x || 3.x"])


@st.composite
def registries(draw: st.DrawFn) -> tuple[list[str], dict[str, str], dict[str, float]]:
    versions = draw(VERSIONS)
    tags = {"latest": draw(st.sampled_from(versions))}
    times = {v: NOW - draw(st.floats(0, 60 * DAY)) for v in versions if draw(st.booleans()) or True}
    for v in draw(st.lists(st.sampled_from(versions), max_size=3)):
        times.pop(v, None)  # some versions without a known publish time
    return versions, tags, times


@settings(max_examples=300, derandomize=True, deadline=None)
@given(registries(), SPECS, st.sampled_from([0.0, DAY, 7 * DAY]), st.data())
def test_candidates_partition_the_members(reg: tuple[list[str], dict[str, str], dict[str, float]], spec: str,
                                          soak: float, data: st.DataObject) -> None:
    versions, tags, times = reg
    bad = {v: "bad" for v in data.draw(st.lists(st.sampled_from(versions), max_size=2))}
    refused = {v: "refused" for v in data.draw(st.lists(st.sampled_from(versions), max_size=2))}
    found = channel(spec, versions, tags, times, soak=soak, now=NOW, bad=bad, refused=refused)
    everyone = members(spec, versions, tags)
    parts = [*found.eligible, *(s.version for s in found.soaking), *(e.version for e in found.excluded)]
    assert sorted(parts) == sorted(everyone) and len(parts) == len(set(parts))
    assert list(found.eligible) == [v for v in everyone if v in found.eligible]  # newest first, like members
    for v in found.eligible:
        assert v not in bad and v not in refused
        assert soak == 0 or NOW - times[v] >= soak
    for s in found.soaking:
        assert s.ready_at is None or s.ready_at > NOW
    # what is eligible now stays eligible later: soak only ever lets versions in
    later = channel(spec, versions, tags, times, soak=soak, now=NOW + 30 * DAY, bad=bad, refused=refused)
    assert set(found.eligible) <= set(later.eligible)
