"""Guarded channels and remedies together: a candidate that passes only with a cheap client switch
is promoted with it (kept as the remedy of that promotion, dropped by the next one); "off" refuses
it; a costly switch never lets a candidate pass; the version a channel runs goes through the ladder
when the endpoint starts rejecting a field it sends. A loopback registry and fake npm
(tests/test_channels.py) with a simulated client and gateway (tests/test_remedies.py's World);
real clients in tests/test_channels_e2e.py."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from test_channels import claude_doc, have, npm, profile, registry  # noqa: F401 - fixtures
from test_remedies import EFFORT, EP, V1, V2, World, measure_in
from test_team import run

from pinman.health import rollback
from pinman.names import CLAUDE_CODE
from pinman.paths import Paths
from pinman.policy import promotion
from pinman.policy.channel import check_channel, first_choice
from pinman.runtime.pointers import pointer_path
from pinman.state.channels import get_channel
from pinman.state.journal import Journal
from pinman.state.overrides import get_override, read_remedies

EFFORT_ON = {"CLAUDE_CODE_EFFORT_LEVEL": "auto"}
CASE = "export CLAUDE_CODE_EFFORT_LEVEL='auto'"  # in the pointer's `case` on ANTHROPIC_BASE_URL


class Releases(World):
    """Every release sends what 2.1.331 sends, except those in `quiet`, which send what 1.0.100
    does (none of the fields a gateway here rejects)."""

    def __init__(self, deny: set[str]) -> None:
        super().__init__(deny)
        self.quiet: set[str] = set()

    def sends(self, version: str, env: Mapping[str, str]) -> list[str]:
        return super().sends(V1 if version in self.quiet else V2, env)

    def probed(self, version: str) -> list[dict[str, str]]:
        return [switches for v, switches in self.probes if v == version]


@pytest.fixture
def world(pinman_home: Paths, monkeypatch: pytest.MonkeyPatch) -> Releases:
    w = Releases(set())
    monkeypatch.setenv("ANTHROPIC_BASE_URL", EP)
    make = lambda paths, profile, env, **kw: w.prober_for(env)  # noqa: E731
    monkeypatch.setattr(rollback, "make_prober", make)  # the check of what runs (the ladder)
    monkeypatch.setattr(promotion, "make_prober", make)  # candidates
    measure_in(w, monkeypatch)
    return w


def events(paths: Paths, version: str) -> list[tuple[str, str | None, dict[str, Any] | None]]:
    """(event, outcome, switches) of one version's entries, oldest first."""
    return [(e.event, e.outcome, e.extra.get("remedy")) for e in reversed(Journal(paths).history("chan"))
            if e.version == version]


def on_310(paths: Paths, registry: dict[str, Any], world: Releases, tmp_path: Path,  # noqa: F811
           monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], extra: str = "") -> Any:
    """`chan` (a guarded range) chosen by `pinman use` on 2.1.310, which the gateway accepts; then
    2.1.320 is published, which sends output_config."""
    monkeypatch.chdir(tmp_path)
    world.quiet = {"2.1.310"}
    registry[CLAUDE_CODE] = claude_doc({"2.1.310": 30}, "2.1.310")
    p = profile(paths, extra=extra)
    code, out, err = run("use", "chan", capsys=capsys)
    assert code == 0 and "claude 2.1.310" in out, out + err
    # (the tag stays: the built-in `latest` profile, which runs what it names, would keep the candidate)
    registry[CLAUDE_CODE] = claude_doc({"2.1.310": 30, "2.1.320": 9}, "2.1.310")
    world.deny = {"output_config"}
    world.probes.clear()
    return p


