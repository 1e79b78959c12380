"""The policy: check a profile, record the verdict, and roll back only when rolling back can help.

Only a `schema` outcome (the endpoint rejects what this client sends) triggers a rollback. The
target is the last known-good version for this profile *and endpoint*; it is re-probed against the
same endpoint before anything switches, because if it fails too the endpoint changed, not the
client. A rollback writes a local override and repoints the shim; it never edits a profile file.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Mapping

from pinman import activation
from pinman.errors import ExitCode, InstallError, PinmanError, UsageError
from pinman.journal import Entry, Journal, endpoint_of
from pinman.paths import Paths

if TYPE_CHECKING:
    from pinman.classify import Outcome
    from pinman.health import ProbeResult
    from pinman.profiles import Profile

# version -> what probing that version against the endpoint saw
Prober = Callable[..., "ProbeResult"]  # (version, *, sdk_version=None) -> what probing that pair saw


@dataclass
class CheckReport:
    profile: str
    version: str
    endpoint: str
    outcome: Outcome
    duration: float
    action: str  # ok | not-client | reported | no-known-good | endpoint-changed | rolled-back | unavailable
    detail: str
    rollback: dict[str, str] | None = None
    known_good_checked_at: float | None = None
    extra: list[Outcome] = field(default_factory=list)
    # seconds since the check started: "detected" (first verdict), "reprobed", "switched"
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def exit_code(self) -> ExitCode:
        return {
            "ok": ExitCode.OK,
            "rolled-back": ExitCode.ROLLED_BACK,
            "not-client": ExitCode.NOT_CLIENT,
        }.get(self.action, ExitCode.BROKEN)

    def to_json(self) -> dict[str, Any]:
        return {
            "profile": self.profile,
            "version": self.version,
            "endpoint": self.endpoint,
            "outcome": self.outcome.kind.value,
            "status": self.outcome.status,
            "rejected": self.outcome.rejected,
            "message": self.outcome.message,
            "duration": round(self.duration, 3),
            "action": self.action,
            "detail": self.detail,
            "rollback": self.rollback,
            "timings": {k: round(v, 3) for k, v in self.timings.items()},
            "exit_code": int(self.exit_code),
        }


def run_env(paths: Paths, profile: Profile, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The env a probe runs with: the user's env (their key, their base URL) + the profile's."""
    from pinman.resolution import profile_env

    from pinman.sdk import merge_env

    return merge_env(os.environ if environ is None else environ, profile_env(paths, profile))


def make_prober(paths: Paths, profile: Profile, env: Mapping[str, str], *, isolated_home: bool = False) -> Prober:
    """Probe any installed version of Claude Code the way `[health]` says."""
    from pinman import health
    from pinman.resolution import installed

    cfg = profile.health

    def probe(version: str, sdk_version: str | None = None) -> ProbeResult:
        if cfg.probe == "http":
            return health.probe_http(env.get("ANTHROPIC_BASE_URL") or "https://api.anthropic.com", env,
                                     timeout=cfg.timeout)
        if cfg.probe == "sdk":
            from pinman import sdk
            from pinman.errors import HealthError

            pinned = sdk.ensure_installed(paths, profile)
            if pinned is not None and sdk_version and sdk_version != pinned.version:
                # re-probing a known-good pair: its own SDK, not the one pinned now
                pinned = sdk.SdkStore(paths).install(pinned.ecosystem, pinned.name, sdk_version)
            if pinned is None or pinned.ecosystem != "pypi":
                raise HealthError(f'{profile.name}: probe = "sdk" needs a PyPI [sdk] with the anthropic package',
                                  hint='e.g. [sdk] package = "anthropic", version = "0.40.0"')
            return health.probe_sdk(pinned.python, env.get("ANTHROPIC_BASE_URL") or "https://api.anthropic.com",
                                    env, timeout=cfg.timeout, model=cfg.model, prompt=cfg.prompt)
        inst = installed(paths, version)
        if inst is None:
            raise InstallError(f"{version} is not installed", hint=f"run `pinman install {version}`")
        return health.probe_cli(inst.binary, env, prompt=cfg.prompt, timeout=cfg.timeout,
                                isolated_home=isolated_home)

    return probe


