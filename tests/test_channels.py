"""Guarded channels with a loopback registry (fixed publish times), a fake npm and scripted probes:
promotion, refusal, soak, the unverified first choice, overrides bound to a promotion, the
unattended check, disk clean-up, trust, lock and the views. The pure candidate selection is in
tests/test_channel_select.py; real clients against a gateway in tests/test_channels_e2e.py."""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from e2e_support import serve_packuments
from test_team import NPM_WRAPPER, run, sri

from pinman.health import rollback
from pinman.health.manual import switch_to
from pinman.health.result import ProbeResult
from pinman.install.store import Store
from pinman.names import CLAUDE_CODE
from pinman.paths import Paths
from pinman.policy import promotion
from pinman.policy.channel import MAX_TRIES, check_channel, first_choice
from pinman.profile.discovery import find_profile
from pinman.runtime.channel import ChannelUnset, is_guarded
from pinman.runtime.resolution import target
from pinman.state.channels import ChannelState, get_channel, read_channels, update_channel
from pinman.state.journal import Journal
from pinman.state.overrides import get_override

EP = "http://127.0.0.1:4000"
DAY = 86400.0
NOW = time.time()
# Publish times are not monotonic in version: 2.1.320 came out after 2.1.330 (a fix on an older line).
AGES = {"2.1.300": 40, "2.1.310": 30, "2.1.320": 9, "2.1.330": 12, "2.1.340": 2}


def iso(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(ts))


def claude_doc(ages: dict[str, float], latest: str) -> dict[str, Any]:
    versions = {v: {"name": CLAUDE_CODE, "version": v, "dist": {"integrity": sri(v)}} for v in ages}
    return {"name": CLAUDE_CODE, "dist-tags": {"latest": latest}, "versions": versions,
            "time": {"created": iso(NOW - 400 * DAY), **{v: iso(NOW - a * DAY) for v, a in ages.items()}}}


