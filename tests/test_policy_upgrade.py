"""`pinman upgrade` through the ladder: a candidate the endpoint rejects may pass with a cheap switch,
which then becomes the new pin's remedy; a costly one never moves a pin. Loopback registry, fake npm,
a simulated client and gateway (tests/test_remedies.py's World)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from test_remedies import EP, World
from test_team import npm, registry, repo, run, write_profile  # noqa: F401 - fixtures

from pinman.errors import ExitCode
from pinman.health import prober
from pinman.paths import Paths
from pinman.policy import measure
from pinman.policy.measure import Effect
from pinman.policy.verify import verify
from pinman.profile.discovery import find_profile
from pinman.profile.validate import load_profile
from pinman.runtime.remedies import remedies_for
from pinman.state.journal import Journal


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch) -> World:
    w = World({"output_config"})
    monkeypatch.setenv("ANTHROPIC_BASE_URL", EP)
    monkeypatch.setattr(measure, "plain", lambda paths, version: w.fingerprint("2.1.331", {}))

    def effect(paths: Paths, version: str, switch: Any, **kw: Any) -> Effect:
        w.measured.append((version, switch.name))
        fp = w.fingerprint("2.1.331", {switch.env: switch.value})
        return Effect(version, switch.name, tuple(fp.keys), tuple(fp.betas), True, 0.0)

    def make(paths: Paths, profile: Any, env: Mapping[str, str], **kw: Any) -> Any:
        probe = w.prober_for(env)
        return lambda version, sdk_version=None: probe("2.1.331")  # every candidate sends what 2.1.331 does

    monkeypatch.setattr(measure, "effect", effect)
    monkeypatch.setattr(prober, "make_prober", make)
    return w


def test_a_candidate_that_passes_with_a_cheap_switch_moves_the_pin_and_keeps_the_switch(
        repo: Path, registry: Any, npm: Path, world: World, pinman_home: Paths,  # noqa: F811
        capsys: pytest.CaptureFixture[str]) -> None:
    path = write_profile(repo, "stable", '[claude-code]\nversion = "2.1.300"\n')
    code, out, err = run("upgrade", "stable", capsys=capsys)
    assert code == 0, out + err
    assert "moved" in out and "with CLAUDE_CODE_EFFORT_LEVEL=auto (output_config rejected by 127.0.0.1:4000)" in out
    assert 'add CLAUDE_CODE_EFFORT_LEVEL = "auto" to [env]' in out
    assert load_profile(path).claude_code.version == "2.1.331"
    profile = find_profile("stable", repo, pinman_home)
    (kept,) = remedies_for(pinman_home, profile, "2.1.331").values()
    assert (kept.env, kept.pin_spec, kept.endpoint) == ((("CLAUDE_CODE_EFFORT_LEVEL", "auto"),), "2.1.331", EP)
    assert [e.event for e in Journal(pinman_home).history()][:3] == ["remedied", "check", "check"]


def test_a_candidate_that_needs_a_costly_switch_is_rejected_whatever_remedies_says(
        repo: Path, registry: Any, npm: Path, world: World, capsys: pytest.CaptureFixture[str]) -> None:  # noqa: F811
    world.deny = {"thinking"}
    path = write_profile(repo, "stable", '[claude-code]\nversion = "2.1.300"\n\n[health]\nremedies = "all"\n')
    assert run("trust", capsys=capsys)[0] == 0  # so "all" is the project's own word, not withheld
    code, out, _ = run("upgrade", "stable", capsys=capsys)
    assert code == ExitCode.BROKEN and "rejected field: thinking" in out
    assert load_profile(path).claude_code.version == "2.1.300" and world.measured == []


def test_verify_answers_with_the_switches_and_records_nothing(pinman_home: Paths, tmp_path: Path,
                                                             world: World) -> None:
    p = pinman_home.user_profiles / "team.toml"
    p.parent.mkdir(parents=True)
    p.write_text('[claude-code]\nversion = "2.1.300"\n')
    profile = find_profile("team", tmp_path, pinman_home)
    v = verify(pinman_home, profile, "2.1.331", {"ANTHROPIC_BASE_URL": EP})
    assert v.passed and v.plain.rejected == "output_config" and v.switches == {"CLAUDE_CODE_EFFORT_LEVEL": "auto"}
    assert not pinman_home.overrides.exists()
    world.deny = {"output_config", "thinking"}
    v = verify(pinman_home, profile, "2.1.331", {"ANTHROPIC_BASE_URL": EP}, level="all")
    assert v.passed and v.fixed == ["thinking", "output_config"]
    assert not verify(pinman_home, profile, "2.1.331", {"ANTHROPIC_BASE_URL": EP}, level="off").passed
