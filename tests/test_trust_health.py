"""An untrusted project's `[health]` does not decide when, how long, how or whether pinman probes or
acts: every `trust.ACTING` key takes the user's own value (their profile of that name), else the
default, until `pinman trust`."""

from __future__ import annotations

import dataclasses
import json
import time
import typing
from pathlib import Path
from typing import Any, Callable

import pytest
from cli_support import pinman

from pinman.autopilot.files import HookFiles
from pinman.autopilot.notices import note_checked
from pinman.fingerprint.fakeapi import FakeAPI
from pinman.health.manual import BY_HAND
from pinman.health.recovery import recoverable
from pinman.health.result import ProbeResult
from pinman.health.rollback import check, due
from pinman.paths import Paths
from pinman.profile import trust
from pinman.profile.discovery import find_profile
from pinman.profile.model import HealthConfig, Profile
from pinman.runtime import resolution
from pinman.runtime.resolution import withheld
from pinman.state.journal import Entry, Journal
from pinman.state.overrides import Override, profile_key

V2 = "2.1.331"
STEERING = ('interval = "1s"\ntimeout = 100000\nprobe = "http"\nauto_rollback = false\n'
            'auto_recover = false\nprompt = "INJECTED"\nmodel = "x-model"\nremedies = "all"\n')


def _project(tmp_path: Path, health: str = STEERING) -> Path:
    repo = tmp_path / "repo"
    (repo / "profiles").mkdir(parents=True, exist_ok=True)
    (repo / ".pinman.toml").write_text('profile = "team"\n')
    (repo / "profiles" / "team.toml").write_text(f'[claude-code]\nversion = "{V2}"\n\n[health]\n{health}')
    return repo


def _team(paths: Paths, repo: Path) -> Profile:
    return find_profile("team", repo, paths)


def test_every_health_key_and_every_acting_table_is_classified() -> None:
    """A key added to [health] (or a new table of settings beside it) must be named in
    `trust.ACTING`, or an untrusted project steers it: this fails until it is."""
    assert set(trust.ACTING["health"]) == {f.name for f in dataclasses.fields(HealthConfig)}
    hints = typing.get_type_hints(Profile)
    free = {"claude_code", "sdk"}  # pins apply freely; [sdk] is withheld whole
    for f in dataclasses.fields(Profile):
        kind = next((a for a in (hints[f.name], *typing.get_args(hints[f.name])) if dataclasses.is_dataclass(a)),
                    None)
        if kind is None or f.name in free:
            continue
        table = f.name.replace("_", "-") if f.name.replace("_", "-") in trust.ACTING else f.name
        assert set(trust.ACTING.get(table, ())) == {g.name for g in dataclasses.fields(kind)}, table


def test_untrusted_acting_keys_take_the_defaults_and_are_named(pinman_home: Paths, tmp_path: Path) -> None:
    repo = _project(tmp_path)
    profile = _team(pinman_home, repo)
    assert trust.needs_trust(profile) and not trust.is_trusted(pinman_home, profile)
    assert trust.applied_health(pinman_home, profile) == HealthConfig()
    notice = withheld(pinman_home, profile)
    assert notice is not None and "\n" not in notice
    for key in trust.ACTING["health"]:
        assert f"[health] {key}" in notice
    assert "your own team profile's, else the defaults" in notice and "pinman trust" in notice

    done = trust.trust_project(pinman_home, repo)
    assert done[0].keys == tuple(f"[health] {k}" for k in trust.ACTING["health"])
    trusted = trust.applied_health(pinman_home, _team(pinman_home, repo))
    assert (trusted.interval, trusted.timeout, trusted.probe, trusted.auto_rollback, trusted.auto_recover,
            trusted.remedies) == (1.0, 100000.0, "http", False, False, "all")


@pytest.mark.parametrize("key, value, written", [
    ("interval", 1.0, '"1s"'), ("timeout", 100000.0, "100000"), ("probe", "http", '"http"'),
    ("auto_rollback", False, "false"), ("auto_recover", False, "false"), ("prompt", "X", '"X"'),
    ("model", "m", '"m"'), ("remedies", "all", '"all"'), ("remedies", "off", '"off"')])
def test_each_acting_key_alone_waits_for_trust(pinman_home: Paths, tmp_path: Path, key: str, value: Any,
                                               written: str) -> None:
    repo = _project(tmp_path, f"{key} = {written}\n")
    profile = _team(pinman_home, repo)
    assert trust.guarded_parts(profile) == [f"[health] {key}"]
    assert getattr(trust.applied_health(pinman_home, profile), key) == getattr(HealthConfig(), key)
    trust.trust_project(pinman_home, repo)
    assert getattr(trust.applied_health(pinman_home, _team(pinman_home, repo)), key) == value


