"""The policy: check a profile, record the verdict, and roll back only when rolling back can help.

Only a `schema` outcome (the endpoint rejects what this client sends) triggers a rollback. The
target is the last known-good version for this profile *and endpoint*; it is re-probed against the
same endpoint before anything switches, because if it fails too the endpoint changed, not the
client. A rollback writes a local override and repoints the shim; it never edits a profile file.

Recovery is the way back: while a profile runs on an override, every check also probes the pinned
version against the same endpoint, and once that is ok the override goes, the shim follows the pin
again and the journal records a `recovered` event. An override belongs to the pin it replaced: when
the profile's pin changes, the next check drops it (a `dropped` event) and checks the new pin.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Mapping

from pinman.runtime import activation
from pinman.errors import ExitCode, InstallError, PinmanError, UsageError
from pinman.state.journal import Entry, Journal, endpoint_of
from pinman.paths import Paths

if TYPE_CHECKING:
    from pinman.health.classify import Outcome
    from pinman.health.probe import ProbeResult, Waiting
    from pinman.profile.model import Profile
    from pinman.npm.registry import Registry
    from pinman.runtime.resolution import Target

# version -> what probing that version against the endpoint saw
Prober = Callable[..., "ProbeResult"]  # (version, *, sdk_version=None) -> what probing that pair saw


@dataclass
class CheckReport:
    profile: str
    version: str
    endpoint: str
    outcome: Outcome
    duration: float
    # ok | not-client | reported | no-known-good | endpoint-changed | rolled-back | unavailable | recovered
    action: str
    detail: str
    rollback: dict[str, str] | None = None
    recovered: dict[str, str] | None = None  # {"from": override version, "to": the pin's version}
    pin_probe: dict[str, str] | None = None  # on an override: what probing the pinned version saw
    override_dropped: str | None = None  # an override the pin outgrew, dropped before probing
    known_good_checked_at: float | None = None
    extra: list[Outcome] = field(default_factory=list)
    # seconds since the check started: "detected" (first verdict), "reprobed", "switched"
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def exit_code(self) -> ExitCode:
        return {
            "ok": ExitCode.OK,
            "recovered": ExitCode.OK,  # back on the pin, verified: all is well
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
            "recovered": self.recovered,
            "pin_probe": self.pin_probe,
            "override_dropped": self.override_dropped,
            "timings": {k: round(v, 3) for k, v in self.timings.items()},
            "exit_code": int(self.exit_code),
        }


def run_env(paths: Paths, profile: Profile, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The env a probe runs with: the user's env (their key, their base URL) + the profile's."""
    from pinman.runtime.resolution import profile_env

    from pinman.runtime.sdk_env import merge_env

    return merge_env(os.environ if environ is None else environ, profile_env(paths, profile))


def make_prober(paths: Paths, profile: Profile, env: Mapping[str, str], *, isolated_home: bool = False,
                waiting: Callable[[Waiting], None] | None = None) -> Prober:
    """Probe any installed version of Claude Code the way `[health]` says.

    `waiting` hears about a CLI probe while it waits for the client (about once a second) and once
    more when it is over, so a terminal can show that something is happening."""
    from pinman.health import probe as health

    def probe(version: str, sdk_version: str | None = None) -> ProbeResult:
        if waiting is None or profile.health.probe != "cli":
            return _probe(paths, profile, env, version, sdk_version, isolated_home, None)
        endpoint = endpoint_of(env.get("ANTHROPIC_BASE_URL"))
        limit = profile.health.timeout

        def tick(elapsed: float) -> None:
            waiting(health.Waiting(version, endpoint, elapsed, limit))

        try:
            return _probe(paths, profile, env, version, sdk_version, isolated_home, tick)
        finally:
            waiting(health.Waiting(version, endpoint, 0.0, limit, done=True))

    return probe


