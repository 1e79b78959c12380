"""Guarded channels: a dist-tag or range that moves forward only to releases verified against this
machine's endpoint (`[update] policy = "guarded"`).

* `first_choice` (`pinman use`, the shim's first run): the newest candidate that passes a probe,
  newest first. When no probe can run at all (no key yet, the endpoint down), the newest candidate
  is taken unverified and said to be; the first check that can probe verifies it.
* `check_channel` (`pinman check`, and `check --if-due` unattended): the check of what runs through
  the ladder every trigger uses (`policy.ladder`: a cheap remedy first, then the verified rollback,
  and their recovery), then newer candidates, newest first, each installed aside and probed; the
  first that passes is promoted, each schema rejection is refused (journaled, not downloaded again
  for that endpoint). Unattended, only with `auto = true`, one promotion at a time on the machine;
  with `auto = false` it only notes that candidates wait.

A candidate passes plainly or with a cheap client switch (`promotion.verify_candidate`); one that
passes only with a switch is promoted with it as the remedy of that promotion, said in the notice.
What runs and passes its check with a remedy is still verified here: the remedy is part of what
was verified. A version chosen unverified (no probe could run) is a candidate still: its check
allows cheap switches at most, as a candidate's probe does.

At most MAX_TRIES candidates are probed per run, so a gateway that rejects every new release costs
a bounded number of downloads per check; the refusals carry the search on at the next check.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pinman.errors import HealthError, PinmanError
from pinman.health.prober import run_env
from pinman.names import CLAUDE_CODE
from pinman.paths import Paths
from pinman.policy.channel_report import ChannelReport
from pinman.profile.trust import applied_update
from pinman.policy.promotion import (ProberFor, candidate_prober, clean_up, installed_size, kept, mark_verified,
                                     note_waiting, promote, promotion_lock, record, remove, verify_candidate)
from pinman.runtime.channel import candidates, channel_state
from pinman.state.journal import Journal, endpoint_of
from pinman.state.overrides import profile_key

if TYPE_CHECKING:
    from pinman.npm.registry import Registry
    from pinman.policy.verify import Verdict
    from pinman.profile.model import Profile

MAX_TRIES = 5  # candidates probed per run


def first_choice(paths: Paths, profile: Profile, *, environ: Mapping[str, str] | None = None,
                 prober_for: ProberFor | None = None, progress: Callable[[str], None] | None = None,
                 waiting: Any = None, cwd: Path | None = None) -> ChannelReport:
    """Choose what a guarded profile runs on a machine where it runs nothing yet (see the module
    docstring); HealthError when no candidate can run."""
    from pinman.npm.registry import Registry

    env = run_env(paths, profile, environ)
    report = ChannelReport(profile.name, profile.claude_code.version, endpoint_of(env.get("ANTHROPIC_BASE_URL")), None)
    with promotion_lock(paths, wait=True, say=progress):
        chosen = channel_state(paths, profile)
        if chosen is not None:  # another process chose while this one waited
            report.runs = chosen.version
            return report
        probe = prober_for or candidate_prober(paths, profile, waiting=waiting)
        advance(paths, profile, report, env=env, registry=Registry.within_ttl(paths), prober_for=probe, floor=None,
                may_download=True, progress=progress, allow_unverified=True, cwd=cwd)
    if report.runs is None:
        raise HealthError(f"{profile.name}: {_nothing_runs(report)}",
                          hint=f"`pinman versions --remote` lists the releases; `pinman check {profile.name}` "
                               f"tries the next candidates, `pinman bisect {profile.name}` finds the newest one "
                               "this endpoint accepts")
    return report


def _nothing_runs(report: ChannelReport) -> str:
    if not report.eligible:
        soon = [w for w in report.waiting if w.get("ready_at")]
        why = f"{len(report.waiting)} soaking" + (f" (the first is ready {_when(min(w['ready_at'] for w in soon))})"
                                                  if soon else "")
        return f"no release of {report.spec} is a candidate here yet: {why}"
    tried = "; ".join(f"{t['version']} {t['outcome']}" + (f" ({t['rejected']})" if t.get("rejected") else "")
                      for t in report.tried)
    return f"no candidate of {report.spec} passed a probe against {report.endpoint}: {tried or 'none tried'}"


def _when(ts: float) -> str:
    import time

    return time.strftime("%Y-%m-%d %H:%M", time.localtime(ts))


def check_channel(paths: Paths, profile: Profile, *, environ: Mapping[str, str] | None = None,
                  auto_rollback: bool | None = None, isolated_home: bool = False,
                  prober_for: ProberFor | None = None, progress: Callable[[str], None] | None = None,
                  waiting: Any = None, periodic: bool = False, cwd: Path | None = None) -> ChannelReport:
    """Check what a guarded profile runs, then try newer candidates (see the module docstring).

    `auto_rollback=False` (--no-rollback) switches nothing, forward included: no remedy, rollback,
    recovery or promotion; `periodic` is the unattended mode: nothing downloaded for what runs,
    candidates only with `[update] auto`. `prober_for` (a complete env -> its probe) stands in for
    the real client everywhere, candidates included."""
    from pinman.policy.ladder import check as ladder_check

    env = run_env(paths, profile, environ)
    endpoint = endpoint_of(env.get("ANTHROPIC_BASE_URL"))
    state = channel_state(paths, profile)
    report = ChannelReport(profile.name, profile.claude_code.version, endpoint, state.version if state else None)
    report.runs = report.before
    if state is not None:
        report.health = ladder_check(paths, profile, environ=environ,
                                     auto_rollback=False if not state.verified else auto_rollback,
                                     auto_recover=auto_rollback, switch=auto_rollback is not False,
                                     remedies_level=None if state.verified else _unverified_level(paths, profile),
                                     isolated_home=isolated_home, prober_for=prober_for, progress=progress,
                                     may_install=not periodic, waiting=waiting)
        if not _after_check(paths, profile, report, state.version, state.verified, state.endpoint):
            return report
    moving = auto_rollback is not False and (not periodic or applied_update(paths, profile).auto)
    registry = _registry(paths, online=not periodic or moving)  # unattended and not moving: no network
    if not moving:
        _list_waiting(paths, profile, report, registry, periodic)
        return report
    with promotion_lock(paths, wait=not periodic, say=progress) as got:
        if not got:
            report.stopped = "another promotion is running on this machine: candidates wait for the next check"
            return report
        now = channel_state(paths, profile)  # another process may have promoted meanwhile
        floor = now.version if now is not None and (now.verified or now.version != report.before) else None
        if now is not None and now.version != report.before:
            report.runs = now.version
        probe = prober_for or candidate_prober(paths, profile, isolated_home=isolated_home, waiting=waiting)
        advance(paths, profile, report, env=env, registry=registry, prober_for=probe, floor=floor,
                may_download=True, progress=progress, cwd=cwd)
    return report


def _unverified_level(paths: Paths, profile: Profile) -> str:
    """What a check of a version chosen unverified may switch on: cheap switches at most, as for
    any candidate (`promotion.candidate_level`)."""
    from pinman.policy.promotion import candidate_level

    return candidate_level(paths, profile)


def _after_check(paths: Paths, profile: Profile, report: ChannelReport, version: str, verified: bool,
                 verified_at: str | None) -> bool:
    """Read the check of what runs: True when candidates may be tried after it. Passing with its
    remedy (kept, or found now) verifies it here as passing plainly does."""
    assert report.health is not None
    kind = report.health.outcome.kind.value
    if report.health.version == version and (kind == "ok" or report.health.action == "remedied"):
        mark_verified(paths, profile, version, report.endpoint)
        report.verified_now = not verified or verified_at != report.endpoint
    elif report.health.version == version and kind == "schema" and not verified:
        # chosen when no probe could run, and rejected now that one can: it never was verified
        report.refused.append({"version": version, "rejected": report.health.outcome.rejected,
                               "message": report.health.outcome.message})
    elif kind not in ("ok", "schema"):
        report.inconclusive = True
        report.stopped = f"what runs could not be checked ({kind}): no candidate is tried"
        return False
    return True


def _registry(paths: Paths, *, online: bool) -> Registry:
    from pinman.npm.registry import Registry

    return Registry.within_ttl(paths) if online else Registry(paths, offline=True)


def _list_waiting(paths: Paths, profile: Profile, report: ChannelReport, registry: Registry,
                  periodic: bool) -> None:
    """Without promoting: which candidates wait (from what the registry cache knows)."""
    try:
        found, report.problem = candidates(paths, profile, registry, report.endpoint)
    except PinmanError as e:
        report.problem = e.message
        return
    report.eligible = list(found.newer_than(report.runs))
    report.waiting = [{"version": s.version, "ready_at": s.ready_at} for s in found.waiting(report.runs)]
    report.stopped = ("auto = false: candidates wait for `pinman check " + profile.name + "`" if periodic
                      else "--no-rollback: nothing switches")
    if periodic and report.eligible and note_waiting(paths, profile, report.eligible[0]):
        report.tell = (f"pinman: {profile.name}: {len(report.eligible)} newer release(s) wait for verification "
                       f"(newest {report.eligible[0]}): `pinman check {profile.name}` tries them · pinman status")


def advance(paths: Paths, profile: Profile, report: ChannelReport, *, env: Mapping[str, str], registry: Registry,
            prober_for: ProberFor, floor: str | None, may_download: bool, progress: Callable[[str], None] | None,
            allow_unverified: bool = False, cwd: Path | None = None) -> None:
    """Try the eligible candidates newer than `floor`, newest first; promote the first that passes
    (plainly or with a cheap switch, kept as its remedy)."""
    import time

    found, report.problem = candidates(paths, profile, registry, report.endpoint)
    report.waiting = [{"version": s.version, "ready_at": s.ready_at} for s in found.waiting(floor)]
    todo = list(found.newer_than(floor))
    report.eligible = todo
    journal, key, here = Journal(paths), profile_key(profile.name, profile.project_root), cwd or Path.cwd()
    for version in todo[:MAX_TRIES]:
        fresh = _install(paths, profile, registry, version, may_download, progress, report)
        if fresh is None:
            continue
        start = time.monotonic()
        try:
            verdict = verify_candidate(paths, profile, version, env, prober_for)
        except PinmanError as e:
            report.tried.append({"version": version, "outcome": "unavailable", "message": e.message})
            continue
        event = record(journal, key, verdict, env)
        o = verdict.outcome
        report.tried.append({"version": version, "outcome": o.kind.value, "rejected": o.rejected,
                             "message": o.message, "duration": round(time.monotonic() - start, 3),
                             "switches": verdict.switches, "plain": verdict.plain.kind.value,
                             **_engines(registry, version)})
        if event == "passed" or (allow_unverified and event == "candidate" and verdict.plain.kind.value != "schema"):
            _promote(paths, profile, report, verdict, fresh=fresh, env=env, cwd=here)
            return
        if fresh:  # refused, or not judged: its download is not kept
            gone, freed = remove(paths, [version], kept(paths, here))
            report.removed += gone
            report.freed += freed
        if event == "refused":
            report.refused.append({"version": version, "rejected": o.rejected, "message": o.message,
                                   "tried": verdict.notes})
            continue
        report.inconclusive = True
        report.stopped = f"{version}: {o.kind.value}: {o.message}: no promotion until a probe can judge"
        return
    if len(todo) > MAX_TRIES:
        report.stopped = (f"tried the {MAX_TRIES} newest candidates; {len(todo) - MAX_TRIES} older ones wait "
                          "for the next check")


def _engines(registry: Registry, version: str) -> dict[str, Any]:
    """What the release declares for node, and whether the node here satisfies it: reported, never
    used to skip it (2.x declares node >= 22 but runs a native binary on older node; the probe judges)."""
    from pinman.npm.pick import engine_ok
    from pinman.npm.registry import detect_node_version

    info = registry.packument(CLAUDE_CODE).versions.get(version)
    declared = info.engines_node if info is not None else None
    node = detect_node_version() if declared else None
    return {"engines": declared, "engines_ok": engine_ok(declared, node) if declared and node else None,
            "node": node}


def _install(paths: Paths, profile: Profile, registry: Registry, version: str, may_download: bool,
             progress: Callable[[str], None] | None, report: ChannelReport) -> bool | None:
    """Make sure `version` is in the store: False when it was, True when installed now (aside,
    checked against the registry's hash), None when it cannot be (said in the report)."""
    from pinman.install.integrity import install_checked
    from pinman.install.store import Store
    from pinman.runtime.resolution import installed

    if installed(paths, version) is not None:
        return False
    if not may_download:
        report.tried.append({"version": version, "outcome": "not-installed", "message": "not downloaded here"})
        return None
    try:
        info = registry.packument(CLAUDE_CODE).versions.get(version)
        install_checked(Store(paths), profile.name, version, info.integrity if info else None, {}, progress)
    except PinmanError as e:
        report.tried.append({"version": version, "outcome": "unavailable", "message": e.message})
        return None
    report.downloaded += installed_size(paths, version)
    return True


def _promote(paths: Paths, profile: Profile, report: ChannelReport, verdict: Verdict, *, fresh: bool,
             env: Mapping[str, str], cwd: Path) -> None:
    from pinman.runtime.remedies import describe

    version, verified = verdict.version, verdict.passed
    message = _promoted_message(profile.name, report.endpoint, verdict, report.tried[-1]["outcome"])
    _, remedy = promote(paths, profile, version, endpoint=report.endpoint, verified=verified, downloaded=fresh,
                        env=env, message=message, verdict=verdict if verified else None)
    report.promoted = {"from": report.before, "to": version, "verified": verified, "message": message,
                       "remedy": describe(remedy) if remedy is not None else None}
    report.runs = version
    gone, freed = clean_up(paths, profile, cwd)
    report.removed += gone
    report.freed += freed


def _promoted_message(name: str, endpoint: str, verdict: Verdict, outcome: str) -> str:
    """`stable moved to 2.1.335 with CLAUDE_CODE_EFFORT_LEVEL=auto, verified at gw.internal:443 — …`"""
    from pinman.policy.candidates import by_name

    host = endpoint.split("://", 1)[-1]
    if not verdict.passed:
        return (f"{name} runs {verdict.version} NOT verified: no probe could run at {host} ({outcome}); "
                "the next check that can probe verifies it")
    if not verdict.switches:
        return f"{name} moved to {verdict.version}, verified at {host}"
    on = ", ".join(f"{k}={v}" for k, v in verdict.switches.items())
    costs = "; ".join(s.tradeoff for s in by_name(on.split(", ")))
    lines = " and ".join(f'{k} = "{v}"' for k, v in verdict.switches.items())
    return (f"{name} moved to {verdict.version} with {on}, verified at {host} — {', '.join(verdict.fixed)} "
            f"rejected there without it; {costs}; for everyone, add {lines} to [env] of {name}")
