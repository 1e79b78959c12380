"""The bisect driver: the newest version an endpoint accepts, found with real installs and real
probes (the search itself is `pinman.bisect.search`).

`run` installs and probes through the profile's `[health]` probe, records every verdict in the
journal (so rollbacks and upgrades use them), saves its state after each probe so an interrupted
bisect resumes (`pinman.state.bisect_state`), and removes the installs it made that nobody needs
afterwards.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from pinman.errors import PinmanError, UsageError
from pinman.paths import Paths
from pinman.names import CLAUDE_CODE
from pinman.bisect.report import BisectReport, Event, OnEvent
from pinman.bisect.search import OK, Probe, SearchResult, search
from pinman.state.bisect_state import State, load_state, save_state, state_path
from pinman.names import clean_version
from pinman.errors import InstallError
from pinman.health.classify import classify
from pinman.install.store import Store
from pinman.npm.pick import sort_versions
from pinman.npm.semver import clean, compare, parse_version
from pinman.redact import secret_values
from pinman.runtime.resolution import target
from pinman.state.fsutil import make_dirs
from pinman.state.overrides import profile_key
from pinman.views.inventory import protected

if TYPE_CHECKING:
    from pinman.fingerprint.fingerprints import Fingerprint
    from pinman.health.result import ProbeResult
    from pinman.state.journal import Journal
    from pinman.profile.model import Profile


def candidates(published: Iterable[str], good: str, bad: str,
               skip: Mapping[str, str]) -> tuple[list[str], dict[str, str]]:
    """Published releases strictly between good and bad, oldest first, without known-bad ones.

    Returns (candidates, {skipped version: why}). Prereleases never count: nobody pins them.
    """

    g, b = parse_version(good), parse_version(bad)
    if g is None or b is None:
        raise UsageError(f"not exact versions: {good!r}, {bad!r}")
    between: list[str] = []
    skipped: dict[str, str] = {}
    for v in sort_versions(published):
        p = parse_version(v)
        if p is None or p.prerelease or not (compare(g, p) < 0 < compare(b, p)):
            continue
        if v in skip:
            skipped[v] = skip[v]
        else:
            between.append(v)
    return between, skipped


def run(paths: Paths, profile: Profile, *, good: str | None = None, bad: str | None = None,
        keep: bool = False, environ: Mapping[str, str] | None = None, isolated_home: bool = False,
        on_event: OnEvent | None = None, cwd: Path | None = None,
        prober: Callable[[str], ProbeResult] | None = None,
        fingerprinter: Callable[[str], Fingerprint] | None = None,
        installer: Callable[[str], object] | None = None,
        published: Iterable[str] | None = None) -> BisectReport:
    """Bisect `profile` against the endpoint its environment names; see the module docstring.

    `prober`, `fingerprinter`, `installer` and `published` replace the real probe, the offline
    fingerprint, the install from the registry and the registry's version list (tests).
    """
    from pinman.state.journal import Journal, endpoint_of
    from pinman.health.prober import make_prober, run_env
    from pinman.profile.trust import applied_health

    start = time.monotonic()
    emit = on_event or (lambda _e: None)
    probe_kind = applied_health(paths, profile).probe  # what make_prober will run
    if prober is None and probe_kind != "cli":
        raise UsageError(
            f"bisect needs the CLI probe, and {profile.name} sets [health] probe = {probe_kind!r}",
            hint=f"the {probe_kind} probe does not run Claude Code, so every version "
                 "would get the same answer; set probe = \"cli\" for the bisect")
    env = run_env(paths, profile, environ)
    endpoint = endpoint_of(env.get("ANTHROPIC_BASE_URL"))
    key = profile_key(profile.name, profile.project_root)
    journal = Journal(paths)
    path = state_path(paths, key, endpoint)
    with _exclusive(paths, path, profile.name, endpoint):
        saved = load_state(path, Probe.from_json)
        good, bad = _ends(paths, profile, journal, key, endpoint, good, bad, saved)
        state = _start_state(paths, path, saved, State(key, endpoint, good, bad), profile,
                             journal, published, emit)
        probe = prober or make_prober(paths, profile, env, isolated_home=isolated_home)
        resumed = sum(len(ps) for ps in state.observed.values())
        install = installer or (lambda v: _install_version(paths, v))
        oracle = _Oracle(paths, state, path, probe, install, journal, env, emit)
        result = search([good, *state.candidates, bad], oracle, known=state.observed,
                        on_probe=lambda p: emit(Event("result", p.version, p)))
        report = BisectReport(profile.name, endpoint, result, list(state.candidates),
                              dict(state.skipped), resumed)
        if result.status != "stopped":  # a stopped bisect keeps its state and installs to resume
            if result.status == "found":
                _explain(report, paths, fingerprinter, emit)
                _record_answer(journal, report, key, env)
            # The state goes first: while it exists, prune (and this clean-up) keep its installs.
            path.unlink(missing_ok=True)
            if not keep:
                report.removed = _clean_up(paths, state, result, cwd or Path.cwd(), emit)
    report.duration = time.monotonic() - start
    return report


def _ends(paths: Paths, profile: Profile, journal: Journal, key: str, endpoint: str,
          good: str | None, bad: str | None, saved: State | None) -> tuple[str, str]:
    """good: --good, else the last known-good here; bad: --bad, else the profile's pin (not a
    rollback override: the override is the known-good the pin was rolled back to).

    An interrupted bisect towards the same bad version keeps its good end: its own verdicts have
    moved the last known-good since, and the same command must resume it.
    """

    if bad is None:
        bad = target(paths, profile, use_override=False).version
    if good is None and saved is not None and saved.bad == clean_version(bad):
        good = saved.good
    if good is None:
        kg = journal.last_known_good(key, endpoint, exclude=[bad])
        if kg is None:
            raise UsageError(f"no known-good version of {profile.name} recorded for {endpoint}",
                             hint=f"name one: pinman bisect {profile.name} --good VERSION")
        good = kg.version
    ends = []
    for flag, raw in (("--good", good), ("--bad", bad)):
        v = clean_version(raw)
        if v is None:
            raise UsageError(f"{flag} needs an exact version, not {raw!r}")
        ends.append(v)
    g, b = ends
    pg, pb = parse_version(g), parse_version(b)
    assert pg is not None and pb is not None
    if compare(pg, pb) >= 0:
        raise UsageError(f"the good version {g} is not older than the bad one {b}",
                         hint=f"pinman bisect {profile.name} --good OLDER --bad NEWER")
    return g, b


class _exclusive:
    """One bisect per profile and endpoint at a time: two would fight over installs and state."""

    def __init__(self, paths: Paths, state: Path, name: str, endpoint: str) -> None:
        from filelock import FileLock


        make_dirs(paths.locks)
        self._lock = FileLock(str(paths.lock(f"bisect-{state.stem}")), timeout=0, mode=0o600)
        self._what = f"{name} against {endpoint}"

    def __enter__(self) -> None:
        from filelock import Timeout

        try:
            self._lock.acquire()
        except Timeout:
            raise PinmanError(f"another bisect of {self._what} is running",
                              hint="wait for it, or stop it; its state is kept") from None

    def __exit__(self, *exc: object) -> None:
        self._lock.release()


def _start_state(paths: Paths, path: Path, saved: State | None, fresh: State, profile: Profile,
                 journal: Journal, published: Iterable[str] | None, emit: OnEvent) -> State:
    """Resume the saved state of this very bisect, or compute the window afresh."""
    if saved is not None and saved.matches(fresh):
        emit(Event("resume", detail=str(sum(len(ps) for ps in saved.observed.values()))))
        return saved
    if saved is not None:
        fresh.installed = saved.installed  # another window's installs: still ours to clean up
    skip = {b.version: b.reason or "in the profile's bad list" for b in profile.claude_code.bad}
    for v, e in journal.known_bad(fresh.profile, fresh.endpoint).items():
        skip.setdefault(v, f"{e.rejected or 'request'} rejected by this endpoint")
    if published is None:
        from pinman.npm.registry import Registry

        published = Registry(paths).packument(CLAUDE_CODE).versions
    fresh.candidates, fresh.skipped = candidates(published, fresh.good, fresh.bad, skip)
    emit(Event("window", detail=f"{len(fresh.candidates)}"))
    save_state(path, fresh)
    return fresh


class _Oracle:
    """Install if needed, probe, classify; record each verdict in the state and the journal."""

    def __init__(self, paths: Paths, state: State, path: Path,
                 probe: Callable[[str], ProbeResult], install: Callable[[str], object],
                 journal: Journal, env: Mapping[str, str], emit: OnEvent) -> None:
        self.paths, self.state, self.path = paths, state, path
        self.probe, self.install, self.journal, self.env, self.emit = probe, install, journal, env, emit

    def __call__(self, version: str) -> Probe:
        from pinman.state.journal import Entry

        self._install(version)
        self.emit(Event("probe", version))
        result = self.probe(version)
        o = classify(result, secret_values(self.env))
        p = Probe(version, o.kind.value, o.message, o.rejected, o.status, round(result.duration, 3))
        if p.is_verdict:
            self.state.observed.setdefault(version, []).append(p)
            save_state(self.path, self.state)
            event = "good" if p.kind == OK else "bad"
            self.journal.append(Entry(event, self.state.profile, version,
                                      endpoint=self.state.endpoint, outcome=p.kind, status=p.status,
                                      message=p.message[:300], rejected=p.rejected,
                                      duration=p.duration, extra={"via": "bisect"}), self.env)
        return p

    def _install(self, version: str) -> None:
        from pinman.runtime.resolution import installed

        if installed(self.paths, version) is not None:
            return
        self.emit(Event("install", version))
        try:
            self.install(version)
        except PinmanError as e:
            raise InstallError(f"bisect stopped: cannot install {version}: {e.message}",
                               hint="the state is saved: run the same command to resume") from None
        self.state.installed.append(version)
        save_state(self.path, self.state)


def _install_version(paths: Paths, version: str) -> object:
    from pinman.fingerprint.fingerprints import install_version

    return install_version(paths, version)


def _explain(report: BisectReport, paths: Paths,
             fingerprinter: Callable[[str], Fingerprint] | None, emit: OnEvent) -> None:
    """What the first failing version sends that the newest working one does not."""
    from pinman.fingerprint.fingerprints import diff, fingerprint

    take = fingerprinter or (lambda v: fingerprint(paths, v))
    nw, ff = report.result.newest_working, report.result.first_failing
    assert nw is not None and ff is not None
    try:
        emit(Event("fingerprint", f"{nw} {ff}"))
        report.diff = diff(take(nw), take(ff))
    except PinmanError as e:  # the answer stands without the explanation
        report.fingerprint_error = e.message


def _record_answer(journal: Journal, report: BisectReport, key: str, env: Mapping[str, str]) -> None:
    """Restate the newest working version last, so it becomes this endpoint's last known-good
    (the journal picks the most recent ok verdict; a re-check of an older end may be later)."""
    from pinman.state.journal import Entry

    r = report.result
    assert r.newest_working is not None
    ok = r.observed[r.newest_working][-1]
    journal.append(Entry("good", key, r.newest_working, endpoint=report.endpoint, outcome=OK,
                         status=ok.status, message=f"newest working (bisect); first failing "
                         f"{r.first_failing}: {report.rejected or 'rejected'}",
                         extra={"via": "bisect", "first_failing": r.first_failing}), env)


def _clean_up(paths: Paths, state: State, result: SearchResult, cwd: Path,
              emit: OnEvent) -> list[str]:
    """Remove the installs this bisect made, except the answer, known-goods and versions in use."""

    keep = protected(paths, cwd)
    if result.newest_working:
        keep.add(result.newest_working)
    store, removed = Store(paths), []
    for v in state.installed:
        if v in keep or store.get(CLAUDE_CODE, v) is None:
            continue
        emit(Event("remove", v))
        store.remove(CLAUDE_CODE, v)
        removed.append(v)
    return removed
