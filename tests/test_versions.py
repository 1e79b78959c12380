from __future__ import annotations

from dataclasses import dataclass

import pytest

from pinman.errors import VersionNotFound
from pinman.npm.spec import Spec, is_exact, parse_spec
from pinman.npm.pick import engine_ok, nearest, pick, pick_manifest, sort_versions
from pinman.npm.semver import satisfies

# --- parse_spec ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "kind"),
    [
        ("2.1.331", "exact"),
        ("1.0.100", "exact"),
        ("v2.1.331", "exact"),
        ("=2.1.331", "exact"),
        ("2.1.331-beta.1", "exact"),
        ("2.1.331+build.5", "exact"),
        (" 2.1.331 ", "exact"),
        ("latest", "tag"),
        ("stable", "tag"),
        ("next", "tag"),
        ("beta-2", "tag"),
        ("rc_1.x", "tag"),
        ("^2.1.0", "range"),
        ("~2.1.300", "range"),
        ("~>2.1.3", "range"),
        ("2.1.x", "range"),
        ("2.1.X", "range"),
        ("2.*", "range"),
        ("*", "range"),
        ("x", "range"),  # npm reads a bare x as "any version", not as a tag
        ("2", "range"),
        ("2.1", "range"),
        ("v2", "range"),
        (">=1.0.100 <2", "range"),
        (">= 1.0.100 < 2", "range"),
        ("1.0.100 || 2.1.331", "range"),
        ("2.1.300 - 2.1.320", "range"),
        (">2.1.100 <=2.1.150", "range"),
        ("^2.0.0-beta.1", "range"),
    ],
)
def test_parse_spec_kinds(raw: str, kind: str) -> None:
    assert parse_spec(raw) == Spec(raw.strip(), kind)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "   ",
        "../x",
        "..",
        "a/b",
        "$(rm -rf)",
        "`id`",
        "latest; rm -rf /",
        "2.1.0 && echo",
        "2.1.x1",  # npm's loose parser would quietly read this as 2.1.x
        "2.x.1",  # npm would take this for a dist-tag name
        "x.2.3",
        "1.2.3 foo",  # npm's loose parser drops `foo`; we refuse
        "1.2.3beta",  # loose-only version syntax
        "01.2.3",
        "1.2.3 | 2",
        "1.2.3 ||| 2",
        "2.1.0\n",
        "2.1.0\nlatest",
        "lat est",
        "\tlatest",
        "1" * 101,
        "v1x",
        "-latest",
        "%2e%2e",
    ],
)
def test_parse_spec_rejects(raw: str) -> None:
    with pytest.raises(ValueError, match="is not a version, dist-tag or npm range"):
        parse_spec(raw)


def test_is_exact() -> None:
    assert is_exact("2.1.331")
    assert not is_exact("^2.1.331")
    assert not is_exact("latest")
    assert not is_exact("../x")


# --- satisfies (expected values taken from node-semver 7.8) ---------------------------------