def check(paths: Paths, profile: Profile, *, environ: Mapping[str, str] | None = None,
          auto_rollback: bool | None = None, isolated_home: bool = False,
          prober: Prober | None = None, progress: Callable[[str], None] | None = None) -> CheckReport:
    """Probe the version this profile runs now; record it; on `schema`, apply the policy."""
    from pinman.resolution import ensure_installed, target

    env = run_env(paths, profile, environ)
    tgt = target(paths, profile)
    ensure_installed(paths, tgt, progress)
    probe = prober or make_prober(paths, profile, env, isolated_home=isolated_home)
    endpoint = endpoint_of(env.get("ANTHROPIC_BASE_URL"))
    key = activation.profile_key(profile.name, profile.project_root)
    journal = Journal(paths)

    start = time.monotonic()
    outcome = _probe_and_record(journal, probe, key, tgt.version, endpoint, env, sdk_version(paths, profile))
    report = CheckReport(profile.name, tgt.version, endpoint, outcome, time.monotonic() - start,
                         action="ok", detail="recorded as known-good for " + endpoint)
    report.timings["detected"] = report.duration
    if outcome.kind.value == "ok":
        return report
    if outcome.kind.value != "schema":
        report.action, report.detail = "not-client", outcome.advice or "changing versions will not help"
        return report
    enabled = profile.health.auto_rollback if auto_rollback is None else auto_rollback
    if not enabled:
        report.action, report.detail = "reported", "auto_rollback is off: nothing changed"
        return report
    return _roll_back(paths, profile, report, journal, probe, key, env, start)


def sdk_version(paths: Paths, profile: Profile) -> str | None:
    """The SDK version the profile runs with now (recorded beside the CLI version in checks)."""
    if profile.sdk is None:
        return None
    from pinman.sdk import installed_for

    inst = installed_for(paths, profile)
    return inst.version if inst is not None else None


def _probe_and_record(journal: Journal, probe: Prober, key: str, version: str, endpoint: str,
                      env: Mapping[str, str], sdk: str | None = None, *, with_sdk: bool = False) -> Outcome:
    """Probe (with `sdk` explicitly when `with_sdk`: a known-good pair) and journal the verdict."""
    from pinman.classify import classify

    result = probe(version, sdk_version=sdk) if with_sdk else probe(version)
    outcome = classify(result)
    journal.append(Entry("check", key, version, endpoint=endpoint, outcome=outcome.kind.value,
                         status=outcome.status, message=outcome.message[:300], rejected=outcome.rejected,
                         duration=round(result.duration, 3), sdk_version=sdk), env)
    return outcome


def _roll_back(paths: Paths, profile: Profile, report: CheckReport, journal: Journal, probe: Prober,
               key: str, env: Mapping[str, str], start: float) -> CheckReport:
    kg = journal.last_known_good(key, report.endpoint, exclude=[report.version])
    if kg is None:
        report.action = "no-known-good"
        report.detail = (f"no known-good version recorded for {report.endpoint}; "
                         f"pick one by hand: `pinman rollback {profile.name} --to VERSION` or `pinman bisect {profile.name}`")
        return report
    report.known_good_checked_at = kg.ts
    sdk_now = sdk_version(paths, profile)
    restore_sdk = kg.sdk_version if kg.sdk_version and kg.sdk_version != sdk_now else None
    try:
        if restore_sdk:
            _install_sdk(paths, profile, restore_sdk)
        again = _probe_and_record(journal, probe, key, kg.version, report.endpoint, env,
                                  restore_sdk or sdk_now, with_sdk=restore_sdk is not None)
    except PinmanError as e:
        report.action, report.detail = "unavailable", f"known-good {kg.version} cannot run: {e.message}"
        return report
    report.extra.append(again)
    report.timings["reprobed"] = time.monotonic() - start
    if again.kind.value != "ok":
        report.action = "endpoint-changed"
        report.detail = (f"known-good {kg.version} fails too ({again.kind.value}: {again.message}); "
                         "the endpoint changed, not the client: no rollback")
        return report
    reason = f"{report.outcome.rejected or 'request'} rejected by {report.endpoint}"
    switch_to(paths, profile, kg.version, previous=report.version, reason=reason, env=env, sdk=restore_sdk)
    report.timings["switched"] = time.monotonic() - start
    report.action = "rolled-back"
    report.rollback = {"from": report.version, "to": kg.version}
    if restore_sdk:
        report.rollback.update(sdk_from=sdk_now or "", sdk_to=restore_sdk)
    report.detail = f"rolled back {profile.name}: {report.version} -> {kg.version} (last known-good, verified ok)"
    return report


