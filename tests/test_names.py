"""The one rule for exact versions and package names, checked against node-semver's own parser."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pinman.names import clean_version, is_exact_version, is_package_name
from pinman.npm.semver import parse_version


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("2.1.331", "2.1.331"),
        ("v2.1.331", "2.1.331"),
        ("=2.1.331", "2.1.331"),
        ("  =v2.1.331 ", "2.1.331"),
        ("= v2.1.0", "2.1.0"),
        ("2.1.331-beta.1", "2.1.331-beta.1"),
        ("2.1.331+build.5", "2.1.331"),
        ("1.0.0-0", "1.0.0-0"),
        ("^2.1.0", None),
        ("latest", None),
        ("2.1", None),
        ("02.1.0", None),
        ("1.0.0-01", None),
        ("1.٢.0", None),  # a digit from another script is not a digit to npm
        (f"{2**53}.0.0", None),
        ("1.2.3 - 2", None),
    ],
)
def test_clean_version(raw: str, clean: str | None) -> None:
    assert clean_version(raw) == clean


def _port_clean(raw: str) -> str | None:
    v = parse_version(re.sub(r"^[=v]+", "", raw.strip()))
    return v.version if v else None


_VERSIONISH = st.from_regex(
    r"\A[ =v]{0,3}(0|[1-9][0-9]{0,16}|0[0-9])\.[0-9x]{1,3}\.[0-9]{1,3}(-[0-9A-Za-z.-]{0,8})?(\+[0-9A-Za-z.]{0,5})? ?\Z"
)


@given(st.one_of(_VERSIONISH, st.text(max_size=20)))
def test_clean_version_is_node_semvers_strict_clean(raw: str) -> None:
    assert clean_version(raw) == _port_clean(raw)


@given(st.one_of(_VERSIONISH, st.text(max_size=20)))
def test_an_exact_version_is_its_own_clean_form(raw: str) -> None:
    if is_exact_version(raw):
        assert clean_version(raw) == raw
    cleaned = clean_version(raw)
    if cleaned is not None and len(cleaned) <= 64:
        assert is_exact_version(cleaned)


def test_a_version_npm_cannot_hold_is_not_exact() -> None:
    """node-semver refuses numbers above 2**53 - 1: such a version is neither clean nor exact."""
    assert not is_exact_version("10000000000000000.0.0")
    assert clean_version("10000000000000000.0.0") is None
    assert is_exact_version("9007199254740991.0.0")


@pytest.mark.parametrize(
    ("name", "ok"),
    [
        ("@anthropic-ai/claude-code", True),
        ("@anthropic-ai/claude-code-darwin-arm64", True),
        ("claude-code", True),
        ("../../etc/passwd", False),
        ("@scope/../x", False),
        ("Upper", False),
        ("a b", False),
        ("x" * 215, False),
    ],
)
def test_is_package_name(name: str, ok: bool) -> None:
    assert is_package_name(name) is ok
