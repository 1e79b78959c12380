"""Guarded upgrade: install a candidate, probe it against the profile's endpoint, and move the
pin only when the endpoint accepts it; a schema rejection stays in the journal (and, if asked,
in the file's bad list) and the pin does not move."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pinman.errors import ExitCode, UsageError
from pinman.paths import Paths
from pinman.names import CLAUDE_CODE
from pinman.names import Progress
from pinman.team.common import Skip, _append_bad, _clean, _is_exact, _not_bad, _registry, _store, _write, bad_skips, editable, profile_lock, reload
from pinman.team.lock import LockData, lock_data, pin_changes
from pinman.install.integrity import install_checked
from pinman.health.classify import classify
from pinman.npm.semver import compare, parse_version
from pinman.npm.spec import parse_spec
from pinman.profile.discovery import find_profile
from pinman.runtime.channel import is_guarded
from pinman.redact import secret_values
from pinman.state.overrides import profile_key
from pinman.record import record

if TYPE_CHECKING:
    from pinman.health.outcome import Outcome
    from pinman.profile.model import Profile
    from pinman.npm.registry import Registry
    from pinman.health.prober import Prober
    from pinman.install.store import Store


# --------------------------------------------------------------------------- guarded upgrade

# (the profile, the installed candidate, the env to probe it with) -> the verdict that decides
Verify = Callable[["Profile", str, Mapping[str, str]], "Outcome"]


@record(frozen=False)
class UpgradeReport:
    profile: str
    path: Path
    spec: str
    current: str | None
    candidate: str
    endpoint: str
    action: str  # dry-run | current | moved | rejected | inconclusive
    detail: str = ""
    skipped: list[Skip] = field(default_factory=list)
    engines: dict[str, Any] | None = None  # newer releases npm passes over for engines.node (views.engines)
    outcome: Outcome | None = None
    written: str | None = None  # "version" (exact pin) or "locked"
    recorded: bool = False  # the candidate was added to the file's bad list
    remedy: dict[str, Any] | None = None  # the client switches the candidate passed with (policy.upgrade)

    @property
    def exit_code(self) -> ExitCode:
        return {"rejected": ExitCode.BROKEN, "inconclusive": ExitCode.NOT_CLIENT}.get(self.action, ExitCode.OK)

    def to_json(self) -> dict[str, Any]:
        o = self.outcome
        return {"profile": self.profile, "file": str(self.path), "spec": self.spec, "current": self.current,
                "candidate": self.candidate, "endpoint": self.endpoint, "action": self.action,
                "detail": self.detail, "skipped": [vars(s) for s in self.skipped], "skipped_engines": self.engines,
                "outcome": o.kind.value if o else None, "rejected": o.rejected if o else None,
                "message": o.message if o else None, "written": self.written, "recorded": self.recorded,
                "remedy": self.remedy, "exit_code": int(self.exit_code)}


def upgrade(paths: Paths, cwd: Path, name: str, *, to: str | None = None, dry_run: bool = False,
            record: bool = False, isolated_home: bool = False, environ: Mapping[str, str] | None = None,
            registry: Registry | None = None, store: Store | None = None, prober: Prober | None = None,
            progress: Progress | None = None, verify: Verify | None = None) -> UpgradeReport:
    """Install a candidate, probe it against the profile's endpoint, and move the pin only if ok.

    `verify` (handed in by `policy.upgrade`) replaces the plain probe: it may let the candidate pass
    with client switches, which the caller keeps as a remedy once the pin moved."""
    from pinman.state.journal import Journal, endpoint_of
    from pinman.health.prober import run_env

    profile = find_profile(name, cwd, paths)
    if not dry_run:
        editable(profile)
    if is_guarded(paths, profile):
        raise UsageError(f"{name} is a guarded channel: it moves only to releases verified on this machine",
                         hint=f"`pinman check {name}` tries newer candidates; `pinman lock {name}` pins what "
                              "runs here for everyone, and `upgrade` then moves that lock")
    pin = profile.claude_code
    spec = to or (pin.version if not _is_exact(pin.version) else "latest")
    env = run_env(paths, profile, environ)
    endpoint = endpoint_of(env.get("ANTHROPIC_BASE_URL"))
    key = profile_key(profile.name, profile.project_root)
    reg = _registry(paths, registry)
    candidate, skipped, engines = _candidate(profile, spec, Journal(paths).known_bad(key, endpoint), endpoint, reg)
    report = UpgradeReport(name, profile.path, spec, pin.exact, candidate, endpoint, "dry-run",
                           skipped=skipped, engines=engines)
    if candidate == pin.exact:
        also = f", skipping known-bad {', '.join(s.version for s in skipped)}" if skipped else ""
        report.action, report.detail = "current", f"{name} already runs {candidate} ({spec}{also})"
        return report
    if to is None and pin.exact and _older(candidate, pin.exact):
        report.action = "current"
        report.detail = f"{name} runs {pin.exact}, newer than {spec} ({candidate})"
        return report
    if dry_run:
        report.detail = f"would install {candidate} and check it against {endpoint}"
        return report
    data = lock_data(reg, candidate, pin.native)
    install_checked(_store(paths, store), name, candidate, data.integrity, data.native, progress)
    if verify is not None:
        outcome = verify(profile, candidate, env)
    else:
        outcome = _probe(paths, profile, env, key, endpoint, candidate, prober, isolated_home)
    report.outcome = outcome
    if outcome.kind.value == "ok":
        _move(paths, profile, spec, data, reg, report)
    elif outcome.kind.value == "schema":
        _reject(paths, profile, env, key, candidate, outcome, record, report)
    else:
        report.action = "inconclusive"
        report.detail = f"{outcome.kind.value}: {outcome.message}; {outcome.advice}; the pin stays"
    return report


def _candidate(profile: Profile, spec: str, journal_bad: Mapping[str, Any], endpoint: str,
               registry: Registry) -> tuple[str, list[Skip], dict[str, Any] | None]:
    """The version to try, the known-bad ones passed over, and the newer ones engines.node kept out."""
    from pinman.views.engines import engine_skips

    try:
        parse_spec(spec)
    except ValueError as e:
        raise UsageError(str(e), hint="e.g. 2.1.331, latest or ^2.1.0") from None
    skips = bad_skips(profile)
    if _is_exact(spec):
        exact = _not_bad(profile, _clean(spec), skips)
        # Asked for by name: a local verdict from an earlier check may be out of date, so try it.
        return registry.resolve(CLAUDE_CODE, exact).version, [], None
    for version, entry in journal_bad.items():
        skips.setdefault(version, f"rejected by {endpoint} in an earlier check"
                         + (f" ({entry.rejected})" if getattr(entry, "rejected", None) else ""))
    res = registry.resolve(CLAUDE_CODE, spec, skip=skips)
    engines = engine_skips(registry.packument(CLAUDE_CODE), res.engine_skipped, res.node)
    return res.version, [Skip(v, skips[v]) for v in res.skipped], engines


def _older(a: str, b: str) -> bool:

    va, vb = parse_version(a), parse_version(b)
    return va is not None and vb is not None and compare(va, vb) < 0


def _probe(paths: Paths, profile: Profile, env: Mapping[str, str], key: str, endpoint: str, version: str,
           prober: Prober | None, isolated_home: bool) -> Outcome:
    from dataclasses import replace

    from pinman.state.journal import Entry, Journal
    from pinman.health.prober import make_prober

    # Always the CLI probe: a direct HTTP request says nothing about what the candidate sends.
    as_cli = replace(profile, health=replace(profile.health, probe="cli"))
    probe = prober or make_prober(paths, as_cli, env, isolated_home=isolated_home)
    result = probe(version)
    outcome = classify(result, secret_values(env))
    Journal(paths).append(Entry("check", key, version, endpoint=endpoint, outcome=outcome.kind.value,
                                status=outcome.status, message=outcome.message[:300],
                                rejected=outcome.rejected, duration=round(result.duration, 3),
                                extra={"via": "upgrade"}), env)
    return outcome


def _move(paths: Paths, profile: Profile, spec: str, data: LockData, registry: Registry,
          report: UpgradeReport) -> None:
    """Write the candidate into the file: as `locked` when it is what the profile's own tag or
    range resolves to, else as an exact pin (the file must not claim a lock its spec disagrees with)."""
    with profile_lock(paths, profile.path):
        fresh = reload(profile)
        pin = fresh.claude_code
        as_lock = not _is_exact(pin.version) and registry.resolve(
            CLAUDE_CODE, pin.version, skip=bad_skips(fresh)).version == data.version
        _write(fresh, pin_changes(fresh, data, exact=not as_lock))
    report.action = "moved"
    report.written = "locked" if as_lock else "version"
    how = (f"locked {pin.version} at {data.version}" if as_lock
           else f"pinned {data.version}" + ("" if _is_exact(pin.version) else f" (was {pin.version})"))
    report.detail = f"{data.version} checked ok against {report.endpoint}: {how} in {profile.path.name}"


def _reject(paths: Paths, profile: Profile, env: Mapping[str, str], key: str, version: str,
            outcome: Outcome, record: bool, report: UpgradeReport) -> None:
    from pinman.state.journal import Entry, Journal

    what = outcome.rejected or "the request"
    reason = f"{outcome.message} ({report.endpoint})"
    Journal(paths).append(Entry("bad", key, version, endpoint=report.endpoint, outcome="schema",
                                status=outcome.status, message=outcome.message[:300],
                                rejected=outcome.rejected, extra={"via": "upgrade"}), env)
    report.action = "rejected"
    report.detail = f"{report.endpoint} rejects {what} sent by {version}; the pin stays at {report.current}"
    if record:
        with profile_lock(paths, profile.path):
            fresh = reload(profile)
            if fresh.claude_code.is_bad(version) is None:
                _append_bad(fresh, version, reason)
        report.recorded = True
