"""The ladder: what a check does about a verified schema rejection, the least change first.

Every trigger runs it (`pinman check`, `check --if-due`, `use --check`, the StopFailure handler,
and a guarded channel's check of what it runs, `policy.channel`):

    [health] remedies = "cheap" (default): cheap client switches -> the verified rollback
                        "all":             cheap switches -> costly switches -> the verified rollback
                        "off":             the verified rollback (the policy of `health.rollback`)

"all" tries costly switches before the rollback: choosing it says that staying on the pinned
version matters more than what a switch costs (the issue's own example: behind a gateway that
rejects `thinking`, "all" keeps 2.1.331 with thinking off while "cheap" rolls back to 1.0.100).

A switch is found by `policy.search` (measured offline, verified against the endpoint) and kept as
a remedy (`policy.remedy`) for the profile, the pin's version and the endpoint. A later check probes
the version with its remedy, and when that is ok also without it: once the endpoint accepts the
plain version, the remedy is dropped (`recovered`), as a rollback override is.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from pinman.health import rollback
from pinman.health.prober import Prober, probe_and_record, run_env, sdk_version
from pinman.paths import Paths
from pinman.policy import remedy as remedies
from pinman.policy.candidates import allowed
from pinman.policy.search import Search, search
from pinman.runtime.remedies import applied, describe, remedies_for
from pinman.runtime.resolution import override_for
from pinman.state.journal import endpoint_of
from pinman.state.overrides import get_remedies

if TYPE_CHECKING:
    from pinman.health.outcome import Outcome
    from pinman.health.report import CheckReport
    from pinman.health.result import Waiting
    from pinman.profile.model import Profile
    from pinman.runtime.resolution import Target


def check(paths: Paths, profile: Profile, *, environ: Mapping[str, str] | None = None,
          auto_rollback: bool | None = None, auto_recover: bool | None = None, remedies_level: str | None = None,
          switch: bool = True, isolated_home: bool = False,
          prober_for: Callable[[Mapping[str, str]], Prober] | None = None,
          progress: Callable[[str], None] | None = None, may_install: bool = True,
          waiting: Callable[[Waiting], None] | None = None) -> CheckReport:
    """Check `profile` and apply the ladder. `switch=False` only reports: nothing changes what runs
    (no remedy, rollback or recovery, nothing dropped). `remedies_level` overrides `[health] remedies`."""
    from pinman.profile.trust import applied_health

    level = remedies_level or applied_health(paths, profile).remedies
    user = os.environ if environ is None else environ
    common = dict(isolated_home=isolated_home, prober_for=prober_for, progress=progress, may_install=may_install,
                  waiting=waiting)
    if not switch:
        return rollback.check(paths, profile, environ=user, auto_rollback=False, auto_recover=False, steps=[],
                              switches=_in_place(paths, profile), **common)
    off = 'the profile says [health] remedies = "off"'
    notes = remedies.drop_all(paths, profile, off, user) if level == "off" else []
    user = remedies.without_remedies(paths, profile, user)
    found: dict[str, Search] = {}  # one search per check, shared by the cheap and costly steps
    steps = [_remedy_step(found, allowed("cheap"))] if level != "off" else []
    steps += [_remedy_step(found, allowed("all"))] if level == "all" else []
    steps += [_after_rollback(rollback.roll_back)] if rollback.rollback_enabled(paths, profile, auto_rollback) else []
    recover = applied_health(paths, profile).auto_recover if auto_recover is None else auto_recover
    report = rollback.check(paths, profile, environ=user, auto_rollback=auto_rollback, auto_recover=auto_recover,
                            switches=_switches(paths, profile, notes), steps=steps,
                            after_ok=_recover if recover else None, **common)
    report.notes[:0] = notes
    _show(paths, profile, report)
    return report


def _in_place(paths: Paths, profile: Profile) -> rollback.Switches:
    def switches(tgt: Target, env: Mapping[str, str]) -> Mapping[str, str]:
        return applied(env, remedies_for(paths, profile, tgt.version))

    return switches


def _switches(paths: Paths, profile: Profile, notes: list[str]) -> rollback.Switches:
    """The remedy the version runs with at the check's endpoint, after dropping those that no
    longer belong (a changed pin, a moved version); none for an override's version."""
    def switches(tgt: Target, env: Mapping[str, str]) -> Mapping[str, str]:
        notes.extend(remedies.drop_stale(paths, profile, None if tgt.override else tgt.version, env))
        return {} if tgt.override else applied(env, remedies_for(paths, profile, tgt.version))

    return switches


