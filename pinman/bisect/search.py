"""The pure bisect search: the newest version an endpoint accepts, from a sorted version list
and an oracle that probes one version. Nothing here installs, probes or prints.

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
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, field, replace
from typing import Any

from pinman.record import record


OK, SCHEMA = "ok", "schema"


@record
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


@record(frozen=False)
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
