"""The rollback policy, branch by branch, with a scripted prober (no real client)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from pinman.runtime import resolution
from pinman.runtime.pointers import Pointer, pointer_path, pointers, write_pointer
from pinman.state.overrides import get_override
from pinman.install.layout import validate_version
from pinman.errors import ExitCode, PinmanError
from pinman.health.result import ProbeResult
from pinman.state.journal import Entry, Journal
from pinman.paths import Paths
from pinman.profile.discovery import find_profile
from pinman.health.rollback import check
from pinman.health.manual import manual_rollback, reset
from pinman.profile.discovery import find_profile
from pinman.health.rollback import check
from pinman.health.manual import manual_rollback, reset

EP = "http://127.0.0.1:4000"
SCHEMA_BODY = ('API Error: 400 {"type":"error","error":{"type":"invalid_request_error",'
               '"message":"thinking: Extra inputs are not permitted"}}')


def ok() -> ProbeResult:
    return ProbeResult("cli", 0, None, None, "OK", 0.1, is_error=False)


def schema() -> ProbeResult:
    return ProbeResult("cli", 1, 400, "invalid_request_error", SCHEMA_BODY, 0.1, is_error=True)


def overloaded() -> ProbeResult:
    return ProbeResult("cli", 1, 529, "overloaded_error", "API Error: 529 Overloaded", 0.1, is_error=True)


def auth() -> ProbeResult:
    return ProbeResult("cli", 1, 401, "authentication_error", "Invalid API key · Fix external API key", 0.1,
                       is_error=True)


class Script:
    """version -> result; records the order of probes."""

    def __init__(self, answers: dict[str, Any]) -> None:
        self.answers = answers
        self.calls: list[str] = []

    def __call__(self, version: str) -> ProbeResult:
        self.calls.append(version)
        return self.answers[version]()


@pytest.fixture
def team(pinman_home: Paths, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Any:
    monkeypatch.setenv("ANTHROPIC_BASE_URL", EP + "/")
    monkeypatch.setattr(resolution, "ensure_installed", lambda *a, **k: None)
    p = pinman_home.user_profiles / "team.toml"
    p.parent.mkdir(parents=True)
    p.write_text('[claude-code]\nversion = "2.1.331"\n')
    return find_profile("team", tmp_path, pinman_home)


def _good(paths: Paths, version: str, ts: float = 1.0) -> None:
    Journal(paths).append(Entry("check", "team", version, endpoint=EP + "", outcome="ok", ts=ts))


def test_ok_is_recorded_as_known_good(pinman_home: Paths, team: Any) -> None:
    r = check(pinman_home, team, prober=Script({"2.1.331": ok}))
    assert (r.action, r.exit_code, r.rollback) == ("ok", ExitCode.OK, None)
    kg = Journal(pinman_home).last_known_good("team", EP)
    assert kg is not None and kg.version == "2.1.331"


def test_schema_rolls_back_to_last_known_good_after_reprobing_it(pinman_home: Paths, team: Any) -> None:
    _good(pinman_home, "1.0.90", ts=1)
    _good(pinman_home, "1.0.100", ts=2)
    probe = Script({"2.1.331": schema, "1.0.100": ok})
    r = check(pinman_home, team, prober=probe)
    assert probe.calls == ["2.1.331", "1.0.100"]  # the target is re-probed before any switch
    assert r.action == "rolled-back" and r.exit_code == ExitCode.ROLLED_BACK
    assert r.rollback == {"from": "2.1.331", "to": "1.0.100"}
    assert r.outcome.rejected == "thinking"
    ov = get_override(pinman_home, "team", None)
    assert ov is not None and ov.version == "1.0.100" and ov.previous == "2.1.331"
    assert "thinking" in ov.reason
    assert resolution.target(pinman_home, team).version == "1.0.100"
    assert team.path.read_text() == '[claude-code]\nversion = "2.1.331"\n'  # never edits the profile
    events = [e.event for e in Journal(pinman_home).history("team")]
    assert events[:3] == ["rollback", "check", "check"]


def test_known_good_failing_too_means_the_endpoint_changed(pinman_home: Paths, team: Any) -> None:
    _good(pinman_home, "1.0.100")
    r = check(pinman_home, team, prober=Script({"2.1.331": schema, "1.0.100": schema}))
    assert r.action == "endpoint-changed" and r.exit_code == ExitCode.BROKEN
    assert "endpoint changed" in r.detail
    assert get_override(pinman_home, "team", None) is None


def test_no_known_good_points_at_manual_options(pinman_home: Paths, team: Any) -> None:
    r = check(pinman_home, team, prober=Script({"2.1.331": schema}))
    assert r.action == "no-known-good" and r.exit_code == ExitCode.BROKEN
    assert "pinman rollback team --to" in r.detail and "bisect" in r.detail


def test_known_good_elsewhere_does_not_count(pinman_home: Paths, team: Any) -> None:
    Journal(pinman_home).append(Entry("check", "team", "1.0.100", endpoint="https://other:443", outcome="ok"))
    r = check(pinman_home, team, prober=Script({"2.1.331": schema}))
    assert r.action == "no-known-good"


@pytest.mark.parametrize("result, kind", [(overloaded, "overloaded"), (auth, "auth")])
def test_non_schema_failures_never_roll_back(pinman_home: Paths, team: Any, result: Any, kind: str) -> None:
    _good(pinman_home, "1.0.100")
    probe = Script({"2.1.331": result, "1.0.100": ok})
    r = check(pinman_home, team, prober=probe)
    assert probe.calls == ["2.1.331"]
    assert r.outcome.kind.value == kind and r.action == "not-client" and r.exit_code == ExitCode.NOT_CLIENT
    assert get_override(pinman_home, "team", None) is None


def test_auto_rollback_off_only_reports(pinman_home: Paths, team: Any) -> None:
    _good(pinman_home, "1.0.100")
    r = check(pinman_home, team, prober=Script({"2.1.331": schema}), auto_rollback=False)
    assert r.action == "reported" and get_override(pinman_home, "team", None) is None


def test_manual_rollback_and_reset(pinman_home: Paths, team: Any) -> None:
    _good(pinman_home, "1.0.100")
    assert manual_rollback(pinman_home, team, None) == ("2.1.331", "1.0.100")
    assert resolution.target(pinman_home, team).version == "1.0.100"
    assert manual_rollback(pinman_home, team, "1.0.90") == ("1.0.100", "1.0.90")
    assert reset(pinman_home, team) == "1.0.90"
    assert resolution.target(pinman_home, team).version == "2.1.331"
    with pytest.raises(PinmanError, match="exact version"):
        manual_rollback(pinman_home, team, "^1")


def test_manual_rollback_without_known_good_says_how(pinman_home: Paths, team: Any) -> None:
    with pytest.raises(PinmanError, match="no known-good"):
        manual_rollback(pinman_home, team, None)


def test_rollback_restores_the_sdk_that_was_known_good_with_the_cli(
        pinman_home: Paths, team: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from pinman.health import rollback
    from pinman.runtime import sdk_env

    monkeypatch.setattr(rollback, "sdk_version", lambda paths, profile: "1.13.0")
    installed: list[str] = []
    monkeypatch.setattr(rollback, "_install_sdk", lambda paths, profile, v: installed.append(v))
    Journal(pinman_home).append(Entry("check", "team", "1.0.100", endpoint=EP, outcome="ok", sdk_version="0.40.0"))
    calls: list[tuple[str, str | None]] = []

    def probe(version: str, sdk_version: str | None = None) -> ProbeResult:
        calls.append((version, sdk_version))
        return schema() if version == "2.1.331" else ok()

    r = check(pinman_home, team, prober=probe)
    assert calls == [("2.1.331", None), ("1.0.100", "0.40.0")]  # the known-good *pair* is re-probed
    assert installed == ["0.40.0"]
    assert r.rollback == {"from": "2.1.331", "to": "1.0.100", "sdk_from": "1.13.0", "sdk_to": "0.40.0"}
    ov = get_override(pinman_home, "team", None)
    assert ov is not None and (ov.version, ov.sdk_version) == ("1.0.100", "0.40.0")
    assert sdk_env.override_version(pinman_home, team) == "0.40.0"
    latest = Journal(pinman_home).history("team")
    assert (latest[0].event, latest[0].sdk_version) == ("rollback", "0.40.0")
    assert (latest[2].version, latest[2].sdk_version) == ("2.1.331", "1.13.0")  # checks record both


def test_repoint_turns_a_refused_pointer_write_into_a_fresh_resolve(pinman_home: Paths, tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """A pointer that cannot be rewritten (here: the system refuses with EISDIR) is dropped, so the
    shim resolves again; one that cannot be dropped either is one error line, never a traceback."""
    import errno

    from pinman.errors import SystemProblem, from_os_error

    src = tmp_path / "legacy.toml"
    src.write_text('[claude-code]\nversion = "1.0.100"\n')
    ptr = write_pointer(pinman_home, tmp_path, Pointer("legacy", "1.0.100", tmp_path, src, {}))
    assert pointers(pinman_home, "legacy") == [(ptr, tmp_path)]

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise IsADirectoryError(errno.EISDIR, "Is a directory", str(ptr))

    monkeypatch.setattr(resolution, "write_pointer", refuse)
    monkeypatch.setattr(resolution, "installed", lambda paths, version: object())  # as if 1.0.100 were here
    monkeypatch.setattr(resolution, "pointer_for", lambda *a, **k: None)
    assert resolution.repoint(pinman_home, "legacy") == 1
    assert not ptr.exists()

    ptr = pointer_path(pinman_home, tmp_path, "legacy")
    ptr.write_text("_pm_ver='1.0.100'\n_pm_bin='/x'\n")
    monkeypatch.setattr(Path, "unlink", refuse)
    with pytest.raises(SystemProblem) as e:
        resolution.repoint(pinman_home, "legacy")
    assert str(ptr) in e.value.message and "\n" not in e.value.message and e.value.hint
    mapped = from_os_error(IsADirectoryError(errno.EISDIR, "Is a directory", "/x"))
    assert mapped is not None and mapped.exit_code == ExitCode.SYSTEM
def test_rollback_installs_and_restores_the_known_good_sdk_for_real(
        pinman_home: Paths, tmp_path: Path, fake_npm: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No part of the policy patched: the store (fake npm), the SDK store, the journal and the
    override are the real ones; only the endpoint's answers are scripted (the prober argument)."""
    from pinman.install import sdk
    from pinman.runtime import sdk_env
    from pinman.runtime.resolution import profile_env
    from pinman.names import CLAUDE_CODE
    from pinman.install.store import Store

    monkeypatch.setenv("ANTHROPIC_BASE_URL", EP + "/")
    monkeypatch.setenv("PATH", f"{fake_npm.parent}{os.pathsep}{os.environ['PATH']}")  # `npm` is the fake
    p = pinman_home.user_profiles / "agent.toml"
    p.parent.mkdir(parents=True)
    p.write_text('[claude-code]\nversion = "2.1.331"\n\n[sdk]\npackage = "npm:@anthropic-ai/claude-agent-sdk"\n'
                 'version = "0.2.31"\n')
    agent = find_profile("agent", tmp_path, pinman_home)
    for version in ("1.0.100", "2.1.331"):
        Store(pinman_home).install(CLAUDE_CODE, version)
    sdks = sdk.SdkStore(pinman_home)
    now = sdks.install("npm", sdk.AGENT_SDK_NPM, "0.2.31")
    assert sdks.get("npm", sdk.AGENT_SDK_NPM, "0.1.30") is None  # the known-good SDK is not even installed
    Journal(pinman_home).append(Entry("check", "agent", "1.0.100", endpoint=EP, outcome="ok", sdk_version="0.1.30"))
    calls: list[tuple[str, str | None]] = []

    def endpoint(version: str, sdk_version: str | None = None) -> ProbeResult:
        calls.append((version, sdk_version))
        return schema() if version == "2.1.331" else ok()

    assert profile_env(pinman_home, agent)["NODE_PATH"] == str(now.prefix / "node_modules")
    r = check(pinman_home, agent, prober=endpoint)
    assert r.action == "rolled-back" and r.exit_code == ExitCode.ROLLED_BACK
    assert calls == [("2.1.331", None), ("1.0.100", "0.1.30")]
    assert r.rollback == {"from": "2.1.331", "to": "1.0.100", "sdk_from": "0.2.31", "sdk_to": "0.1.30"}
    restored = sdks.get("npm", sdk.AGENT_SDK_NPM, "0.1.30")
    assert restored is not None  # installed by the rollback itself
    assert sdk_env.installed_for(pinman_home, agent) == restored
    env = profile_env(pinman_home, agent)  # what a script under the profile now gets
    assert env["NODE_PATH"] == str(restored.prefix / "node_modules")
    assert env["CLAUDE_CODE_EXECUTABLE"].endswith("/1.0.100/node_modules/@anthropic-ai/claude-code/cli.js")
    assert reset(pinman_home, agent) == "1.0.100"
    assert sdk_env.installed_for(pinman_home, agent) == now  # `use --reset` returns to the pinned pair