def test_a_candidate_that_passes_only_with_a_cheap_switch_is_promoted_with_it_until_the_next_promotion(
        pinman_home: Paths, registry: Any, npm: Path, world: Releases, tmp_path: Path,  # noqa: F811
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    p = on_310(pinman_home, registry, world, tmp_path, monkeypatch, capsys)
    report = check_channel(pinman_home, p, cwd=tmp_path)
    assert world.probed("2.1.320") == [{}, EFFORT_ON] and world.measured == [("2.1.320", EFFORT)]
    assert report.runs == "2.1.320" and report.exit_code == 0 and report.refused == []
    promoted = report.promoted
    assert promoted["verified"] is True and promoted["remedy"]["env"] == EFFORT_ON, promoted
    assert promoted["message"] == (
        f"chan moved to 2.1.320 with {EFFORT}, verified at 127.0.0.1:4000 — output_config rejected there without "
        "it; sends no effort level: the model's default effort applies; for everyone, add "
        'CLAUDE_CODE_EFFORT_LEVEL = "auto" to [env] of chan')
    assert report.tried[-1]["switches"] == EFFORT_ON and report.tried[-1]["plain"] == "schema"
    state = get_channel(pinman_home, "chan", None)
    assert (state.version, state.verified, state.endpoint) == ("2.1.320", True, EP)
    (kept,) = read_remedies(pinman_home)["chan"].values()
    assert (kept.version, kept.env, kept.pin_spec, kept.pin_version) == (
        "2.1.320", (("CLAUDE_CODE_EFFORT_LEVEL", "auto"),), ">=2.1.300 <2.2", "2.1.320")
    # the shim's pointer runs the promotion with its remedy, at this endpoint
    ptr = pointer_path(pinman_home, None, "chan").read_text()
    assert "_pm_ver='2.1.320'" in ptr and "case ${ANTHROPIC_BASE_URL-} in" in ptr and CASE in ptr
    # every probe journaled; the switched one is no verdict: 2.1.320 is not known-good plainly
    assert events(pinman_home, "2.1.320") == [("candidate", "schema", None), ("candidate", "ok", EFFORT_ON),
                                              ("remedied", None, EFFORT_ON), ("promoted", None, EFFORT_ON)]
    journal = Journal(pinman_home)
    assert journal.last_known_good("chan", EP).version == "2.1.310" and "2.1.320" not in journal.known_bad("chan", EP)
    history = run("history", "chan", capsys=capsys)[1]
    assert f"candidate  chan  2.1.320  ok  with {EFFORT}" in history, history
    assert f"remedied  chan  2.1.320  http://127.0.0.1:4000  - chan runs 2.1.320 with {EFFORT}: output_config " \
           "rejected by 127.0.0.1:4000" in history

    # the next check runs it with its remedy (still rejected plainly: kept), then 2.1.330, which
    # sends no output_config, is promoted plainly: the remedy of 2.1.320 goes with its promotion
    world.quiet.add("2.1.330")
    registry[CLAUDE_CODE] = claude_doc({"2.1.310": 30, "2.1.320": 9, "2.1.330": 2}, "2.1.310")
    world.probes.clear()
    report = check_channel(pinman_home, p, cwd=tmp_path)
    assert world.probes == [("2.1.320", EFFORT_ON), ("2.1.320", {}), ("2.1.330", {})]
    assert report.health.remedy is not None and report.health.action == "ok"  # what ran, checked with its remedy
    assert report.runs == "2.1.330" and report.promoted["remedy"] is None
    assert read_remedies(pinman_home) == {}
    dropped = [e.message for e in Journal(pinman_home).history("chan") if e.event == "dropped"]
    assert dropped == [f"remedy {EFFORT} at 127.0.0.1:4000 dropped: the pin moved from 2.1.320 to 2.1.330"]
    ptr = pointer_path(pinman_home, None, "chan").read_text()
    assert "_pm_ver='2.1.330'" in ptr and CASE not in ptr


def test_status_and_show_say_the_promotion_and_its_remedy_once_and_agree(
        pinman_home: Paths, registry: Any, npm: Path, world: Releases, tmp_path: Path,  # noqa: F811
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    p = on_310(pinman_home, registry, world, tmp_path, monkeypatch, capsys)
    check_channel(pinman_home, p, cwd=tmp_path)
    check_channel(pinman_home, p, cwd=tmp_path)  # its recovery probe: rejected plainly, a verdict
    assert "2.1.320" in Journal(pinman_home).known_bad("chan", EP)
    code, out, _ = run("status", "--json", capsys=capsys)
    row = next(r for r in json.loads(out) if r["name"] == "chan")
    ch = row["channel"]
    assert (row["version"], ch["runs"], ch["verified"], ch["verified_at"]) == ("2.1.320", "2.1.320", True, EP)
    assert ch["refused"] == []  # rejected plainly, but it runs with its remedy: not refused
    assert [(m["switches"], m["here"]) for m in row["remedies"]] == [(EFFORT, True)]
    code, out, _ = run("status", capsys=capsys)
    lines = [ln for ln in out.splitlines() if "chan" in ln or ln.startswith("    ")]
    head = next(ln for ln in lines if ln.lstrip("* ").startswith("chan:"))
    assert head.lstrip("* ").startswith(f"chan: 2.1.320 with {EFFORT}") and "last check: ok" in head, out
    channel = next(ln for ln in lines if ln.strip().startswith("channel:"))
    assert "2.1.320 promoted just now, verified at 127.0.0.1:4000 with its remedy" in channel
    assert "refused" not in channel and EFFORT not in channel  # the remedy line says which, once
    assert sum(ln.strip().startswith("remedy:") for ln in lines) == 1
    code, out, _ = run("show", "chan", capsys=capsys)
    assert "verified at 127.0.0.1:4000 with its remedy" in out and out.count(f"remedy:        {EFFORT}") == 1, out


@pytest.mark.parametrize("level", ["off", "cheap", "all"])
def test_a_candidate_not_passing_with_the_switches_allowed_is_refused(
        pinman_home: Paths, registry: Any, npm: Path, world: Releases, tmp_path: Path,  # noqa: F811
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], level: str) -> None:
    """"off": plain only. "cheap" and "all" alike: cheap switches only, since what runs works
    without any (a costly switch, here turning prompt caching off, never lets a candidate pass);
    refused with the field that stopped it."""
    p = on_310(pinman_home, registry, world, tmp_path, monkeypatch, capsys, extra=f'[health]\nremedies = "{level}"')
    if level != "off":
        world.deny = {"output_config", "cache_control"}  # the second: only a costly switch drops it
    report = check_channel(pinman_home, p, cwd=tmp_path)
    assert report.runs == "2.1.310" and report.promoted is None
    stopped_by = "output_config" if level == "off" else "cache_control"
    (refused,) = report.refused
    assert (refused["version"], refused["rejected"]) == ("2.1.320", stopped_by)
    if level == "off":
        assert world.measured == [] and world.probed("2.1.320") == [{}]
    else:
        assert world.probed("2.1.320") == [{}, EFFORT_ON]  # never with prompt caching off
        assert refused["tried"] == ["no cheap switch drops cache_control from what 2.1.320 sends (a costly one "
                                    "would: DISABLE_PROMPT_CACHING=1)"], refused
    assert read_remedies(pinman_home) == {} and "2.1.320" not in have(pinman_home)  # its download is gone
    bad = Journal(pinman_home).known_bad("chan", EP)
    assert bad["2.1.320"].event == "refused" and bad["2.1.320"].rejected == stopped_by
    assert get_channel(pinman_home, "chan", None).version == "2.1.310"


def test_the_running_version_rejected_on_a_field_gets_a_remedy_through_check(
        pinman_home: Paths, registry: Any, npm: Path, world: Releases, tmp_path: Path,  # noqa: F811
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    registry[CLAUDE_CODE] = claude_doc({"2.1.310": 30, "2.1.320": 9}, "2.1.320")
    world.quiet = {"2.1.310"}
    profile(pinman_home)
    assert run("use", "chan", capsys=capsys)[0] == 0
    assert get_channel(pinman_home, "chan", None).version == "2.1.320"  # accepted plainly
    world.deny = {"output_config"}  # the gateway tightens
    # --no-rollback: nothing changes what runs, no remedy either
    code, out, err = run("check", "chan", "--no-rollback", "--json", capsys=capsys)
    doc = json.loads(out)
    assert (code, doc["action"], doc["remedy"]) == (11, "reported", None), out + err
    assert read_remedies(pinman_home) == {} and world.measured == []
    code, out, err = run("check", "chan", "--json", capsys=capsys)
    doc = json.loads(out)
    assert (code, doc["action"], doc["version"]) == (10, "remedied", "2.1.320"), out + err
    assert doc["remedy"]["env"] == EFFORT_ON and doc["channel"]["runs"] == "2.1.320"
    assert get_override(pinman_home, "chan", None) is None  # the cheap remedy before the rollback to 2.1.310
    state = get_channel(pinman_home, "chan", None)
    assert (state.version, state.verified) == ("2.1.320", True)
    assert CASE in pointer_path(pinman_home, None, "chan").read_text()


def test_a_version_chosen_unverified_is_checked_as_a_candidate_is(
        pinman_home: Paths, registry: Any, npm: Path, world: Releases, tmp_path: Path,  # noqa: F811
        monkeypatch: pytest.MonkeyPatch) -> None:
    """No probe could run when it was chosen; once one can, it may pass with a cheap switch only,
    whatever `remedies` says: otherwise it is refused and an older candidate is promoted."""
    registry[CLAUDE_CODE] = claude_doc({"2.1.310": 30, "2.1.320": 9}, "2.1.320")
    world.quiet = {"2.1.310"}
    p = profile(pinman_home, extra='[health]\nremedies = "all"')
    from test_channels import auth

    monkeypatch.setattr(promotion, "make_prober", lambda *a, **k: lambda v, sdk_version=None: auth())
    assert first_choice(pinman_home, p, cwd=tmp_path).promoted["verified"] is False
    monkeypatch.setattr(promotion, "make_prober", lambda paths, profile, env, **kw: world.prober_for(env))
    world.deny = {"thinking"}
    report = check_channel(pinman_home, p, cwd=tmp_path)
    assert all("CLAUDE_CODE_DISABLE_THINKING" not in s for _, s in world.probes)
    assert [r["version"] for r in report.refused] == ["2.1.320"] and report.runs == "2.1.310"
    assert read_remedies(pinman_home) == {}


def test_a_version_chosen_unverified_that_passes_with_a_cheap_switch_is_verified_with_it(
        pinman_home: Paths, registry: Any, npm: Path, world: Releases, tmp_path: Path,  # noqa: F811
        monkeypatch: pytest.MonkeyPatch) -> None:
    registry[CLAUDE_CODE] = claude_doc({"2.1.310": 30, "2.1.320": 9}, "2.1.310")
    world.quiet = {"2.1.310"}
    p = profile(pinman_home)
    from test_channels import auth

    monkeypatch.setattr(promotion, "make_prober", lambda *a, **k: lambda v, sdk_version=None: auth())
    assert first_choice(pinman_home, p, cwd=tmp_path).promoted["verified"] is False
    world.deny = {"output_config"}
    report = check_channel(pinman_home, p, cwd=tmp_path)
    assert report.health.action == "remedied" and report.verified_now and report.refused == []
    state = get_channel(pinman_home, "chan", None)
    assert (state.version, state.verified, state.endpoint) == ("2.1.320", True, EP)
    assert [r.version for r in read_remedies(pinman_home)["chan"].values()] == ["2.1.320"]


def test_a_candidate_whose_switched_probe_meets_an_outage_is_not_taken_unverified(
        pinman_home: Paths, registry: Any, npm: Path, world: Releases, tmp_path: Path,  # noqa: F811
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The endpoint judged the plain version (rejected): a probe could run, so the exception for
    "no probe can run at all" does not apply; nothing is chosen until a probe can judge the switch."""
    from pinman.errors import HealthError
    from pinman.health.result import ProbeResult

    registry[CLAUDE_CODE] = claude_doc({"2.1.320": 9}, "2.1.320")
    world.deny = {"output_config"}

    def make(paths: Paths, profile: Any, env: Mapping[str, str], **kw: Any) -> Any:
        if "CLAUDE_CODE_EFFORT_LEVEL" in env:
            return lambda v, sdk_version=None: ProbeResult("cli", 1, 529, "overloaded_error", "Overloaded", 0.1,
                                                           is_error=True)
        return world.prober_for(env)

    monkeypatch.setattr(promotion, "make_prober", make)
    with pytest.raises(HealthError, match="2.1.320 overloaded"):
        first_choice(pinman_home, profile(pinman_home), cwd=tmp_path)
    assert get_channel(pinman_home, "chan", None) is None and read_remedies(pinman_home) == {}
