"""Bisect: the newest version an endpoint accepts, found with real installs and real probes.

The search is a pure function over a sorted list `[good, *candidates, bad]` and an oracle that
probes one version (`search`). It assumes the endpoint's verdicts are monotone (ok up to some
version, schema after it) but never trusts it silently: the reported pair is a newest-working
version that probed ok next to a first-failing one that probed schema, and the probes the budget
leaves over re-check the answer and the two claimed ends. A verdict that contradicts another
(a version that works above one that fails, or one version answering both ways) is reported as
`inconsistent`, never turned into an answer. Anything but ok/schema (timeout, 529, auth, …) is
retried once, then the search stops without an answer.

Budget: at most ⌈log2(n)⌉ + 2 verdicts for n candidates. Binary search needs ⌈log2(n+1)⌉, plus
one probe of `good` or `bad` when the boundary lands on it; the rest goes to the re-checks.

The driver (`run`) installs and probes through the profile's `[health]` probe, records every
verdict in the journal (so rollbacks and upgrades use them), saves its state after each probe so
an interrupted bisect resumes, and removes the installs it made that nobody needs afterwards.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pinman.errors import ExitCode, PinmanError, UsageError
from pinman.paths import Paths
from pinman.names import CLAUDE_CODE

if TYPE_CHECKING:
    from pinman.fingerprint.fingerprints import Diff, Fingerprint
    from pinman.health.probe import ProbeResult
    from pinman.state.journal import Journal
    from pinman.profile.model import Profile

OK, SCHEMA = "ok", "schema"
SCHEMA_VERSION = 1


@dataclass(frozen=True)
class Probe:
    """One attempt at one version: a verdict (ok/schema) or another outcome kind."""

    version: str
    kind: str  # "ok", "schema", or what else happened: "timeout", "overloaded", "auth", …
    message: str = ""
    rejected: str | None = None
    status: int | None = None
    duration: float = 0.0
    attempt: int = 1  # 2 for the retry after a non-verdict
    known: bool = False  # answered from a saved state, not probed in this run

    @property
    def is_verdict(self) -> bool:
        return self.kind in (OK, SCHEMA)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> Probe:
        return cls(**{k: v for k, v in doc.items() if k in cls.__dataclass_fields__})


Oracle = Callable[[str], Probe]


@dataclass
class SearchResult:
    status: str  # found | bad-works | good-fails | inconsistent | stopped
    versions: list[str]  # [good, *candidates, bad]
    newest_working: str | None = None
    first_failing: str | None = None
    detail: str = ""
    attempts: list[Probe] = field(default_factory=list)  # every oracle call of this run, in order
    observed: dict[str, list[Probe]] = field(default_factory=dict)  # verdicts, known and new
    conflict: tuple[str, str] | None = None  # (fails, works) that contradict each other
    stopped_at: Probe | None = None

    @property
    def good(self) -> str:
        return self.versions[0]

    @property
    def bad(self) -> str:
        return self.versions[-1]

    @property
    def n(self) -> int:
        return len(self.versions) - 2

    @property
    def budget(self) -> int:
        return probe_budget(self.n)

    @property
    def verdicts(self) -> int:
        """Verdicts the search used, this run and saved ones: never more than `budget`."""
        return sum(len(v) for v in self.observed.values())

    @property
    def probes(self) -> int:
        """Verdicts probed in this run (saved ones and retried non-verdicts not counted)."""
        return sum(1 for p in self.attempts if p.is_verdict)


def probe_budget(n: int) -> int:
    return math.ceil(math.log2(max(n, 1))) + 2


class _Stop(Exception):
    def __init__(self, probe: Probe) -> None:
        self.probe = probe


def search(versions: Sequence[str], oracle: Oracle, *,
           known: Mapping[str, Sequence[Probe]] | None = None, retries: int = 1,
           on_probe: Callable[[Probe], None] | None = None) -> SearchResult:
    """Find adjacent (newest ok, first schema) in `versions` = [good, *candidates, bad], sorted.

    `known` holds verdicts from an earlier, interrupted run of the same search; they are used in
    place of probes, so a resumed search asks the same questions and probes only the new ones.
    """
    if len(versions) < 2:
        raise ValueError("need at least the good and the bad version")
    res = SearchResult("found", list(versions))
    saved = {v: list(ps) for v, ps in (known or {}).items()}
    budget = probe_budget(len(versions) - 2)

    def ask(i: int, nth: int = 0) -> Probe:
        """The nth verdict for versions[i]: saved, or probed now (a non-verdict retried)."""
        v = versions[i]
        have = res.observed.get(v, [])
        if nth < len(have):
            return have[nth]
        if nth < len(saved.get(v, ())):
            p = replace(saved[v][nth], known=True)
            res.observed.setdefault(v, []).append(p)
            _notify(on_probe, p)
            return p
        for attempt in range(1, retries + 2):
            p = replace(oracle(v), version=v, attempt=attempt, known=False)
            res.attempts.append(p)
            _notify(on_probe, p)
            if p.is_verdict:
                res.observed.setdefault(v, []).append(p)
                return p
        raise _Stop(p)

    try:
        lo, hi = _bisect(ask, len(versions))
        if not _verify(res, ask, lo, hi):
            return res
        res.newest_working, res.first_failing = versions[lo], versions[hi]
        _recheck(res, ask, lo, hi, budget)
    except _Stop as stop:
        p = stop.probe
        kinds = [a.kind for a in res.attempts[-(retries + 1):]]
        said = f"{p.kind} twice" if len(set(kinds)) == 1 and len(kinds) == 2 else ", then ".join(kinds)
        res.status, res.stopped_at = "stopped", p
        res.newest_working = res.first_failing = None
        res.detail = f"{p.version}: {said} ({p.message}); stopped rather than guess"
        return res
    _check_consistency(res)
    if res.status == "found":
        res.detail = f"{res.newest_working} ok, {res.first_failing} schema"
    return res


def _notify(on_probe: Callable[[Probe], None] | None, p: Probe) -> None:
    if on_probe is not None:
        on_probe(p)


def _bisect(ask: Callable[[int], Probe], size: int) -> tuple[int, int]:
    """Binary search assuming versions[0] is ok and versions[-1] schema (verified afterwards)."""
    lo, hi = 0, size - 1
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if ask(mid).kind == OK:
            lo = mid
        else:
            hi = mid
    return lo, hi


def _verify(res: SearchResult, ask: Callable[..., Probe], lo: int, hi: int) -> bool:
    """Probe a boundary end the search only assumed (good or bad). False: no answer."""
    if ask(hi).kind != SCHEMA:  # only ever the bad end: every probed mid that failed said schema
        res.status = "bad-works"
        res.detail = f"{res.bad} works against this endpoint: there is no failing version to find"
        return False
    if ask(lo).kind != OK:  # only ever the good end
        res.status = "good-fails"
        res.detail = (f"{res.good} fails too: the endpoint changed since it was known good, "
                      "or --good is wrong; bisect again with an older --good")
        return False
    return True


def _recheck(res: SearchResult, ask: Callable[..., Probe], lo: int, hi: int, budget: int) -> None:
    """Spend what the budget leaves on the answer and the claimed ends, most useful first.

    A second probe of the newest working version (the one the user will pin) catches an endpoint
    that answers both ways; the claimed bad and good ends catch a working version above a failing
    one. Each is skipped once the budget is spent.
    """
    last = len(res.versions) - 1
    plan: list[tuple[int, int]] = [(lo, 1)]
    plan.append((last, 0) if hi != last else (hi, 1))
    plan.append((0, 0) if lo != 0 else (hi, 1))
    for i, nth in plan:
        if res.verdicts >= budget:
            return
        if nth < len(res.observed.get(res.versions[i], ())):
            continue  # already asked (plan entries can coincide when the window is tiny)
        ask(i, nth)


def _check_consistency(res: SearchResult) -> None:
    """Any version that answered both ways, or works above one that fails: no answer."""
    for v, ps in res.observed.items():
        if len({p.kind for p in ps}) > 1:
            res.status, res.conflict = "inconsistent", (v, v)
            res.newest_working = res.first_failing = None
            res.detail = (f"{v} answered both ok and schema: the endpoint is not consistent "
                          "(several gateway versions behind one URL?); no answer")
            return
    order = {v: i for i, v in enumerate(res.versions)}
    seen = sorted((order[v], ps[0].kind, v) for v, ps in res.observed.items() if v in order)
    failing = next(((i, v) for i, kind, v in seen if kind == SCHEMA), None)
    if failing is None:
        return
    above = [v for i, kind, v in seen if kind == OK and i > failing[0]]
    if above:
        res.status, res.conflict = "inconsistent", (failing[1], above[-1])
        res.newest_working = res.first_failing = None
        res.detail = (f"{above[-1]} works but the older {failing[1]} fails: this endpoint does not "
                      "reject versions from one point on; no single answer")


# ------------------------------------------------------------------------ the driver


@dataclass(frozen=True)
class Event:
    """Progress, for the CLI to show: the core never prints."""

    kind: str  # window | resume | install | probe | result | fingerprint | remove
    version: str = ""
    probe: Probe | None = None
    detail: str = ""


OnEvent = Callable[[Event], None]


@dataclass
class BisectReport:
    profile: str
    endpoint: str
    result: SearchResult
    candidates: list[str]
    skipped: dict[str, str]  # known-bad version -> why, left out of the candidates
    resumed: int = 0  # verdicts taken from a saved state
    diff: Diff | None = None
    fingerprint_error: str | None = None
    removed: list[str] = field(default_factory=list)
    duration: float = 0.0

    @property
    def rejected(self) -> str | None:
        ff = self.result.first_failing
        probes = self.result.observed.get(ff or "", [])
        return next((p.rejected for p in probes if p.rejected), None)

    @property
    def rejected_message(self) -> str | None:
        ff = self.result.first_failing
        return next((p.message for p in self.result.observed.get(ff or "", []) if p.message), None)

    @property
    def skipped_between(self) -> list[str]:
        """Known-bad versions between the answer's two versions: never probed, likely failing."""
        from pinman.npm.versions import compare, parse_version

        nw, ff = self.result.newest_working, self.result.first_failing
        if not nw or not ff:
            return []
        lo, hi = parse_version(nw), parse_version(ff)
        assert lo is not None and hi is not None
        return [v for v in self.skipped if (p := parse_version(v)) is not None
                and compare(lo, p) < 0 < compare(hi, p)]

    @property
    def pin_command(self) -> str | None:
        nw = self.result.newest_working
        return f"pinman pin {self.profile} {nw}" if self.result.status == "found" and nw else None

    @property
    def exit_code(self) -> ExitCode:
        return {"found": ExitCode.OK, "bad-works": ExitCode.OK,
                "stopped": ExitCode.NOT_CLIENT}.get(self.result.status, ExitCode.BROKEN)

    def to_json(self) -> dict[str, Any]:
        r = self.result
        return {
            "profile": self.profile,
            "endpoint": self.endpoint,
            "status": r.status,
            "detail": r.detail,
            "good": r.good,
            "bad": r.bad,
            "newest_working": r.newest_working,
            "first_failing": r.first_failing,
            "rejected": self.rejected,
            "message": self.rejected_message,
            "adds": self.diff.to_json() if self.diff else None,
            "adds_summary": self.diff.summary() if self.diff else None,
            "fingerprint_error": self.fingerprint_error,
            "pin": self.pin_command,
            "conflict": list(r.conflict) if r.conflict else None,
            "candidates": self.candidates,
            "skipped_known_bad": self.skipped,
            "skipped_between": self.skipped_between,
            "probes": r.probes,
            "verdicts": r.verdicts,
            "budget": r.budget,
            "resumed": self.resumed,
            "attempts": [p.to_json() for p in r.attempts],
            "removed": self.removed,
            "duration": round(self.duration, 3),
            "exit_code": int(self.exit_code),
        }


