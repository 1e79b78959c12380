"""The policy: check a profile, record the verdict, and roll back only when rolling back can help.

Only a `schema` outcome (the endpoint rejects what this client sends) triggers a rollback. The
target is the last known-good version for this profile *and endpoint*; it is re-probed against the
same endpoint before anything switches, because if it fails too the endpoint changed, not the
client. A rollback writes a local override and repoints the shim; it never edits a profile file.

Recovery (`pinman.health.recovery`) is the way back: while a profile runs on an override, every
check also probes the pinned version against the same endpoint, and once that is ok the override
goes, the shim follows the pin again and the journal records a `recovered` event. An override
belongs to the pin it replaced: when the profile's pin changes, the next check drops it (a
`dropped` event) and checks the new pin.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Callable, Mapping

from pinman.errors import PinmanError
from pinman.health.manual import switch_to
from pinman.health.prober import Prober, have, make_prober, offline_registry, probe_and_record, run_env, sdk_version
from pinman.health.recovery import drop_stale_override, recoverable, try_recover
from pinman.health.report import CheckReport
from pinman.health.result import Waiting
from pinman.paths import Paths
from pinman.profile.trust import applied_health
from pinman.state.journal import Journal, endpoint_of
from pinman.state.overrides import profile_key
from pinman.install.sdk import SdkStore
from pinman.runtime.resolution import target
from pinman.runtime.sdk_env import untrusted_project

if TYPE_CHECKING:
    from pinman.profile.model import Profile


def check(paths: Paths, profile: Profile, *, environ: Mapping[str, str] | None = None,
          auto_rollback: bool | None = None, auto_recover: bool | None = None, isolated_home: bool = False,
          prober: Prober | None = None, progress: Callable[[str], None] | None = None,
          may_install: bool = True, waiting: Callable[[Waiting], None] | None = None) -> CheckReport:
    """Probe the version this profile runs now; record it; on `schema`, apply the policy.

    On an override it also probes the pin and returns to it when the endpoint accepts it again.
    `may_install=False` (the periodic mode): nothing is downloaded, not even registry data; a
    version that is not in the store is not probed.
    """

    env = run_env(paths, profile, environ)
    dropped = drop_stale_override(paths, profile, env)
    tgt = target(paths, profile, registry=None if may_install else offline_registry(paths))
    have(paths, tgt, progress, may_install)
    probe = prober or make_prober(paths, profile, env, isolated_home=isolated_home, waiting=waiting)
    endpoint = endpoint_of(env.get("ANTHROPIC_BASE_URL"))
    key = profile_key(profile.name, profile.project_root)
    journal = Journal(paths)

    start = time.monotonic()
    outcome = probe_and_record(journal, probe, key, tgt.version, endpoint, env, sdk_version(paths, profile))
    report = CheckReport(profile.name, tgt.version, endpoint, outcome, time.monotonic() - start,
                         action="ok", detail="recorded as known-good for " + endpoint, override_dropped=dropped)
    report.timings["detected"] = report.duration
    health = applied_health(paths, profile)  # an untrusted project's [health] does not decide
    recover = health.auto_recover if auto_recover is None else auto_recover
    ov = tgt.override
    if ov is not None and recover and recoverable(paths, profile, ov) and outcome.kind.value in ("ok", "schema"):
        # Only a verdict about the client says anything about the pin; an outage says nothing.
        if try_recover(paths, profile, report, journal, probe, key, env, ov, may_install):
            return report
    if outcome.kind.value == "ok":
        return report
    if outcome.kind.value != "schema":
        report.action, report.detail = "not-client", outcome.advice or "changing versions will not help"
        return report
    enabled = health.auto_rollback if auto_rollback is None else auto_rollback
    if not enabled:
        report.action, report.detail = "reported", "auto_rollback is off: nothing changed"
        return report
    return _roll_back(paths, profile, report, journal, probe, key, env, start)


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
        again = probe_and_record(journal, probe, key, kg.version, report.endpoint, env,
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

    return profile.sdk is not None and untrusted_project(paths, profile)


def _install_sdk(paths: Paths, profile: Profile, version: str) -> None:
    """Make sure the SDK of a known-good pair is in the store (offline when it is)."""

    pin = profile.sdk
    assert pin is not None
    SdkStore(paths).install(pin.ecosystem, pin.name, version)


def due(paths: Paths, profile: Profile, now: float | None = None) -> bool:
    """For the cheap periodic mode: is the last check older than `[health] interval`?"""
    last = Journal(paths).last_check(profile_key(profile.name, profile.project_root))
    return last is None or (now or time.time()) - last.ts >= applied_health(paths, profile).interval