def test_the_users_own_profile_of_that_name_gives_the_values(pinman_home: Paths, tmp_path: Path) -> None:
    """What runs without the project's file: the user's own `team`, with its own [health]."""
    pinman_home.user_profiles.mkdir(parents=True)
    (pinman_home.user_profiles / "team.toml").write_text(
        '[claude-code]\nversion = "1.0.100"\n\n[health]\ninterval = "2h"\ntimeout = 90\nauto_rollback = false\n')
    repo = _project(tmp_path)
    health = trust.applied_health(pinman_home, _team(pinman_home, repo))
    assert (health.interval, health.timeout, health.auto_rollback) == (7200.0, 90.0, False)
    assert (health.probe, health.auto_recover, health.prompt) == ("cli", True, HealthConfig.prompt)

    (pinman_home.user_profiles / "team.toml").write_text("not toml [")  # broken: the defaults
    assert trust.applied_health(pinman_home, _team(pinman_home, repo)) == HealthConfig()


def test_pinmans_own_edit_of_an_acting_key_needs_trust_again(pinman_home: Paths, tmp_path: Path) -> None:
    from pinman.profile.edit import update_profile

    repo = _project(tmp_path, 'timeout = 90\n')
    path = repo / "profiles" / "team.toml"
    trust.trust_project(pinman_home, repo)
    before = path.read_bytes()
    update_profile(path, {"health.interval": "1s"})
    assert not trust.carry_over(pinman_home, path, before)
    assert trust.applied_health(pinman_home, _team(pinman_home, repo)).interval == HealthConfig.interval


# ------------------------------------------------------------ every place that acts reads the applied value


def _checked(paths: Paths, profile: Profile, ago: float) -> float:
    ts = time.time() - ago
    Journal(paths).append(Entry("check", profile_key(profile.name, profile.project_root), V2,
                                endpoint="http://127.0.0.1:4000", outcome="ok", ts=ts))
    return ts


def test_periodic_due_and_next_due_use_the_applied_interval(pinman_home: Paths, tmp_path: Path) -> None:
    repo = _project(tmp_path)
    profile = _team(pinman_home, repo)
    ts = _checked(pinman_home, profile, ago=60)
    assert not due(pinman_home, profile)
    files = HookFiles(pinman_home)
    note_checked(files, [profile])
    assert int(files.next_due.read_text()) == int(ts + HealthConfig.interval)

    trust.trust_project(pinman_home, repo)
    profile = _team(pinman_home, repo)
    assert due(pinman_home, profile)
    note_checked(files, [profile])
    assert int(files.next_due.read_text()) == int(ts + 1)


SCHEMA = ('API Error: 400 {"type":"error","error":{"type":"invalid_request_error",'
          '"message":"thinking: Extra inputs are not permitted"}}')


def _schema(version: str) -> ProbeResult:
    return ProbeResult("cli", 1, 400, "invalid_request_error", SCHEMA, 0.1, is_error=True)