def _probe(paths: Paths, profile: Profile, env: Mapping[str, str], version: str, sdk_version: str | None,
           isolated_home: bool, tick: Callable[[float], None] | None) -> ProbeResult:
    from pinman.health import probe as health
    from pinman.runtime.resolution import installed
    from pinman.profile.trust import applied_health

    cfg = applied_health(paths, profile)  # an untrusted project's prompt and model are not used
    if cfg.probe == "http":
        return health.probe_http(env.get("ANTHROPIC_BASE_URL") or "https://api.anthropic.com", env,
                                 timeout=cfg.timeout)
    if cfg.probe == "sdk":
        from pinman.install import sdk
        from pinman.runtime import sdk_env
        from pinman.errors import HealthError

        if sdk_env.untrusted_project(paths, profile):
            raise HealthError(f'{profile.name}: probe = "sdk" runs this project\'s [sdk], which is not trusted',
                              hint=f"review {profile.path}, then run `pinman trust` in {profile.project_root}")
        pinned = sdk_env.ensure_installed(paths, profile)
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
                            isolated_home=isolated_home, on_wait=tick)


def check(paths: Paths, profile: Profile, *, environ: Mapping[str, str] | None = None,
          auto_rollback: bool | None = None, auto_recover: bool | None = None, isolated_home: bool = False,
          prober: Prober | None = None, progress: Callable[[str], None] | None = None,
          may_install: bool = True, waiting: Callable[[Waiting], None] | None = None) -> CheckReport:
    """Probe the version this profile runs now; record it; on `schema`, apply the policy.

    On an override it also probes the pin and returns to it when the endpoint accepts it again.
    `may_install=False` (the periodic mode): nothing is downloaded, not even registry data; a
    version that is not in the store is not probed.
    """
    from pinman.runtime.resolution import target

    env = run_env(paths, profile, environ)
    dropped = drop_stale_override(paths, profile, env)
    tgt = target(paths, profile, registry=None if may_install else _offline(paths))
    _have(paths, tgt, progress, may_install)
    probe = prober or make_prober(paths, profile, env, isolated_home=isolated_home, waiting=waiting)
    endpoint = endpoint_of(env.get("ANTHROPIC_BASE_URL"))
    key = activation.profile_key(profile.name, profile.project_root)
    journal = Journal(paths)

    start = time.monotonic()
    outcome = _probe_and_record(journal, probe, key, tgt.version, endpoint, env, sdk_version(paths, profile))
    report = CheckReport(profile.name, tgt.version, endpoint, outcome, time.monotonic() - start,
                         action="ok", detail="recorded as known-good for " + endpoint, override_dropped=dropped)
    report.timings["detected"] = report.duration
    recover = profile.health.auto_recover if auto_recover is None else auto_recover
    ov = tgt.override
    if ov is not None and recover and _recoverable(profile, ov) and outcome.kind.value in ("ok", "schema"):
        # Only a verdict about the client says anything about the pin; an outage says nothing.
        if _recover(paths, profile, report, journal, probe, key, env, ov, may_install):
            return report
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


def _offline(paths: Paths) -> Registry:
    from pinman.npm.registry import Registry

    return Registry(paths, offline=True)


def _have(paths: Paths, tgt: Target, progress: Callable[[str], None] | None, may_install: bool) -> None:
    """The target's install, downloaded only when allowed."""
    from pinman.runtime.resolution import ensure_installed, installed

    if may_install:
        ensure_installed(paths, tgt, progress)
    elif installed(paths, tgt.version) is None:
        raise PinmanError(f"{tgt.profile.name}: {tgt.version} is not installed (not downloaded by a periodic check)",
                          hint=f"run `pinman install {tgt.profile.name}`")


BY_HAND = "rolled back by hand"


def _recoverable(profile: Profile, ov: activation.Override) -> bool:
    """An override pinman made because the endpoint rejected the pin, judged by the real client.

    A rollback by hand is the user's decision, for reasons a probe cannot see: it stays until
    `use --reset`. The http probe sends the same request whatever the version, and the sdk probe
    tests the SDK, so neither can say the pinned CLI is accepted again."""
    return ov.reason != BY_HAND and profile.health.probe == "cli"