def _install_sdk(paths: Paths, profile: Profile, version: str) -> None:
    """Make sure the SDK of a known-good pair is in the store (offline when it is)."""
    from pinman.sdk import SdkStore, untrusted_project

    pin = profile.sdk
    assert pin is not None
    SdkStore(paths).install(pin.ecosystem, pin.name, version, only_binary=untrusted_project(paths, profile))


def switch_to(paths: Paths, profile: Profile, version: str, *, previous: str | None, reason: str,
              env: Mapping[str, str] | None = None, event: str = "rollback", sdk: str | None = None) -> None:
    """Write the local override, repoint every shim context, record it. Offline when installed."""
    from pinman.resolution import repoint

    from pinman.faults import point

    activation.set_override(paths, profile.name, profile.project_root,
                            activation.Override(version, previous, reason, time.time(), sdk))
    point("rollback.override_set", profile.name)
    repoint(paths, profile.name)
    point("rollback.repointed", profile.name)
    key = activation.profile_key(profile.name, profile.project_root)
    Journal(paths).append(Entry(event, key, version, previous=previous, message=reason, sdk_version=sdk), env)


def manual_rollback(paths: Paths, profile: Profile, to: str | None, *,
                    environ: Mapping[str, str] | None = None,
                    progress: Callable[[str], None] | None = None) -> tuple[str, str]:
    """`pinman rollback NAME [--to V]`: returns (from, to). Installs `to` if it is missing, as
    `pinman install VERSION` does: an unknown version is a registry error naming the nearest ones."""
    from pinman.resolution import install_exact, target

    env = run_env(paths, profile, environ)
    current = target(paths, profile).version
    key = activation.profile_key(profile.name, profile.project_root)
    if to is None:
        kg = Journal(paths).last_known_good(key, endpoint_of(env.get("ANTHROPIC_BASE_URL")), exclude=[current])
        if kg is None:
            raise UsageError(f"no known-good version recorded for {profile.name} at this endpoint",
                              hint=f"name one: `pinman rollback {profile.name} --to VERSION`")
        to = kg.version
    from pinman.versions import is_exact

    if not is_exact(to):
        raise UsageError(f"--to needs an exact version, not {to!r}", hint="e.g. --to 2.1.331")
    to = to.lstrip("v=")
    install_exact(paths, to, progress=progress)
    switch_to(paths, profile, to, previous=current, reason="rolled back by hand", env=env)
    return current, to


def reset(paths: Paths, profile: Profile) -> str | None:
    """Drop the local override: back to the pin. Returns the dropped override's version."""
    from pinman.resolution import repoint

    ov = activation.get_override(paths, profile.name, profile.project_root)
    activation.set_override(paths, profile.name, profile.project_root, None)
    repoint(paths, profile.name)
    if ov:
        key = activation.profile_key(profile.name, profile.project_root)
        Journal(paths).append(Entry("reset", key, ov.version, message="override dropped"))
    return ov.version if ov else None


def due(paths: Paths, profile: Profile, now: float | None = None) -> bool:
    """For the cheap periodic mode: is the last check older than `[health] interval`?"""
    last = Journal(paths).last_check(activation.profile_key(profile.name, profile.project_root))
    return last is None or (now or time.time()) - last.ts >= profile.health.interval