def test_untrusted_auto_rollback_false_does_not_switch_the_policy_off(
        pinman_home: Paths, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(resolution, "ensure_installed", lambda *a, **k: None)
    repo = _project(tmp_path, "auto_rollback = false\n")
    r = check(pinman_home, _team(pinman_home, repo), prober=_schema)
    assert r.action == "no-known-good"  # the policy ran (the default): not "reported"
    trust.trust_project(pinman_home, repo)
    r = check(pinman_home, _team(pinman_home, repo), prober=_schema)
    assert (r.action, r.detail) == ("reported", "auto_rollback is off: nothing changed")


def test_untrusted_auto_recover_false_does_not_keep_an_override(
        pinman_home: Paths, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from pinman.state.overrides import get_override, set_override

    monkeypatch.setattr(resolution, "ensure_installed", lambda *a, **k: None)
    repo = _project(tmp_path, "auto_recover = false\n")
    ok = lambda v: ProbeResult("cli", 0, None, None, "OK", 0.1, is_error=False)  # noqa: E731
    rolled = Override("1.0.100", V2, "thinking rejected", 1.0, pin_spec=V2, pin_version=V2)

    set_override(pinman_home, "team", repo, rolled)
    assert check(pinman_home, _team(pinman_home, repo), prober=ok).action == "recovered"  # the default
    trust.trust_project(pinman_home, repo)
    set_override(pinman_home, "team", repo, rolled)
    assert check(pinman_home, _team(pinman_home, repo), prober=ok).action == "ok"
    assert get_override(pinman_home, "team", repo) is not None


def test_untrusted_probe_and_auto_recover_do_not_decide_recovery(pinman_home: Paths, tmp_path: Path) -> None:
    ov = Override("1.0.100", V2, "thinking rejected", 1.0, pin_version=V2)
    repo = _project(tmp_path, 'probe = "http"\n')
    assert recoverable(pinman_home, _team(pinman_home, repo), ov)
    assert not recoverable(pinman_home, _team(pinman_home, repo), dataclasses.replace(ov, reason=BY_HAND))
    trust.trust_project(pinman_home, repo)
    assert not recoverable(pinman_home, _team(pinman_home, repo), ov)


def test_untrusted_timeout_and_probe_do_not_reach_the_probe(
        pinman_home: Paths, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from pinman.health import cli_probe, http_probe
    from pinman.health.prober import make_prober
    from pinman.health.result import Waiting

    seen: list[tuple[str, float]] = []

    def fake(kind: str) -> Callable[..., ProbeResult]:
        def probe(*args: object, **kwargs: Any) -> ProbeResult:
            seen.append((kind, kwargs["timeout"]))
            return ProbeResult(kind, 0, None, None, "OK", 0.1, is_error=False)
        return probe

    monkeypatch.setattr(cli_probe, "probe_cli", fake("cli"))
    monkeypatch.setattr(http_probe, "probe_http", fake("http"))
    monkeypatch.setattr("pinman.runtime.resolution.installed",
                        lambda paths, v: type("I", (), {"binary": Path("/bin/true")}))
    repo = _project(tmp_path, 'timeout = 100000\nprobe = "http"\n')
    limits: list[float] = []
    meter = lambda w: limits.append(w.timeout)  # noqa: E731 - what the terminal shows as the limit
    make_prober(pinman_home, _team(pinman_home, repo), {}, waiting=meter)(V2)
    assert seen[-1] == ("cli", HealthConfig.timeout) and set(limits) == {HealthConfig.timeout}
    trust.trust_project(pinman_home, repo)
    make_prober(pinman_home, _team(pinman_home, repo), {}, waiting=meter)(V2)
    assert seen[-1] == ("http", 100000.0)
    assert Waiting  # the meter's type: one per tick


def test_bisect_judges_the_applied_probe(pinman_home: Paths, tmp_path: Path) -> None:
    from pinman.bisect.driver import run
    from pinman.errors import PinmanError, UsageError

    repo = _project(tmp_path, 'probe = "http"\n')
    with pytest.raises(PinmanError) as e:  # untrusted: the CLI probe, so it gets further
        run(pinman_home, _team(pinman_home, repo), environ={}, published=[])
    assert "needs the CLI probe" not in e.value.message
    trust.trust_project(pinman_home, repo)
    with pytest.raises(UsageError, match="needs the CLI probe.*'http'"):
        run(pinman_home, _team(pinman_home, repo), environ={}, published=[])


# ------------------------------------------------------------ end to end: the periodic check of the real client


@pytest.mark.e2e
def test_untrusted_interval_makes_no_check_due_until_trusted(
        pinman_home: Paths, seeded_home: Callable[..., object], tmp_path: Path) -> None:
    """`interval = "1s"` in an untrusted project: `check --if-due` (what the SessionStart hook
    starts) probes nothing and the hook's next-due stays the default interval away; after
    `pinman trust` the project's interval decides."""
    seeded_home(V2)
    repo = _project(tmp_path, 'interval = "1s"\ntimeout = 100000\n')
    files = HookFiles(pinman_home)
    key = profile_key("team", repo)

    def checks() -> list[float]:
        return [e.ts for e in Journal(pinman_home).entries() if e.event == "check" and e.profile == key]

    with FakeAPI("ok") as api:
        r = pinman(pinman_home, repo, "check", "--isolated-home", ANTHROPIC_BASE_URL=api.url)
        assert r.code == 0 and "[health] interval" in r.err, r.text
        assert len(checks()) == 1 and api.messages_requests()
        assert int(files.next_due.read_text()) >= int(checks()[0] + HealthConfig.interval)
        time.sleep(1.2)  # older than the project's 1 s, far younger than anyone's own interval
        api.clear()
        r = pinman(pinman_home, repo, "check", "--if-due", "--isolated-home", ANTHROPIC_BASE_URL=api.url)
        assert (r.code, r.out) == (0, ""), r.text
        assert len(checks()) == 1 and not api.messages_requests()
        assert int(files.next_due.read_text()) >= int(checks()[0] + HealthConfig.interval)

        assert pinman(pinman_home, repo, "trust").code == 0
        r = pinman(pinman_home, repo, "check", "--if-due", "--isolated-home", ANTHROPIC_BASE_URL=api.url)
        assert r.code == 0, r.text
        assert len(checks()) == 2 and api.messages_requests()
        assert int(files.next_due.read_text()) <= int(checks()[-1] + 1)
    doc = json.loads((pinman_home.trust).read_text())
    assert doc["files"][str(repo / "profiles" / "team.toml")]["keys"] == ["[health] timeout", "[health] interval"]