@dataclass
class State:
    """What an interrupted bisect needs to resume: saved after every probe."""

    profile: str
    endpoint: str
    good: str
    bad: str
    # The window as first computed: a resumed run keeps it, although its own verdicts have made
    # some candidates known-bad since, so that it asks the same questions again.
    candidates: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    observed: dict[str, list[Probe]] = field(default_factory=dict)
    installed: list[str] = field(default_factory=list)  # installs this bisect made
    started: float = field(default_factory=time.time)

    def matches(self, other: State) -> bool:
        return (self.profile, self.endpoint, self.good, self.bad) == (
            other.profile, other.endpoint, other.good, other.bad)

    def to_json(self) -> dict[str, Any]:
        return {"schema": SCHEMA_VERSION, "profile": self.profile, "endpoint": self.endpoint,
                "good": self.good, "bad": self.bad, "started": self.started,
                "candidates": self.candidates, "skipped": self.skipped,
                "updated": time.time(), "installed": self.installed,
                "observed": {v: [p.to_json() for p in ps] for v, ps in self.observed.items()}}

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> State:
        observed = {str(v): [Probe.from_json(p) for p in ps] for v, ps in doc["observed"].items()}
        return cls(str(doc["profile"]), str(doc["endpoint"]), str(doc["good"]), str(doc["bad"]),
                   [str(v) for v in doc["candidates"]], dict(doc.get("skipped") or {}), observed,
                   [str(v) for v in doc.get("installed", [])], float(doc.get("started") or time.time()))