SATISFIES: list[tuple[str, str, bool]] = [
    ("1.2.3", "1.2.3", True),
    ("1.2.3", "=1.2.3", True),
    ("1.2.3", "v1.2.3", True),
    ("1.2.4", "1.2.3", False),
    ("2.1.331", "*", True),
    ("2.1.331", "", True),
    ("2.1.331", "x", True),
    ("2.1.5", "2.1.x", True),
    ("2.2.0", "2.1.x", False),
    ("2.9.0", "2.x", True),
    ("2.9.0", "2", True),
    ("3.0.0", "2", False),
    ("2.1.9", "2.1", True),
    ("2.1.0", "^2.1.0", True),
    ("2.9.9", "^2.1.0", True),
    ("3.0.0", "^2.1.0", False),
    ("2.0.9", "^2.1.0", False),
    ("0.2.5", "^0.2.3", True),
    ("0.3.0", "^0.2.3", False),
    ("0.0.3", "^0.0.3", True),
    ("0.0.4", "^0.0.3", False),
    ("2.1.399", "~2.1.300", True),
    ("2.2.0", "~2.1.300", False),
    ("2.1.299", "~2.1.300", False),
    ("1.9.0", "~1", True),
    ("1.2.9", "~>1.2.3", True),
    ("1.5.0", ">=1.0.100 <2", True),
    ("2.0.0", ">=1.0.100 <2", False),
    ("1.0.99", ">=1.0.100 <2", False),
    ("1.0.100", "1.0.100 || 2.1.331", True),
    ("2.1.331", "1.0.100 || 2.1.331", True),
    ("2.1.330", "1.0.100 || 2.1.331", False),
    ("2.1.320", "2.1.300 - 2.1.320", True),
    ("2.1.321", "2.1.300 - 2.1.320", False),
    ("2.9.9", "1.2.3 - 2", True),  # partial upper bound: the whole 2.x
    ("3.0.0", "1.2.3 - 2", False),
    ("2.1.150", ">2.1.100 <=2.1.150", True),
    ("2.1.100", ">2.1.100 <=2.1.150", False),
    ("2.0.0", ">1", True),  # >1 means >=2.0.0
    ("1.9.9", ">1", False),
    ("1.2.9", "<=1.2", True),  # <=1.2 means <1.3.0
    ("1.3.0", "<=1.2", False),
    ("1.2.3", ">= 1.2.3", True),
    ("1.2.3", "1.2.3+build", True),
    ("1.2.3", ">=0.0.0", True),
    ("1.2.3", ">x", False),
    # prereleases: excluded unless a comparator in the same set names one on the same tuple
    ("2.2.0-beta.1", "^2.1.0", False),
    ("2.2.0-beta.1", "*", False),
    ("1.2.3-beta.4", "^1.2.3-beta.2", True),
    ("1.2.3-beta.1", "^1.2.3-beta.2", False),
    ("1.2.4-beta.1", "^1.2.3-beta.2", False),
    ("1.2.3", "^1.2.3-beta.2", True),
    ("1.2.3-alpha.10", ">1.2.3-alpha.9", True),  # numeric identifiers compare as numbers
    ("1.2.3-alpha.beta", ">1.2.3-alpha.9", True),  # alphanumeric sorts after numeric
    ("2.0.0-alpha", "^1 || ^2.0.0-alpha", True),
    ("1.9.0", "^1 || ^2.0.0-alpha", True),
    ("1.0.0", "2.1.x1", False),  # invalid strict range: nothing matches
    ("garbage", "*", False),
]


@pytest.mark.parametrize(("version", "range_", "expected"), SATISFIES)
def test_satisfies(version: str, range_: str, expected: bool) -> None:
    assert satisfies(version, range_) is expected


@pytest.mark.parametrize(
    ("version", "range_", "expected"),
    [
        ("2.2.0-beta.1", "^2.1.0", True),
        ("2.2.0-beta.1", "*", True),
        ("23.0.0-nightly", ">=22", True),
        ("v22.1.0-pre", ">=22.0.0", True),  # 22.1.0-pre sorts above 22.0.0
        ("v22.0.0-pre", ">=22.0.0", False),  # ...but 22.0.0-pre below it
        ("v21.9.0", ">=22.0.0", False),
        ("v22.12.0", ">=20.19.0 <21 || >=22.12", True),
        # a caret on a full 0.x version starts at that release, as for 1.x and up
        ("0.0.3-alpha", "^0.0.3", False),
        ("0.2.3-alpha", "^0.2.3", False),
        ("0.2.3", "^0.2.3", True),
        ("0.2.4-alpha", "^0.2.3", True),
        ("0.0.3-beta", "^0.0.3-alpha", True),
        ("0.2.0-alpha", "^0.2", True),  # a partial one still starts at its -0
    ],
)
def test_satisfies_include_prerelease(version: str, range_: str, expected: bool) -> None:
    assert satisfies(version, range_, include_prerelease=True) is expected


def test_engine_ok_zero_major_caret_excludes_its_own_prerelease() -> None:
    # npm-install-checks: node 0.10.0-pre is below `^0.10.0`, so the version does not fit it.
    assert not engine_ok("^0.10.0", "v0.10.0-pre")
    assert engine_ok("^0.10.0", "v0.10.5")
    assert engine_ok("^0.10.0", "v0.10.5-pre")


def test_loose_mode_accepts_npm_leniency() -> None:
    assert satisfies("1.2.3-beta", "1.2.3beta", loose=True)
    assert satisfies("1.2.3", "1.2.3 foo", loose=True)
    assert not satisfies("1.2.3", "1.2.3 foo")


# --- sorting and hints ----------------------------------------------------------------------


def test_sort_versions() -> None:
    got = sort_versions(["2.1.10", "2.1.9", "2.1.10-rc.1", "1.0.0", "junk", "2.1.10-rc.10"])
    assert got == ["1.0.0", "2.1.9", "2.1.10-rc.1", "2.1.10-rc.10", "2.1.10"]
    assert sort_versions(["1.0.0", "2.0.0"], reverse=True) == ["2.0.0", "1.0.0"]