def _remedy_step(found: dict[str, Search], costs: tuple[str, ...]) -> rollback.Step:
    def step(a: rollback.Attempt) -> bool:
        if override_for(a.paths, a.profile) is not None:
            return False  # a rollback override runs: remedies belong to the pin's version
        s = found.setdefault("s", Search(a.report.version, a.report.outcome, on=dict(a.switches)))
        search(a.paths, s, costs, _probe(a), a.env)
        if not s.passed:
            a.report.notes.extend(n for n in s.notes if n not in a.report.notes)
            return False
        _remedied(a, s)
        return True

    return step


def _probe(a: rollback.Attempt) -> Callable[[Mapping[str, str]], Outcome]:
    def probe(trial: Mapping[str, str]) -> Outcome:
        outcome = probe_and_record(a.journal, a.prober_for({**a.env, **trial}), a.key, a.report.version,
                                   a.report.endpoint, a.env, sdk_version(a.paths, a.profile), switches=trial)
        a.report.extra.append(outcome)
        return outcome

    return probe


def _remedied(a: rollback.Attempt, s: Search) -> None:
    r = a.report
    kept = remedies.record(a.paths, a.profile, r.version, r.endpoint, s.on, s.fixed, a.env)
    r.timings["switched"] = time.monotonic() - a.start
    r.action = "remedied"
    r.detail = (f"{a.profile.name} stays on {r.version} with {kept.switches}: {kept.reason} "
                f"(measured offline, verified ok at {r.endpoint})")


def _after_rollback(roll_back: rollback.Step) -> rollback.Step:
    """The verified rollback; a remedy of the pin at this endpoint goes with the pin it adjusted."""
    def step(a: rollback.Attempt) -> bool:
        if not roll_back(a):
            return False
        mine = get_remedies(a.paths, a.profile.name, a.profile.project_root).get(a.report.endpoint)
        if mine is not None:
            a.report.notes.append(remedies.drop(a.paths, a.profile, mine, "the version it kept running was rolled "
                                                "back", a.env))
        return True

    return step


def _recover(a: rollback.Attempt) -> bool:
    """The version passed with its remedy: probe it without; once that is ok, drop the remedy."""
    if not a.switches:
        return False
    mine = get_remedies(a.paths, a.profile.name, a.profile.project_root).get(a.report.endpoint)
    plain = probe_and_record(a.journal, a.probe, a.key, a.report.version, a.report.endpoint, a.env,
                             sdk_version(a.paths, a.profile))
    a.report.extra.append(plain)
    a.report.pin_probe = {"version": a.report.version, "outcome": plain.kind.value, "message": plain.message,
                          "without": ", ".join(f"{k}={v}" for k, v in a.switches.items())}
    if plain.kind.value != "ok" or mine is None:
        return False
    host = a.report.endpoint.split("://", 1)[-1]
    message = remedies.drop(a.paths, a.profile, mine, f"{host} accepts {', '.join(mine.rejected) or 'it'} again",
                            a.env, event="recovered")
    a.report.action, a.report.detail = "recovered", message
    a.report.recovered = {"from": f"{a.report.version} with {mine.switches}", "to": a.report.version,
                          "message": message}
    return True


def _show(paths: Paths, profile: Profile, report: CheckReport) -> None:
    """The report says which remedy the version runs with at this endpoint now, if any."""
    if override_for(paths, profile) is not None:
        return
    mine = remedies_for(paths, profile, report.version).get(report.endpoint)
    if mine is not None:
        report.remedy = describe(mine)
        if report.action == "ok":
            report.detail = f"ok with its remedy {mine.switches} ({mine.reason})"