def _recover(paths: Paths, profile: Profile, report: CheckReport, journal: Journal, probe: Prober, key: str,
             env: Mapping[str, str], ov: activation.Override, may_install: bool) -> bool:
    """Probe the pinned version; when the endpoint accepts it, drop the override. True if it did."""
    from pinman.runtime.resolution import target

    try:
        pin = target(paths, profile, registry=None if may_install else _offline(paths), use_override=False)
        if pin.version == ov.version:
            return False
        _have(paths, pin, None, may_install)
        outcome = _probe_and_record(journal, probe, key, pin.version, report.endpoint, env,
                                    sdk_version(paths, profile))
    except PinmanError as e:
        report.pin_probe = {"version": "", "outcome": "unavailable", "message": e.message}
        return False
    report.extra.append(outcome)
    report.pin_probe = {"version": pin.version, "outcome": outcome.kind.value, "message": outcome.message}
    if outcome.kind.value != "ok":
        if report.outcome.kind.value == "ok":
            report.detail += f"; the pin {pin.version} still fails here ({outcome.kind.value}: {outcome.message})"
        return False
    report.recovered = recovered(paths, profile, ov, pin.version, report.endpoint, env)
    report.action = "recovered"
    report.detail = report.recovered["message"]
    return True


def recovered(paths: Paths, profile: Profile, ov: activation.Override, version: str, endpoint: str,
              env: Mapping[str, str] | None = None) -> dict[str, str]:
    """Drop the override, let the shim follow the pin again, record a `recovered` event.

    The event carries what a notice needs: profile key, the pin's version, the override it left
    (`previous`), the endpoint and a message ("stable is back on 2.1.331: the endpoint accepts it
    again"). Returns the same as a dict for the check report.
    """
    from pinman.runtime.resolution import repoint

    from pinman.faults import point

    message = f"{profile.name} is back on {version}: the endpoint accepts it again"
    activation.set_override(paths, profile.name, profile.project_root, None)
    point("recover.override_dropped", profile.name)
    repoint(paths, profile.name)
    key = activation.profile_key(profile.name, profile.project_root)
    Journal(paths).append(Entry("recovered", key, version, endpoint=endpoint, previous=ov.version,
                                message=message), env)
    return {"from": ov.version, "to": version, "message": message}


def drop_stale_override(paths: Paths, profile: Profile, env: Mapping[str, str] | None = None) -> str | None:
    """Drop an override whose pin the profile no longer has; record a `dropped` event. Returns the
    note saying so ("local override 1.0.100 dropped: the pin changed from 2.1.331 to 2.1.45")."""
    from pinman.runtime.resolution import dropped_note, dropped_override, repoint

    found = dropped_override(paths, profile)
    if found is None:
        return None
    ov, why = found
    activation.set_override(paths, profile.name, profile.project_root, None)
    repoint(paths, profile.name)
    note = dropped_note(ov, why)
    key = activation.profile_key(profile.name, profile.project_root)
    Journal(paths).append(Entry("dropped", key, ov.version, previous=ov.pin_version, message=note), env)
    return note


def sdk_version(paths: Paths, profile: Profile) -> str | None:
    """The SDK version the profile runs with now (recorded beside the CLI version in checks)."""
    if profile.sdk is None:
        return None
    from pinman.runtime.sdk_env import installed_for

    inst = installed_for(paths, profile)
    return inst.version if inst is not None else None


def _probe_and_record(journal: Journal, probe: Prober, key: str, version: str, endpoint: str,
                      env: Mapping[str, str], sdk: str | None = None, *, with_sdk: bool = False) -> Outcome:
    """Probe (with `sdk` explicitly when `with_sdk`: a known-good pair) and journal the verdict."""
    from pinman.health.classify import classify
    from pinman.redact import secret_values

    result = probe(version, sdk_version=sdk) if with_sdk else probe(version)
    outcome = classify(result, secret_values(env))
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
    if restore_sdk and sdk_withheld(paths, profile):
        restore_sdk = None  # an untrusted project's [sdk] is not installed, known-good or not
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


