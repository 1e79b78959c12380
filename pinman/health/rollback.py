"""The policy: check a profile, record the verdict, and roll back only when rolling back can help.

Only a `schema` outcome (the endpoint rejects what this client sends) triggers a rollback. The
target is the last known-good version for this profile *and endpoint*; it is re-probed against the
same endpoint before anything switches, because if it fails too the endpoint changed, not the
client. A rollback writes a local override and repoints the shim; it never edits a profile file.

This is the policy with remedies off. `policy.ladder` hands in the other steps (client switches
before and after the rollback, the remedy a version runs with, dropping it once not needed): health
never imports the layer above it.

Recovery (`pinman.health.recovery`) is the way back: while a profile runs on an override, every
check also probes the pinned version against the same endpoint, and once that is ok the override
goes, the shim follows the pin again and the journal records a `recovered` event. An override
belongs to the pin it replaced: when the profile's pin changes, the next check drops it (a
`dropped` event) and checks the new pin.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import field
from typing import TYPE_CHECKING

from pinman.errors import PinmanError
from pinman.health.managed_guard import known_good_within, warnings as managed_warnings
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
from pinman.runtime.managed import read as read_managed
from pinman.runtime.resolution import target
from pinman.runtime.sdk_env import untrusted_project
from pinman.record import record

if TYPE_CHECKING:
    from pinman.profile.model import Profile
    from pinman.runtime.resolution import Target


@record(frozen=False)
class Attempt:
    """What a step of the policy works with after the first verdict: the report so far, the plain
    env (the user's and the profile's) and how to probe with it, or with more (client switches)."""

    paths: Paths
    profile: Profile
    report: CheckReport
    journal: Journal
    probe: Prober  # the plain probe
    prober_for: Callable[[Mapping[str, str]], Prober]  # a probe with this complete env instead
    key: str
    env: Mapping[str, str]
    start: float
    switches: Mapping[str, str] = field(default_factory=dict)  # what the version ran with in this check


# A step of the policy: True when it settled the check (switched, or kept the version working).
Step = Callable[[Attempt], bool]
# (the target, the env it is probed with) -> the client switches to add for it (its remedy there), or {}
Switches = Callable[["Target", Mapping[str, str]], Mapping[str, str]]


def check(paths: Paths, profile: Profile, *, environ: Mapping[str, str] | None = None,
          auto_rollback: bool | None = None, auto_recover: bool | None = None, isolated_home: bool = False,
          prober: Prober | None = None, progress: Callable[[str], None] | None = None,
          may_install: bool = True, waiting: Callable[[Waiting], None] | None = None,
          prober_for: Callable[[Mapping[str, str]], Prober] | None = None, switches: Switches | None = None,
          steps: Sequence[Step] | None = None, after_ok: Step | None = None) -> CheckReport:
    """Probe the version this profile runs now; record it; on `schema`, apply the policy.

    On an override it also probes the pin and returns to it when the endpoint accepts it again.
    `may_install=False` (the periodic mode): nothing is downloaded, not even registry data; a
    version that is not in the store is not probed.

    The policy above health hands in the rest of the ladder: `switches` (the remedy the version
    runs with), `steps` (what to try on `schema`, in order; default: the verified rollback when
    enabled) and `after_ok` (e.g. probing the version without its remedy).
    """

    env = run_env(paths, profile, environ)
    dropped = drop_stale_override(paths, profile, env)
    tgt = target(paths, profile, registry=None if may_install else offline_registry(paths))
    have(paths, tgt, progress, may_install)
    make = prober_for or (lambda e: make_prober(paths, profile, e, isolated_home=isolated_home, waiting=waiting))
    probe = prober or make(env)
    endpoint = endpoint_of(env.get("ANTHROPIC_BASE_URL"))
    key = profile_key(profile.name, profile.project_root)
    journal = Journal(paths)
    extra = dict(switches(tgt, env)) if switches is not None else {}
    now = probe if prober is not None or not extra else make({**env, **extra})

    start = time.monotonic()
    outcome = probe_and_record(journal, now, key, tgt.version, endpoint, env, sdk_version(paths, profile),
                               switches=extra)
    report = CheckReport(profile.name, tgt.version, endpoint, outcome, time.monotonic() - start,
                         action="ok", detail="recorded as known-good for " + endpoint, override_dropped=dropped)
    report.timings["detected"] = report.duration
    report.warnings = managed_warnings(paths, profile, tgt.version, endpoint, environ)
    attempt = Attempt(paths, profile, report, journal, probe, make, key, env, start, extra)
    health = applied_health(paths, profile)  # an untrusted project's [health] does not decide
    recover = health.auto_recover if auto_recover is None else auto_recover
    ov = tgt.override
    if ov is not None and recover and recoverable(paths, profile, ov) and outcome.kind.value in ("ok", "schema"):
        # Only a verdict about the client says anything about the pin; an outage says nothing.
        if try_recover(paths, profile, report, journal, probe, key, env, ov, may_install):
            return report
    if outcome.kind.value == "ok":
        if after_ok is not None:
            after_ok(attempt)
        return report
    if outcome.kind.value != "schema":
        report.action, report.detail = "not-client", outcome.advice or "changing versions will not help"
        return report
    ladder = list(steps) if steps is not None else ([roll_back] if rollback_enabled(paths, profile, auto_rollback)
                                                     else [])
    report.action, report.detail = "reported", "auto_rollback is off: nothing changed"
    for step in ladder:
        if step(attempt):
            break
    return report


def rollback_enabled(paths: Paths, profile: Profile, auto_rollback: bool | None) -> bool:
    """`auto_rollback` as asked, else as the profile says (an untrusted project's: the user's)."""
    return applied_health(paths, profile).auto_rollback if auto_rollback is None else auto_rollback


def roll_back(a: Attempt) -> bool:
    """The verified rollback: re-probe the last known-good against the same endpoint (plain, as
    it ran when it was good), switch only when it is ok. True when it switched."""
    paths, profile, report, journal, probe, key, env, start = (a.paths, a.profile, a.report, a.journal, a.probe,
                                                               a.key, a.env, a.start)
    # A known-good this machine's managed version range would not let start is no rollback target.
    kg, refused = known_good_within(journal, key, report.endpoint, report.version, read_managed())
    if kg is None:
        report.action = "no-known-good"
        why = (f"no known-good that this machine's managed settings let start ({refused[0]})" if refused
               else f"no known-good version recorded for {report.endpoint}")
        report.detail = (f"{why}; pick one by hand: `pinman rollback {profile.name} --to VERSION` "
                         f"or `pinman bisect {profile.name}`")
        return False
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
        return False
    report.extra.append(again)
    report.timings["reprobed"] = time.monotonic() - start
    if again.kind.value != "ok":
        report.action = "endpoint-changed"
        report.detail = (f"known-good {kg.version} fails too ({again.kind.value}: {again.message}); "
                         "the endpoint changed, not the client: no rollback")
        return False
    reason = f"{report.outcome.rejected or 'request'} rejected by {report.endpoint}"
    switch_to(paths, profile, kg.version, previous=report.version, reason=reason, env=env, sdk=restore_sdk)
    report.timings["switched"] = time.monotonic() - start
    report.action = "rolled-back"
    report.rollback = {"from": report.version, "to": kg.version}
    if restore_sdk:
        report.rollback.update(sdk_from=sdk_now or "", sdk_to=restore_sdk)
    report.detail = f"rolled back {profile.name}: {report.version} -> {kg.version} (last known-good, verified ok)"
    return True


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