def test_nearest() -> None:
    pool = ["2.1.320", "2.1.327", "2.1.330", "2.1.331", "1.0.100", "2.0.77"]
    assert nearest("2.1.329", pool) == ["2.1.327", "2.1.330", "2.1.331"]
    assert nearest("2.1.999", pool, n=1) == ["2.1.331"]
    assert nearest("lates", ["latest", "stable"]) == ["latest"]


# --- pick: npm-pick-manifest on synthetic packuments ----------------------------------------


@dataclass(frozen=True)
class V:
    engines_node: str | None = None
    deprecated: bool = False


@dataclass(frozen=True)
class Doc:
    dist_tags: dict[str, str]
    versions: dict[str, V]
    name: str = "pkg"


def doc(latest: str = "2.1.331", extra: dict[str, V] | None = None) -> Doc:
    versions = {
        "1.0.100": V(">=18"),
        "1.0.128": V(">=18"),
        "2.0.0-beta.1": V(">=18"),
        "2.1.0": V(">=18.0.0"),
        "2.1.197": V(">=18.0.0"),
        "2.1.198": V(">=22.0.0"),
        "2.1.330": V(">=22.0.0"),
        "2.1.331": V(">=22.0.0"),
        "2.2.0-beta.1": V(">=18"),
    }
    versions.update(extra or {})
    return Doc({"latest": latest, "next": "2.2.0-beta.1"}, versions)


NODE20 = "v20.20.2"
NODE22 = "v22.12.0"


@pytest.mark.parametrize(
    ("spec", "node", "expected"),
    [
        ("latest", NODE20, "2.1.331"),  # a tag is exact: engines are not consulted
        ("next", NODE20, "2.2.0-beta.1"),
        ("2.1.330", NODE20, "2.1.330"),
        ("v2.1.330", NODE20, "2.1.330"),
        ("^2.1.0", NODE22, "2.1.331"),  # latest fits and runs: npm takes it
        ("^2.1.0", NODE20, "2.1.197"),  # newer ones need node 22
        ("*", NODE20, "2.1.197"),
        ("*", NODE22, "2.1.331"),
        ("*", None, "2.1.331"),  # no node known: engines are not checked
        ("2.1.x", NODE20, "2.1.197"),
        ("1", NODE20, "1.0.128"),
        ("<2.1.331", NODE22, "2.1.330"),
        (">=2.1.198", NODE20, "2.1.331"),  # none runs on node 20: highest wins
        ("^2.0.0-beta.1", NODE20, "2.1.197"),
        ("2.0.0-beta.1 || 1", NODE20, "2.0.0-beta.1"),  # named prerelease may win
    ],
)
def test_pick(spec: str, node: str | None, expected: str) -> None:
    assert pick(spec, doc(), node) == expected


def test_pick_names_the_newer_versions_engines_kept_out() -> None:
    assert pick_manifest("^2.1.0", doc(), NODE20).engine_skipped == ("2.1.198", "2.1.330", "2.1.331")
    assert pick_manifest("^2.1.0", doc(), NODE22).engine_skipped == ()  # latest runs: taken
    assert pick_manifest("<2.1.331", doc(), NODE20).engine_skipped == ("2.1.198", "2.1.330")
    assert pick_manifest(">=2.1.198", doc(), NODE20).engine_skipped == ()  # nothing newer than the pick
    assert pick_manifest("latest", doc(), NODE20).engine_skipped == ()  # a tag is exact


def test_pick_prefers_not_deprecated() -> None:
    d = doc(extra={"2.1.199": V(">=18", deprecated=True)})
    assert pick("^2.1.0", d, NODE20) == "2.1.197"


def test_pick_deprecated_latest_is_not_preferred() -> None:
    d = doc(latest="2.1.197", extra={"2.1.197": V(">=18", deprecated=True)})
    assert pick("^2.1.0", d, NODE20) == "2.1.0"


def test_pick_engine_beats_not_deprecated() -> None:
    # order: (not deprecated and engine ok) > engine ok > not deprecated > semver
    d = Doc(
        {"latest": "3.0.0"},
        {"1.0.0": V(">=99"), "2.0.0": V(">=18", deprecated=True), "3.0.0": V(">=99")},
    )
    assert pick("*", d, NODE20) == "2.0.0"