@pytest.fixture
def registry(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    docs: dict[str, Any] = {CLAUDE_CODE: claude_doc(AGES, "2.1.340")}
    with serve_packuments(docs) as url:
        monkeypatch.setenv("npm_config_registry", url)
        monkeypatch.setenv("PINMAN_REGISTRY_TTL", "0")
        yield docs


@pytest.fixture
def npm(fake_npm: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The fake npm on PATH; returns its log (one line per install)."""
    folder = tmp_path / "npm-wrapper"
    folder.mkdir()
    (folder / "npm").write_text(f"#!{sys.executable}\n" + NPM_WRAPPER.format(
        tests=str(Path(__file__).parent), fake=str(fake_npm)))
    (folder / "npm").chmod(0o755)
    log = tmp_path / "npm.log"
    monkeypatch.setenv("FAKE_NPM_LOG", str(log))
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ['PATH']}")
    return log


def installs(log: Path) -> list[str]:
    """Versions the fake npm installed, in order."""
    lines = log.read_text().splitlines() if log.exists() else []
    return [ln.split("@")[-1] for ln in lines if CLAUDE_CODE in ln]


def ok() -> ProbeResult:
    return ProbeResult("cli", 0, None, None, "OK", 0.1, is_error=False)


def schema() -> ProbeResult:
    return ProbeResult("cli", 1, 400, "invalid_request_error", "400 thinking: Extra inputs are not permitted", 0.1,
                       is_error=True)


def auth() -> ProbeResult:
    return ProbeResult("cli", 1, 401, "authentication_error", "Invalid API key", 0.1, is_error=True)


class Gateway:
    """Scripted probes: `answers[version]` (default ok); `calls` records every version probed."""

    def __init__(self) -> None:
        self.answers: dict[str, Any] = {}
        self.calls: list[str] = []

    def __call__(self, version: str, sdk_version: str | None = None) -> ProbeResult:
        self.calls.append(version)
        return self.answers.get(version, ok)()


@pytest.fixture
def gw(monkeypatch: pytest.MonkeyPatch) -> Gateway:
    gateway = Gateway()
    monkeypatch.setenv("ANTHROPIC_BASE_URL", EP)
    monkeypatch.setattr(rollback, "make_prober", lambda *a, **k: gateway)  # the check of what runs
    monkeypatch.setattr(promotion, "make_prober", lambda *a, **k: gateway)  # candidates
    return gateway


def profile(paths: Paths, name: str = "chan", spec: str = ">=2.1.300 <2.2", *, soak: str = "0h",
            auto: bool = True, extra: str = "") -> Any:
    f = paths.user_profiles / f"{name}.toml"
    f.parent.mkdir(parents=True, exist_ok=True)
    f.write_text(f'[claude-code]\nversion = "{spec}"\n{extra}\n[update]\npolicy = "guarded"\n'
                 f'soak = "{soak}"\nauto = {"true" if auto else "false"}\n')
    return find_profile(name, Path(os.sep), paths)


def have(paths: Paths) -> set[str]:
    return {i.version for i in Store(paths).list(CLAUDE_CODE)}


# --------------------------------------------------------------------------- choosing and promoting


def test_first_choice_runs_the_newest_candidate_that_passes(pinman_home: Paths, registry: Any, npm: Path,
                                                            gw: Gateway, tmp_path: Path) -> None:
    registry[CLAUDE_CODE] = claude_doc(AGES, "2.1.300")  # the built-in `latest` profile would keep its tag's
    p = profile(pinman_home)
    with pytest.raises(ChannelUnset, match="has no version chosen on this machine yet"):
        target(pinman_home, p)
    gw.answers["2.1.340"] = schema
    report = first_choice(pinman_home, p, cwd=tmp_path)
    assert gw.calls == ["2.1.340", "2.1.330"] and installs(npm) == ["2.1.340", "2.1.330"]
    assert report.runs == "2.1.330" and report.promoted == {
        "from": None, "to": "2.1.330", "verified": True, "message": "chan moved to 2.1.330, verified at 127.0.0.1:4000",
        "remedy": None}
    assert [r["version"] for r in report.refused] == ["2.1.340"] and report.refused[0]["rejected"] == "thinking"
    # the refused download is gone again; what runs stays
    assert have(pinman_home) == {"2.1.330"} and report.removed == ["2.1.340"]
    assert 0 < report.freed < report.downloaded
    state = get_channel(pinman_home, "chan", None)
    assert state is not None and (state.version, state.verified, state.endpoint, state.spec) == (
        "2.1.330", True, EP, ">=2.1.300 <2.2")
    tgt = target(pinman_home, p)
    assert tgt.version == "2.1.330" and tgt.why.startswith(">=2.1.300 <2.2, guarded: 2.1.330 promoted just now")
    j = Journal(pinman_home)
    events = [(e.event, e.version, e.outcome) for e in reversed(j.history("chan"))]
    # the probe of 2.1.340 decided nothing yet (a cheap switch might have let it pass); the refusal did
    assert events == [("candidate", "2.1.340", "schema"), ("refused", "2.1.340", "schema"), ("check", "2.1.330", "ok"),
                      ("promoted", "2.1.330", None)]
    assert set(j.known_bad("chan", EP)) == {"2.1.340"}  # a `refused` is a verdict: known-bad here
    assert j.last_known_good("chan", EP).version == "2.1.330"


def test_a_refused_candidate_is_not_downloaded_again_for_that_endpoint(pinman_home: Paths, registry: Any,
                                                                       npm: Path, gw: Gateway,
                                                                       tmp_path: Path) -> None:
    p = profile(pinman_home)
    gw.answers["2.1.340"] = schema
    first_choice(pinman_home, p, cwd=tmp_path)
    gw.calls.clear()
    report = check_channel(pinman_home, p, cwd=tmp_path)
    assert gw.calls == ["2.1.330"]  # what runs, checked; 2.1.340 neither probed nor installed
    assert installs(npm) == ["2.1.340", "2.1.330"] and report.promoted is None and report.eligible == []
    # another endpoint has not refused it: there it is a candidate again
    os.environ["ANTHROPIC_BASE_URL"] = "http://127.0.0.1:4001"
    report = check_channel(pinman_home, p, cwd=tmp_path)
    assert report.eligible == ["2.1.340"] and gw.calls[-1] == "2.1.340"


def test_check_promotes_keeps_the_previous_and_removes_older_downloads(pinman_home: Paths, registry: Any,
                                                                       npm: Path, gw: Gateway,
                                                                       tmp_path: Path) -> None:
    registry[CLAUDE_CODE] = claude_doc({"2.1.300": 40, "2.1.310": 30}, "2.1.310")
    p = profile(pinman_home)
    assert first_choice(pinman_home, p, cwd=tmp_path).runs == "2.1.310"
    ages = {"2.1.300": 40, "2.1.310": 30}
    for newer, age in (("2.1.320", 9), ("2.1.330", 2)):  # releases published later
        ages[newer] = age
        registry[CLAUDE_CODE] = claude_doc(ages, newer)
        report = check_channel(pinman_home, p, cwd=tmp_path)
        assert report.runs == newer and report.health is not None and report.health.action == "ok"
    state = get_channel(pinman_home, "chan", None)
    assert (state.version, state.previous) == ("2.1.330", "2.1.320")
    # the way back (the previous promotion) stays; the one before it, which the channel downloaded, goes
    assert have(pinman_home) == {"2.1.320", "2.1.330"} and report.removed == ["2.1.310"] and report.freed > 0
    assert state.fetched == ("2.1.320", "2.1.330")


def test_after_a_promotion_and_its_clean_up_the_shim_stays_on_its_fast_path(
        pinman_home: Paths, registry: Any, npm: Path, gw: Gateway, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from pinman.runtime.pointers import pointer_path

    monkeypatch.chdir(tmp_path)
    registry[CLAUDE_CODE] = claude_doc({"2.1.310": 30}, "2.1.310")
    p = profile(pinman_home)
    assert run("use", "chan", capsys=capsys)[0] == 0
    ages = {"2.1.310": 30.0}
    for newer in ("2.1.320", "2.1.330"):
        ages[newer] = 2
        registry[CLAUDE_CODE] = claude_doc(ages, newer)
        report = check_channel(pinman_home, p, cwd=tmp_path)
    assert report.removed == ["2.1.310"]
    ptr = pointer_path(pinman_home, None, "chan")
    assert f"_pm_ver='2.1.330'" in ptr.read_text()
    # the shim's test: a pointer older than the channels file is stale
    assert ptr.stat().st_mtime_ns >= pinman_home.channels.stat().st_mtime_ns


def test_clean_up_never_removes_what_another_profile_pins(pinman_home: Paths, registry: Any, npm: Path,
                                                          gw: Gateway, tmp_path: Path) -> None:
    registry[CLAUDE_CODE] = claude_doc({"2.1.310": 30}, "2.1.310")
    p = profile(pinman_home)
    first_choice(pinman_home, p, cwd=tmp_path)
    (pinman_home.user_profiles / "fixed.toml").write_text('[claude-code]\nversion = "2.1.310"\n')
    ages = {"2.1.310": 30.0}
    for newer in ("2.1.320", "2.1.330"):
        ages[newer] = 2
        registry[CLAUDE_CODE] = claude_doc(ages, newer)
        check_channel(pinman_home, p, cwd=tmp_path)
    assert have(pinman_home) == {"2.1.310", "2.1.320", "2.1.330"}


def test_engines_are_reported_not_used_to_skip(pinman_home: Paths, registry: Any, npm: Path, gw: Gateway,
                                              tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    doc = claude_doc(AGES, "2.1.300")
    doc["versions"]["2.1.340"]["engines"] = {"node": ">=99"}
    registry[CLAUDE_CODE] = doc
    report = first_choice(pinman_home, profile(pinman_home), cwd=tmp_path)
    assert report.runs == "2.1.340"
    tried = report.tried[0]
    assert (tried["engines"], tried["engines_ok"]) == (">=99", False) and tried["node"].startswith("v")
    from pinman.cli.checks import render_channel

    render_channel(report)
    assert "note: 2.1.340 declares node >=99 (node here: v" in capsys.readouterr().out


def test_soak_keeps_the_newest_release_out_until_it_is_old_enough(pinman_home: Paths, registry: Any, npm: Path,
                                                                  gw: Gateway, tmp_path: Path) -> None:
    p = profile(pinman_home, spec="latest", soak="7d")
    report = first_choice(pinman_home, p, cwd=tmp_path)
    # 2.1.340 (2 days old) soaks; of the rest, 2.1.330 is the newest by version, though 2.1.320 is newer by date
    assert report.runs == "2.1.330" and gw.calls == ["2.1.330"]
    assert [w["version"] for w in report.waiting] == ["2.1.340"]
    assert abs(report.waiting[0]["ready_at"] - (NOW - 2 * DAY + 7 * DAY)) < 2
    # five days later it is a week old: the next check promotes it
    registry[CLAUDE_CODE] = claude_doc({**AGES, "2.1.340": 7.01}, "2.1.340")
    assert check_channel(pinman_home, p, cwd=tmp_path).runs == "2.1.340"


def test_no_probe_at_all_takes_the_newest_unverified_and_the_next_check_verifies_it(
        pinman_home: Paths, registry: Any, npm: Path, gw: Gateway, tmp_path: Path) -> None:
    p = profile(pinman_home)
    gw.answers = {v: auth for v in AGES}  # no key yet
    report = first_choice(pinman_home, p, cwd=tmp_path)
    assert report.runs == "2.1.340" and report.promoted["verified"] is False and gw.calls == ["2.1.340"]
    assert "NOT verified" in report.promoted["message"] and "auth" in report.promoted["message"]
    assert get_channel(pinman_home, "chan", None).verified is False
    assert "not verified yet" in target(pinman_home, p).why
    gw.answers = {}
    report = check_channel(pinman_home, p, cwd=tmp_path)
    state = get_channel(pinman_home, "chan", None)
    assert report.verified_now and (state.version, state.verified, state.endpoint) == ("2.1.340", True, EP)


def test_an_unverified_choice_the_endpoint_rejects_walks_down(pinman_home: Paths, registry: Any, npm: Path,
                                                              gw: Gateway, tmp_path: Path) -> None:
    p = profile(pinman_home)
    gw.answers = {v: auth for v in AGES}
    first_choice(pinman_home, p, cwd=tmp_path)
    gw.answers = {"2.1.340": schema}
    report = check_channel(pinman_home, p, cwd=tmp_path)
    assert report.runs == "2.1.330" and report.promoted["verified"] and report.exit_code == 0
    assert [r["version"] for r in report.refused] == ["2.1.340"]


def test_an_outage_promotes_nothing(pinman_home: Paths, registry: Any, npm: Path, gw: Gateway,
                                    tmp_path: Path) -> None:
    registry[CLAUDE_CODE] = claude_doc({"2.1.310": 30}, "2.1.310")
    p = profile(pinman_home)
    first_choice(pinman_home, p, cwd=tmp_path)
    registry[CLAUDE_CODE] = claude_doc({"2.1.310": 30, "2.1.320": 9}, "2.1.310")  # (`latest` would keep its tag's)
    gw.answers = {"2.1.320": lambda: ProbeResult("cli", 1, 529, "overloaded_error", "Overloaded", 0.1,
                                                 is_error=True)}
    report = check_channel(pinman_home, p, cwd=tmp_path)
    assert report.runs == "2.1.310" and report.inconclusive and "overloaded" in report.stopped
    assert "2.1.320" not in have(pinman_home)  # its download is not kept
    assert "2.1.320" not in Journal(pinman_home).known_bad("chan", EP)  # says nothing about the version
    assert Journal(pinman_home).history("chan")[0].event == "candidate"


def test_tries_are_bounded_per_run(pinman_home: Paths, registry: Any, npm: Path, gw: Gateway,
                                   tmp_path: Path) -> None:
    ages = {f"2.1.{300 + i}": 30 - i for i in range(MAX_TRIES + 3)}
    registry[CLAUDE_CODE] = claude_doc(ages, "2.1.300")
    p = profile(pinman_home)
    gw.answers = {v: schema for v in ages}
    with pytest.raises(Exception, match="no candidate of >=2.1.300 <2.2 passed a probe"):
        first_choice(pinman_home, p, cwd=tmp_path)
    assert len(gw.calls) == MAX_TRIES and have(pinman_home) == set()
    gw.answers = {}
    assert first_choice(pinman_home, p, cwd=tmp_path).runs == "2.1.302"  # the refusals carried the search on


def test_no_rollback_switches_nothing_forward_either(pinman_home: Paths, registry: Any, npm: Path,
                                                     gw: Gateway, tmp_path: Path) -> None:
    registry[CLAUDE_CODE] = claude_doc({"2.1.310": 30}, "2.1.310")
    p = profile(pinman_home)
    first_choice(pinman_home, p, cwd=tmp_path)
    registry[CLAUDE_CODE] = claude_doc({"2.1.310": 30, "2.1.320": 9}, "2.1.320")
    report = check_channel(pinman_home, p, auto_rollback=False, cwd=tmp_path)
    assert report.runs == "2.1.310" and report.eligible == ["2.1.320"] and gw.calls == ["2.1.310", "2.1.310"]


ANSWER = '{"type":"result","subtype":"success","is_error":false,"result":"OK"}'


@pytest.mark.parametrize("answers", [True, False])
def test_the_first_claude_of_a_guarded_channel_chooses_as_use_does(pinman_home: Paths, registry: Any, npm: Path,
                                                                   tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                   answers: bool) -> None:
    """No `pinman use`: the shim's slow path probes the candidate before it runs it, and says so
    when no probe could judge it (a client that prints no JSON result here)."""
    from cli_support import claude

    from pinman.runtime.shim import ensure_shim

    ensure_shim(pinman_home)  # as any earlier pinman command left it
    profile(pinman_home, spec=">=2.1.340")
    if answers:  # the fake client answers a probe with ok
        monkeypatch.setenv("FAKE_NPM_PRINTS", f"2.1.340 (Claude Code)\n{ANSWER}")
    r = claude(pinman_home, tmp_path, "--version", PINMAN_PROFILE="chan")
    assert r.code == 0 and r.out.startswith("2.1.340 (Claude Code)"), r.text
    state = get_channel(pinman_home, "chan", None)
    assert state is not None and (state.version, state.verified) == ("2.1.340", answers)
    if answers:
        assert "pinman: chan moved to 2.1.340, verified at api.anthropic.com:443" in r.err
    else:
        assert "pinman: chan runs 2.1.340 NOT verified: no probe could run at api.anthropic.com:443 (unknown)" in r.err
    again = claude(pinman_home, tmp_path, "--version", PINMAN_PROFILE="chan")  # the fast path from now on
    assert again.out.startswith("2.1.340") and again.err == ""


# --------------------------------------------------------------------------- overrides bound to a promotion


def test_an_override_belongs_to_the_promotion_it_replaced(pinman_home: Paths, registry: Any, npm: Path,
                                                          gw: Gateway, tmp_path: Path) -> None:
    registry[CLAUDE_CODE] = claude_doc({"2.1.310": 30, "2.1.320": 9}, "2.1.320")
    p = profile(pinman_home)
    first_choice(pinman_home, p, cwd=tmp_path)
    switch_to(pinman_home, p, "2.1.310", previous="2.1.320", reason="thinking rejected by x")  # a rollback
    ov = get_override(pinman_home, "chan", None)
    assert (ov.pin_spec, ov.pin_version) == (">=2.1.300 <2.2", "2.1.320")
    assert target(pinman_home, p).version == "2.1.310"
    # the channel promotes 2.1.330, verified here: the rollback away from 2.1.320 no longer applies
    gw.answers["2.1.320"] = schema  # still rejected: no recovery to it
    registry[CLAUDE_CODE] = claude_doc({"2.1.310": 30, "2.1.320": 9, "2.1.330": 1}, "2.1.330")
    report = check_channel(pinman_home, p, cwd=tmp_path)
    assert report.runs == "2.1.330" and get_override(pinman_home, "chan", None) is None
    assert target(pinman_home, p).version == "2.1.330"
    dropped = [e for e in Journal(pinman_home).history("chan") if e.event == "dropped"]
    assert dropped and dropped[0].message == "local override 2.1.310 dropped: the pin moved from 2.1.320 to 2.1.330"


# --------------------------------------------------------------------------- the unattended check


def test_periodic_with_auto_false_only_says_that_candidates_wait(pinman_home: Paths, registry: Any, npm: Path,
                                                                 gw: Gateway, tmp_path: Path) -> None:
    registry[CLAUDE_CODE] = claude_doc({"2.1.310": 30}, "2.1.310")
    p = profile(pinman_home, auto=False)
    first_choice(pinman_home, p, cwd=tmp_path)
    registry[CLAUDE_CODE] = claude_doc({"2.1.310": 30, "2.1.320": 9}, "2.1.320")
    from pinman.npm.registry import Registry

    Registry(pinman_home).packument(CLAUDE_CODE)  # some other command refreshed the cache
    report = check_channel(pinman_home, p, periodic=True, cwd=tmp_path)
    assert report.runs == "2.1.310" and installs(npm) == ["2.1.310"] and gw.calls == ["2.1.310", "2.1.310"]
    assert report.tell is not None and "newest 2.1.320" in report.tell and "pinman check chan" in report.tell
    assert check_channel(pinman_home, p, periodic=True, cwd=tmp_path).tell is None  # told once


def test_periodic_with_auto_promotes_and_leaves_a_notice(pinman_home: Paths, registry: Any, npm: Path,
                                                          gw: Gateway, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    from pinman.autopilot.files import HookFiles
    from pinman.autopilot.notices import unseen
    from pinman.runtime.choice import write_global

    registry[CLAUDE_CODE] = claude_doc({"2.1.310": 30}, "2.1.310")
    profile(pinman_home, extra='[health]\ninterval = "1s"')
    code, out, err = run("use", "chan", capsys=capsys)
    assert code == 0, err
    write_global(pinman_home, "chan")
    registry[CLAUDE_CODE] = claude_doc({"2.1.310": 30, "2.1.320": 9}, "2.1.320")
    time.sleep(1.1)
    code, out, err = run("check", "--if-due", "--all", capsys=capsys)
    assert code == 0, err
    assert get_channel(pinman_home, "chan", None).version == "2.1.320"
    lines = unseen(HookFiles(pinman_home))
    assert any(ln.startswith("pinman: chan moved to 2.1.320, verified at 127.0.0.1:4000 (periodic check")
               for ln in lines), lines


def test_periodic_skips_while_another_promotion_runs(pinman_home: Paths, registry: Any, npm: Path,
                                                     gw: Gateway, tmp_path: Path) -> None:
    from filelock import FileLock

    registry[CLAUDE_CODE] = claude_doc({"2.1.310": 30}, "2.1.310")
    p = profile(pinman_home)
    first_choice(pinman_home, p, cwd=tmp_path)
    registry[CLAUDE_CODE] = claude_doc({"2.1.310": 30, "2.1.320": 9}, "2.1.320")
    with FileLock(str(pinman_home.lock("promotion"))):
        report = check_channel(pinman_home, p, periodic=True, cwd=tmp_path)
    assert report.runs == "2.1.310" and "another promotion" in report.stopped and installs(npm) == ["2.1.310"]


# --------------------------------------------------------------------------- the profile and its spec


def test_a_widened_range_keeps_what_runs_a_changed_tag_chooses_again(pinman_home: Paths, registry: Any,
                                                                     npm: Path, gw: Gateway,
                                                                     tmp_path: Path) -> None:
    p = profile(pinman_home, spec=">=2.1.300 <2.1.315")
    assert first_choice(pinman_home, p, cwd=tmp_path).runs == "2.1.310"
    wider = profile(pinman_home, spec=">=2.1.300 <2.2")
    assert target(pinman_home, wider).version == "2.1.310"
    narrower = profile(pinman_home, spec=">=2.1.320 <2.2")
    with pytest.raises(ChannelUnset):
        target(pinman_home, narrower)
    marked = profile(pinman_home, extra='bad = [{ version = "2.1.310", reason = "x" }]')
    with pytest.raises(ChannelUnset):
        target(pinman_home, marked)


def test_policy_pin_keeps_npm_resolution(pinman_home: Paths, registry: Any) -> None:
    f = pinman_home.user_profiles / "plain.toml"
    f.parent.mkdir(parents=True, exist_ok=True)
    f.write_text('[claude-code]\nversion = "latest"\n[update]\npolicy = "pin"\nsoak = "7d"\n')
    p = find_profile("plain", Path(os.sep), pinman_home)
    assert not is_guarded(pinman_home, p)
    assert target(pinman_home, p).version == "2.1.340"  # the newest, however young


def test_a_lock_pauses_the_channel_and_lock_writes_what_runs_here(pinman_home: Paths, registry: Any,
                                                                   npm: Path, gw: Gateway, tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    repo = tmp_path / "repo"
    (repo / "profiles").mkdir(parents=True)
    (repo / ".pinman.toml").write_text('profile = "team"\n')
    text = '[claude-code]\nversion = "latest"\n[update]\npolicy = "guarded"\nsoak = "7d"\n'
    (repo / "profiles" / "team.toml").write_text(text)
    monkeypatch.chdir(repo)
    code, out, err = run("use", "--local", "team", capsys=capsys)
    # untrusted: the guarded channel resolves as a plain pin (npm's latest), said once
    assert code == 0 and "claude 2.1.340" in out and '[update] resolves as policy = "pin"' in err, (out, err)
    assert gw.calls == [] and read_channels(pinman_home) == {}
    assert run("trust", capsys=capsys)[0] == 0
    code, out, err = run("use", "--local", "team", capsys=capsys)
    assert code == 0 and "claude 2.1.330" in out and gw.calls == ["2.1.330"], (out, err)
    code, out, err = run("lock", "team", capsys=capsys)
    assert code == 0, err
    team = find_profile("team", repo, pinman_home)
    assert (team.claude_code.locked, team.claude_code.integrity) == ("2.1.330", sri("2.1.330"))
    assert not is_guarded(pinman_home, team) and target(pinman_home, team).version == "2.1.330"
    code, _, err = run("upgrade", "team", "--dry-run", capsys=capsys)
    assert code == 0, err  # a locked channel's lock moves with upgrade, as any lock does
    # CI: the lock is what the channel verified, not npm's pick, so a newer `latest` is no drift
    code, out, err = run("sync", "--frozen", capsys=capsys)
    assert code == 0 and "team: 2.1.330" in out, (out, err)


def test_upgrade_refuses_a_guarded_channel(pinman_home: Paths, registry: Any, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    repo = tmp_path / "repo"
    (repo / "profiles").mkdir(parents=True)
    (repo / ".pinman.toml").write_text('profile = "team"\n')
    (repo / "profiles" / "team.toml").write_text('[claude-code]\nversion = "latest"\n[update]\npolicy = "guarded"\n')
    monkeypatch.chdir(repo)
    assert run("trust", capsys=capsys)[0] == 0
    code, _, err = run("upgrade", "team", capsys=capsys)
    assert code == 2 and "is a guarded channel" in err and "pinman lock team" in err


# --------------------------------------------------------------------------- views


def test_status_show_and_outdated_say_what_runs_waits_and_was_refused(pinman_home: Paths, registry: Any,
                                                                      npm: Path, gw: Gateway, tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    profile(pinman_home, soak="7d")
    gw.answers["2.1.330"] = schema
    code, out, err = run("use", "chan", capsys=capsys)
    assert code == 0 and "claude 2.1.320" in out and "refused: 2.1.330 (thinking rejected" in out, (out, err)
    code, out, _ = run("status", "--json", capsys=capsys)
    row = next(r for r in json.loads(out) if r["name"] == "chan")
    ch = row["channel"]
    assert (row["version"], ch["runs"], ch["verified"], ch["verified_at"], ch["candidates"]) == (
        "2.1.320", "2.1.320", True, EP, [])
    assert [w["version"] for w in ch["waiting"]] == ["2.1.340"] and ch["waiting"][0]["ready_at"] > time.time()
    assert [(r["version"], r["rejected"], r["event"]) for r in ch["refused"]] == [("2.1.330", "thinking", "refused")]
    assert time.time() - ch["since"] < 60
    code, out, _ = run("status", capsys=capsys)
    assert "* chan: 2.1.320  guarded >=2.1.300 <2.2  last check" in out, out  # not "pinned": promotions move it
    line = next(ln for ln in out.splitlines() if ln.strip().startswith("channel:"))
    assert "guarded >=2.1.300 <2.2 (soak 7d, auto): 2.1.320 promoted just now, verified at 127.0.0.1:4000" in line
    assert "waiting: 2.1.340 (soak until " in line and "refused: 2.1.330 (thinking)" in line
    code, out, _ = run("show", "chan", capsys=capsys)
    assert "2.1.320 promoted just now" in out and "refused: 2.1.330 (thinking)" in out
    code, out, _ = run("outdated", "--all", "--json", capsys=capsys)
    row = next(r for r in json.loads(out) if r["name"] == "chan")
    assert (row["runs"], row["newest"], row["outdated"]) == ("2.1.320", "2.1.320", False)
    assert row["why"] == "2.1.340 soaks; 2.1.320 is the newest verified here"


def test_reads_are_offline(pinman_home: Paths, registry: Any, npm: Path, gw: Gateway, tmp_path: Path,
                           monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    profile(pinman_home, soak="7d")
    assert run("use", "chan", capsys=capsys)[0] == 0
    registry.pop(CLAUDE_CODE)  # asked now, the registry would answer 404
    code, out, _ = run("status", "--json", capsys=capsys)
    ch = next(r for r in json.loads(out) if r["name"] == "chan")["channel"]
    assert code == 0 and [w["version"] for w in ch["waiting"]] == ["2.1.340"] and ch["problem"] is None


# --------------------------------------------------------------------------- the channels file


@pytest.mark.parametrize("text", [
    "", "{", "[]", '{"schema": 1, "channels": []}', '{"channels": {"x": 1}}',
    '{"channels": {"x": {"version": "../../etc", "spec": "latest"}}}',
    '{"channels": {"x": {"version": "2.1.1", "spec": 5}}}',
    '{"channels": {"x": {"version": "2.1.1\\n", "spec": "latest"}}}',
])
def test_a_channels_file_is_read_as_untrusted_input(pinman_home: Paths, text: str) -> None:
    pinman_home.state.mkdir(parents=True, exist_ok=True)
    pinman_home.channels.write_text(text)
    try:
        found = read_channels(pinman_home)
    except Exception as e:  # noqa: BLE001
        from pinman.errors import PinmanError

        assert isinstance(e, PinmanError) and str(pinman_home.channels) in e.message
        return
    assert found == {}


def test_channel_records_keep_only_what_is_well_formed(pinman_home: Paths) -> None:
    pinman_home.state.mkdir(parents=True, exist_ok=True)
    pinman_home.channels.write_text(json.dumps({"schema": 1, "channels": {"a": {
        "version": "2.1.1", "spec": "latest", "since": "yesterday", "previous": "../x", "endpoint": 7,
        "verified": "yes", "fetched": ["2.1.0", "../y", 3, "2.1.0"], "noticed": "2.1.2"}}}))
    assert read_channels(pinman_home) == {"a": ChannelState("2.1.1", "latest", 0.0, None, None, False,
                                                            ("2.1.0",), "2.1.2")}


def test_channel_writes_are_atomic_and_private(pinman_home: Paths) -> None:
    state = ChannelState("2.1.1", "latest", 1.0, verified=True, endpoint=EP)
    update_channel(pinman_home, "a", None, lambda old: state)
    update_channel(pinman_home, "b", Path("/repo"), lambda old: state)
    assert read_channels(pinman_home) == {"a": state, "/repo::b": state}
    assert pinman_home.channels.stat().st_mode & 0o777 == 0o600
    assert not list(pinman_home.state.glob(".channels.json.*"))
    update_channel(pinman_home, "a", None, lambda old: None)
    assert set(read_channels(pinman_home)) == {"/repo::b"}


# --------------------------------------------------------------------------- publish times from the registry


@pytest.fixture
def npmjs_like(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """A loopback registry that answers as registry.npmjs.org does: the abbreviated document (what
    npm installs from) has no `time`; the full one (Accept: application/json) has it."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    state: dict[str, Any] = {"doc": claude_doc({"2.1.310": 30, "2.1.320": 9}, "2.1.320"), "asked": [],
                             "full_status": 200}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            full = not self.headers.get("Accept", "").startswith("application/vnd.npm.install-v1+json")
            state["asked"].append("full" if full else "abbreviated")
            doc = dict(state["doc"])
            if not full:
                doc.pop("time")
            body = json.dumps(doc).encode()
            self.send_response(state["full_status"] if full else 200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    monkeypatch.setenv("npm_config_registry", f"http://127.0.0.1:{server.server_address[1]}/")
    yield state
    server.shutdown()
    server.server_close()


def test_publish_times_come_from_the_full_document_once(pinman_home: Paths, npmjs_like: dict[str, Any]) -> None:
    from pinman.npm.registry import Registry

    times, problem = Registry(pinman_home).publish_times(CLAUDE_CODE)
    assert problem is None and set(times) == {"2.1.310", "2.1.320"}
    assert abs(times["2.1.320"] - (NOW - 9 * DAY)) < 1
    assert npmjs_like["asked"] == ["abbreviated", "full"]
    # a version's time never changes: asked again only when a version without one appears
    Registry(pinman_home).publish_times(CLAUDE_CODE)
    assert npmjs_like["asked"] == ["abbreviated", "full", "abbreviated"]
    npmjs_like["doc"] = claude_doc({"2.1.310": 30, "2.1.320": 9, "2.1.330": 1}, "2.1.330")
    times, _ = Registry(pinman_home).publish_times(CLAUDE_CODE)
    assert "2.1.330" in times and npmjs_like["asked"][-2:] == ["abbreviated", "full"]
    # read commands: from the cache only
    asked = len(npmjs_like["asked"])
    assert set(Registry(pinman_home, offline=True).publish_times(CLAUDE_CODE)[0]) == {"2.1.310", "2.1.320", "2.1.330"}
    assert len(npmjs_like["asked"]) == asked


def test_without_the_full_document_the_times_known_are_used_and_why_is_said(
        pinman_home: Paths, npmjs_like: dict[str, Any]) -> None:
    from pinman.npm.registry import Registry

    npmjs_like["full_status"] = 500
    times, problem = Registry(pinman_home).publish_times(CLAUDE_CODE)
    assert times == {} and problem is not None and "HTTP 500 for the full document" in problem
    # with a soak, a release of unknown age waits (and says so); without one it is a candidate
    p = profile(pinman_home, soak="1d")
    from pinman.runtime.channel import candidates

    found, why = candidates(pinman_home, p, Registry(pinman_home), EP)
    assert found.eligible == () and [s.ready_at for s in found.soaking] == [None, None] and "HTTP 500" in why
    p = profile(pinman_home, soak="0h")
    assert candidates(pinman_home, p, Registry(pinman_home), EP)[0].eligible == ("2.1.320", "2.1.310")


# --------------------------------------------------------------------------- trust of [update]


def test_update_in_a_project_profile_waits_for_trust(pinman_home: Paths, tmp_path: Path) -> None:
    from pinman.profile import trust
    from pinman.profile.model import UpdateConfig

    repo = tmp_path / "repo"
    (repo / "profiles").mkdir(parents=True)
    (repo / ".pinman.toml").write_text('profile = "team"\n')
    guarded = '[claude-code]\nversion = "latest"\n[update]\npolicy = "guarded"\nsoak = "1d"\nauto = true\n'
    (repo / "profiles" / "team.toml").write_text(guarded)
    (repo / "profiles" / "plain.toml").write_text('[claude-code]\nversion = "latest"\n[update]\npolicy = "pin"\n')
    team, plain = find_profile("team", repo, pinman_home), find_profile("plain", repo, pinman_home)
    assert trust.guarded_parts(team) == ["[update] policy", "[update] soak", "[update] auto"]
    assert not trust.needs_trust(plain)
    assert trust.applied_update(pinman_home, team) == UpdateConfig() and not is_guarded(pinman_home, team)
    notice = trust.withheld_notice(team)
    assert "sets [update] policy, [update] soak, [update] auto but this project is not trusted" in notice
    assert '[update] resolves as policy = "pin" (no release is downloaded or probed for it)' in notice
    trust.trust_project(pinman_home, repo)
    assert trust.applied_update(pinman_home, team) == team.update and is_guarded(pinman_home, team)
    # any other edit of [update] needs trust again; pinman's own edits of the pin keep it
    before = (repo / "profiles" / "team.toml").read_bytes()
    assert not trust._same_env(before, before.replace(b'soak = "1d"', b'soak = "0h"'))
    assert trust._same_env(before, before.replace(b'version = "latest"', b'version = "latest"\nlocked = "2.1.1"'))


def test_current_of_a_guarded_profile_stays_light(pinman_home: Paths, tmp_path: Path) -> None:
    """`pinman current` runs in shell prompts: a guarded profile reads the channels file, never
    the journal, the registry or typer."""
    import subprocess

    profile(pinman_home)
    update_channel(pinman_home, "chan", None, lambda old: ChannelState("2.1.330", ">=2.1.300 <2.2", time.time(),
                                                                      endpoint=EP, verified=True))
    code = ("import sys\nfrom pinman.cli.main import main\ntry:\n    main(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
            "print(sorted(m for m in ('sqlite3', 'requests', 'typer', 'tomlkit') if m in sys.modules), file=sys.stderr)\n")
    done = subprocess.run([sys.executable, "-c", code, "current", "--json"], env={**os.environ, "PINMAN_PROFILE": "chan"},
                          capture_output=True, text=True, cwd=tmp_path)
    doc = json.loads(done.stdout)
    assert (doc["version"], doc["why"]) == ("2.1.330", ">=2.1.300 <2.2, guarded: 2.1.330 promoted just now, "
                                                      "verified at 127.0.0.1:4000")
    assert done.stderr.splitlines()[-1] == "[]", done.stderr