def state_path(paths: Paths, profile_key: str, endpoint: str) -> Path:
    digest = hashlib.sha256(f"{profile_key}\n{endpoint}".encode()).hexdigest()[:16]
    return paths.state / "bisect" / f"{digest}.json"


def load_state(path: Path) -> State | None:
    try:
        doc = json.loads(path.read_text())
        return State.from_json(doc) if doc.get("schema") == SCHEMA_VERSION else None
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None  # no state, or one this version cannot read: start afresh


def save_state(path: Path, state: State) -> None:
    from pinman.state.fsutil import atomic_write

    atomic_write(path, json.dumps(state.to_json(), indent=1, sort_keys=True))


def candidates(published: Iterable[str], good: str, bad: str,
               skip: Mapping[str, str]) -> tuple[list[str], dict[str, str]]:
    """Published releases strictly between good and bad, oldest first, without known-bad ones.

    Returns (candidates, {skipped version: why}). Prereleases never count: nobody pins them.
    """
    from pinman.npm.versions import compare, parse_version, sort_versions

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
    from pinman.runtime import activation
    from pinman.state.journal import Journal, endpoint_of
    from pinman.health.rollback import make_prober, run_env

    start = time.monotonic()
    emit = on_event or (lambda _e: None)
    if prober is None and profile.health.probe != "cli":
        raise UsageError(
            f"bisect needs the CLI probe, and {profile.name} sets [health] probe = "
            f"{profile.health.probe!r}",
            hint=f"the {profile.health.probe} probe does not run Claude Code, so every version "
                 "would get the same answer; set probe = \"cli\" for the bisect")
    env = run_env(paths, profile, environ)
    endpoint = endpoint_of(env.get("ANTHROPIC_BASE_URL"))
    key = activation.profile_key(profile.name, profile.project_root)
    journal = Journal(paths)
    path = state_path(paths, key, endpoint)
    with _exclusive(paths, path, profile.name, endpoint):
        saved = load_state(path)
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
    from pinman.runtime.resolution import target
    from pinman.npm.versions import clean, compare, parse_version

    if bad is None:
        bad = target(paths, profile, use_override=False).version
    if good is None and saved is not None and saved.bad == clean(bad):
        good = saved.good
    if good is None:
        kg = journal.last_known_good(key, endpoint, exclude=[bad])
        if kg is None:
            raise UsageError(f"no known-good version of {profile.name} recorded for {endpoint}",
                             hint=f"name one: pinman bisect {profile.name} --good VERSION")
        good = kg.version
    ends = []
    for flag, raw in (("--good", good), ("--bad", bad)):
        v = clean(raw)
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

        from pinman.state.fsutil import make_dirs

        make_dirs(paths.locks)
        self._lock = FileLock(str(paths.locks / f"bisect-{state.stem}.lock"), timeout=0, mode=0o600)
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
        from pinman.health.classify import classify
        from pinman.state.journal import Entry
        from pinman.redact import secret_values

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
        from pinman.errors import InstallError
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
    from pinman.views.inventory import protected
    from pinman.install.store import Store

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
