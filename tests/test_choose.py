"""Which profile runs here: PINMAN_PROFILE > the nearest .pinman.toml walking up > the global
choice of `pinman use`, and where each answer came from (`choice.choose`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pinman.runtime.choice import Choice, choose, write_global
from pinman.errors import ProfileError
from pinman.paths import Paths


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """outer/.pinman.toml (team) > outer/inner/.pinman.toml (legacy) > outer/inner/deep/, and
    outer/bare/.pinman.toml choosing nothing."""
    outer = tmp_path / "outer"
    (outer / "inner" / "deep").mkdir(parents=True)
    (outer / "bare" / "sub").mkdir(parents=True)
    (outer / ".pinman.toml").write_text('profile = "team"\n')
    (outer / "inner" / ".pinman.toml").write_text('# legacy repo\nschema = 1\nprofile = "legacy"\n')
    (outer / "bare" / ".pinman.toml").write_text("schema = 1\n")
    return outer


def test_the_global_choice_applies_outside_any_project(pinman_home: Paths, tmp_path: Path) -> None:
    write_global(pinman_home, "stable")
    assert choose(tmp_path, pinman_home, {}) == Choice("stable", "global", str(pinman_home.global_choice), None)


def test_the_nearest_project_file_wins_over_the_global_choice(pinman_home: Paths, tree: Path) -> None:
    write_global(pinman_home, "stable")
    inner = tree / "inner"
    assert choose(tree, pinman_home, {}) == Choice("team", "project", str(tree / ".pinman.toml"), tree)
    assert choose(inner, pinman_home, {}) == Choice("legacy", "project", str(inner / ".pinman.toml"), inner)
    assert choose(inner / "deep", pinman_home, {}) == Choice("legacy", "project", str(inner / ".pinman.toml"),
                                                            inner)


def test_pinman_profile_wins_over_project_and_global(pinman_home: Paths, tree: Path) -> None:
    write_global(pinman_home, "stable")
    got = choose(tree / "inner" / "deep", pinman_home, {"PINMAN_PROFILE": "latest"})
    assert got == Choice("latest", "env", "PINMAN_PROFILE", tree / "inner")  # the project root still known
    assert choose(tree, pinman_home, {"PINMAN_PROFILE": ""}).name == "team"  # empty is unset


def test_a_project_file_that_chooses_nothing_falls_to_the_global_choice(pinman_home: Paths, tree: Path) -> None:
    """It does not reach up to the outer project: the nearest file is the project."""
    write_global(pinman_home, "stable")
    got = choose(tree / "bare" / "sub", pinman_home, {})
    assert got == Choice("stable", "global", str(pinman_home.global_choice), tree / "bare")


def test_nothing_chosen_anywhere_is_one_error_with_a_hint(pinman_home: Paths, tree: Path, tmp_path: Path) -> None:
    for where in (tmp_path, tree / "bare"):
        with pytest.raises(ProfileError, match="no profile chosen") as e:
            choose(where, pinman_home, {})
        assert e.value.hint and "pinman use" in e.value.hint


def test_a_bad_name_in_pinman_profile_is_refused_not_looked_up(pinman_home: Paths, tmp_path: Path) -> None:
    write_global(pinman_home, "stable")
    with pytest.raises(ProfileError):
        choose(tmp_path, pinman_home, {"PINMAN_PROFILE": "../etc"})


def test_the_process_environment_is_the_default(pinman_home: Paths, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    write_global(pinman_home, "stable")
    monkeypatch.setenv("PINMAN_PROFILE", "legacy")
    assert choose(tmp_path, pinman_home).source == "env"