def sdk_withheld(paths: Paths, profile: Profile) -> bool:
    from pinman.runtime.sdk_env import untrusted_project

    return profile.sdk is not None and untrusted_project(paths, profile)


def _install_sdk(paths: Paths, profile: Profile, version: str) -> None:
    """Make sure the SDK of a known-good pair is in the store (offline when it is)."""
    from pinman.install.sdk import SdkStore

    pin = profile.sdk
    assert pin is not None
    SdkStore(paths).install(pin.ecosystem, pin.name, version)


def switch_to(paths: Paths, profile: Profile, version: str, *, previous: str | None, reason: str,
              env: Mapping[str, str] | None = None, event: str = "rollback", sdk: str | None = None) -> None:
    """Write the local override, repoint every shim context, record it. Offline when installed."""
    from pinman.runtime.resolution import repoint

    from pinman.faults import point

    spec, pinned = replaced_pin(paths, profile)
    activation.set_override(paths, profile.name, profile.project_root,
                            activation.Override(version, previous, reason, time.time(), sdk, spec, pinned))
    point("rollback.override_set", profile.name)
    repoint(paths, profile.name)
    point("rollback.repointed", profile.name)
    key = activation.profile_key(profile.name, profile.project_root)
    Journal(paths).append(Entry(event, key, version, previous=previous, message=reason, sdk_version=sdk), env)


def replaced_pin(paths: Paths, profile: Profile) -> tuple[str, str | None]:
    """The pin an override written now replaces: that of the override in place (a second rollback
    still replaces the same pin), else the profile's spec and the version it runs (offline)."""
    from pinman.runtime.resolution import override_for, target

    ov = override_for(paths, profile)
    if ov is not None and ov.pin_spec is not None:
        return ov.pin_spec, ov.pin_version
    pin = profile.claude_code
    if pin.exact:
        return pin.version, pin.exact
    try:
        return pin.version, target(paths, profile, registry=_offline(paths), use_override=False).version
    except PinmanError:
        return pin.version, None


def manual_rollback(paths: Paths, profile: Profile, to: str | None, *,
                    environ: Mapping[str, str] | None = None,
                    progress: Callable[[str], None] | None = None) -> tuple[str, str]:
    """`pinman rollback NAME [--to V]`: returns (from, to). Installs `to` if it is missing, as
    `pinman install VERSION` does: an unknown version is a registry error naming the nearest ones."""
    from pinman.runtime.resolution import install_exact

    env = run_env(paths, profile, environ)
    current = _running(paths, profile)
    key = activation.profile_key(profile.name, profile.project_root)
    if to is None:
        kg = Journal(paths).last_known_good(key, endpoint_of(env.get("ANTHROPIC_BASE_URL")), exclude=[current])
        if kg is None:
            raise UsageError(f"no known-good version recorded for {profile.name} at this endpoint",
                              hint=f"name one: `pinman rollback {profile.name} --to VERSION`")
        to = kg.version
    from pinman.npm.versions import is_exact

    if not is_exact(to):
        raise UsageError(f"--to needs an exact version, not {to!r}", hint="e.g. --to 2.1.331")
    to = to.lstrip("v=")
    install_exact(paths, to, progress=progress)
    switch_to(paths, profile, to, previous=current, reason=BY_HAND, env=env)
    return current, to


def _running(paths: Paths, profile: Profile) -> str:
    """The version the profile runs now: from this machine, the registry only if never resolved here."""
    from pinman.npm.registry import NotCached
    from pinman.runtime.resolution import local_registry, target

    try:
        return target(paths, profile, registry=local_registry(paths)).version
    except NotCached:
        return target(paths, profile).version


def reset(paths: Paths, profile: Profile) -> str | None:
    """Drop the local override: back to the pin. Returns the dropped override's version."""
    from pinman.runtime.resolution import repoint

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

