"""The search for a remedy: client switches that make one version pass at one endpoint.

From a verified schema rejection naming a field: take the candidates meant to drop that field (of
the cost classes allowed), keep those whose effect, measured offline for this version, really drops
it, and probe the version with the first of them against the endpoint. The endpoint may then name
the next field it rejects: go on from there. If no candidate meant for a field drops it here, the
other candidates of the allowed classes are measured too (a switch's effect changes between
releases). Bounded: at most `MAX_FIELDS` rejected fields and `MAX_PROBES` probes of the endpoint per
check. A search can continue with more cost classes allowed (cheap first, then costly) without
probing again what it probed already.

A variable the user set (their environment or the profile's `[env]`) is never replaced: a candidate
on it is skipped, and the search says so.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import field
from typing import TYPE_CHECKING

from pinman.paths import Paths
from pinman.policy import measure
from pinman.policy.candidates import Switch, table
from pinman.policy.fields import items
from pinman.record import record

if TYPE_CHECKING:
    from pinman.health.outcome import Outcome

MAX_FIELDS = 3  # rejected fields one search handles
MAX_PROBES = 4  # probes of the endpoint one search sends

# the version run with these switches against the endpoint -> its (journaled) outcome
Probe = Callable[[Mapping[str, str]], "Outcome"]


@record(frozen=False)
class Search:
    """A search in progress: what the version runs with so far and what the endpoint said last."""

    version: str
    outcome: Outcome  # the last verdict: a schema rejection, until the version passes
    on: dict[str, str] = field(default_factory=dict)  # switches kept, in the order found
    chosen: list[Switch] = field(default_factory=list)  # the table entries of `on` found by this search
    fixed: list[str] = field(default_factory=list)  # the rejected field each kept switch took away
    tried: set[tuple[str, str]] = field(default_factory=set)  # (field, switch) probed in vain
    probes: int = 0
    passed: bool = False
    notes: list[str] = field(default_factory=list)

    def note(self, line: str) -> None:
        if line not in self.notes:
            self.notes.append(line)


def search(paths: Paths, s: Search, costs: tuple[str, ...], probe: Probe, env: Mapping[str, str]) -> Search:
    """Go on with `s`, allowing switches of `costs`; `env` is what the version runs with plainly
    (whose variables are the user's to set). Ends passed, or with notes saying why not."""
    while not s.passed and s.outcome.kind.value == "schema":
        item = next(iter(items(s.outcome.rejected)), None)
        if item is None:
            s.note("the endpoint does not name what it rejects, so no switch can be chosen")
            return s
        if item in s.fixed:
            s.note(f"the endpoint rejects {item} again, with the switch that dropped it on")
            return s
        if len(s.fixed) >= MAX_FIELDS:
            s.note(f"stopped after {len(s.fixed)} rejected fields (at most {MAX_FIELDS} per check)")
            return s
        switch = pick(paths, s, item, costs, env)
        if switch is None:
            return s
        if s.probes >= MAX_PROBES:
            s.note(f"stopped after {s.probes} probes of the endpoint (at most {MAX_PROBES} per check)")
            return s
        _try(s, switch, item, probe)
    return s


def _try(s: Search, switch: Switch, item: str, probe: Probe) -> None:
    trial = {**s.on, switch.env: switch.value}
    outcome = probe(trial)
    s.probes += 1
    kind = outcome.kind.value
    if kind == "schema" and item in items(outcome.rejected):
        s.tried.add((item, switch.name))
        s.note(f"with {switch.name} the endpoint still rejects {item}")
        return
    if kind not in ("ok", "schema"):
        # An outage or a refusal of another kind says nothing about the switch: stop here.
        s.note(f"with {switch.name}: {kind} ({outcome.message}); not a verdict about the client")
        s.tried.add(("*", switch.name))
        s.outcome = outcome
        return
    s.on, s.outcome = trial, outcome
    s.chosen.append(switch)
    s.fixed.append(item)
    s.passed = kind == "ok"


def pick(paths: Paths, s: Search, item: str, costs: tuple[str, ...], env: Mapping[str, str]) -> Switch | None:
    """The first allowed candidate that really drops `item` from what the version sends."""
    every = table()
    named = [c for c in every if c.names(item)]
    pool = [c for c in named if c.cost in costs and _usable(s, c, item, env)]
    found = _measured(paths, s, pool, item)
    if not found and (not named or any(c.cost in costs for c in named)):
        # Nothing in the table is meant for it, or what is does not drop it from this version:
        # measure the rest of the allowed candidates (effects move between releases).
        rest = [c for c in every if c.cost in costs and c not in named and _usable(s, c, item, env)]
        found = _measured(paths, s, rest, item)
    if found:
        return found[0]
    dearer = [c.name for c in named if c.cost not in costs]
    s.note(f"no {'/'.join(costs)} switch drops {item} from what {s.version} sends"
           + (f" (a costly one would: {', '.join(dearer)})" if dearer else ""))
    return None


def _measured(paths: Paths, s: Search, pool: list[Switch], item: str) -> list[Switch]:
    found = measure.confirmed(paths, s.version, pool, item, s.note)
    for c in pool:
        if c not in found and not any(n.startswith(f"cannot measure {c.name}") for n in s.notes):
            s.note(f"{c.name} does not drop {item} from what {s.version} sends (measured)")
    return found


def _usable(s: Search, c: Switch, item: str, env: Mapping[str, str]) -> bool:
    if c.env in s.on or (item, c.name) in s.tried or ("*", c.name) in s.tried:
        return False
    if c.env in env:
        mine = env[c.env]
        s.note(f"{c.name} cannot apply: {c.env} is set to {mine!r} where the client runs, and that value "
               "wins" if mine != c.value else f"{c.name} is set already where the client runs")
        return False
    return True