def test_pick_invalid_engines_counts_as_not_ok() -> None:
    d = Doc({"latest": "2.0.0"}, {"1.0.0": V(">=18"), "2.0.0": V("node 18 please")})
    assert pick("*", d, NODE20) == "1.0.0"


def test_pick_latest_outside_range_is_ignored() -> None:
    assert pick("1.x", doc(), NODE22) == "1.0.128"


def test_pick_latest_prerelease_for_star() -> None:
    # npm compares the raw range to "*" before testing semver: a prerelease latest still wins
    d = Doc({"latest": "3.0.0-rc.1"}, {"2.0.0": V(), "3.0.0-rc.1": V()})
    assert pick("*", d, NODE20) == "3.0.0-rc.1"
    assert pick("x", d, NODE20) == "2.0.0"


def test_pick_skip_reports_what_was_passed_over() -> None:
    got = pick_manifest("*", doc(), NODE22, skip={"2.1.331"})
    assert (got.version, got.skipped) == ("2.1.330", ("2.1.331",))
    got = pick_manifest("^2.1.0", doc(), NODE20, skip={"2.1.197", "2.1.0"})
    assert (got.version, got.skipped) == ("2.1.331", ("2.1.197", "2.1.0"))


def test_pick_skip_unrelated_version_is_not_reported() -> None:
    got = pick_manifest("*", doc(), NODE22, skip={"1.0.100"})
    assert (got.version, got.skipped) == ("2.1.331", ())


def test_pick_skipped_tag_falls_back_below_it() -> None:
    got = pick_manifest("latest", doc(), NODE22, skip={"2.1.331"})
    assert (got.version, got.skipped) == ("2.1.330", ("2.1.331",))


def test_pick_skipped_exact_version_refused() -> None:
    with pytest.raises(VersionNotFound, match="marked known bad"):
        pick("2.1.331", doc(), NODE22, skip={"2.1.331"})


def test_pick_everything_skipped() -> None:
    with pytest.raises(VersionNotFound, match="every version .* known bad") as err:
        pick("1.x", doc(), NODE22, skip={"1.0.100", "1.0.128"})
    assert err.value.hint == "known bad: 1.0.100, 1.0.128"


def test_pick_missing_exact_version_suggests_nearest() -> None:
    with pytest.raises(VersionNotFound, match="pkg@2.1.332 does not exist") as err:
        pick("2.1.332", doc(), NODE20)
    assert err.value.hint == "newest published versions: 2.1.198, 2.1.330, 2.1.331"  # newer than all
    with pytest.raises(VersionNotFound) as err:
        pick("2.1.200", doc(), NODE20)
    assert err.value.hint == "nearest published versions: 2.1.198, 2.1.330, 2.1.331"


def test_an_unpublished_version_suggests_its_neighbours_or_the_newest() -> None:
    published = [f"2.1.{p}" for p in range(333)] + [f"1.0.{p}" for p in range(129)] + ["2.2.0-beta.1"]
    assert nearest("9.9.9", published) == ["2.1.330", "2.1.331", "2.1.332"]  # not 2.1.8-2.1.10
    assert nearest("2.1.9999", published) == ["2.1.330", "2.1.331", "2.1.332"]
    assert nearest("1.0.500", published) == ["1.0.128", "2.1.0", "2.1.1"]  # the next newer first
    assert nearest("0.0.1", published) == ["1.0.0", "1.0.1", "1.0.2"]
    assert nearest("2.2.0-beta.2", published) == ["2.1.331", "2.1.332", "2.2.0-beta.1"]  # a prerelease: those too


def test_pick_unknown_tag_lists_tags() -> None:
    with pytest.raises(VersionNotFound, match="no dist-tag 'stable'") as err:
        pick("stable", doc(), NODE20)
    assert err.value.hint is not None
    assert "latest (2.1.331)" in err.value.hint and "next (2.2.0-beta.1)" in err.value.hint


def test_pick_no_match() -> None:
    with pytest.raises(VersionNotFound, match="no version of pkg matches '\\^3'"):
        pick("^3", doc(), NODE20)


def test_pick_no_versions() -> None:
    with pytest.raises(VersionNotFound, match="no versions"):
        pick("*", Doc({}, {}), NODE20)


def test_pick_rejects_bad_spec() -> None:
    with pytest.raises(ValueError):
        pick("$(id)", doc(), NODE20)
