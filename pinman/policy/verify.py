"""Verify one version against one endpoint, with the remedies allowed: the question a guarded upgrade
or a channel's promotion asks before it moves anything.

`verify` probes the (installed) version plainly; on a schema rejection it searches for client
switches of the allowed cost classes (`policy.search`: measured offline, then verified there). It
journals every probe and records nothing else: whoever decides to run the version keeps the
switches it passed with as a remedy (`keep`). A probe with switches on is journaled with them, so
it is never a verdict about the plain version (`state.journal_db`): a version that passes only
with a switch does not become known-good.

Who may pass with what is the caller's decision (`level`): `pinman upgrade` and a guarded channel's
candidates allow cheap switches at most, since the version they would replace works without them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import field
from typing import TYPE_CHECKING

from pinman.paths import Paths
from pinman.policy import remedy as remedies
from pinman.policy.candidates import allowed
from pinman.policy.search import Search, search
from pinman.state.journal import Journal, endpoint_of
from pinman.state.overrides import Remedy, profile_key
from pinman.record import record

if TYPE_CHECKING:
    from pinman.health.outcome import Outcome
    from pinman.health.prober import Prober
    from pinman.profile.model import Profile


@record(frozen=False)
class Verdict:
    version: str
    endpoint: str
    plain: Outcome  # the version as it is
    outcome: Outcome  # the last verdict: ok (plainly or with `switches`), else what stopped it
    switches: dict[str, str] = field(default_factory=dict)  # what it passed with ({}: plainly)
    fixed: list[str] = field(default_factory=list)  # the rejected field each switch took away
    notes: list[str] = field(default_factory=list)  # what was tried and why it did not do

    @property
    def passed(self) -> bool:
        return self.outcome.kind.value == "ok"


def verify(paths: Paths, profile: Profile, version: str, env: Mapping[str, str], *, level: str = "cheap",
           prober_for: Callable[[Mapping[str, str]], Prober] | None = None,
           isolated_home: bool = False,
           journal_as: Callable[[Outcome, Mapping[str, str]], str] | None = None) -> Verdict:
    """Does the endpoint `env` names accept `version` (installed), as it is or with the client
    switches `level` allows ("off", "cheap", "all")? Always the CLI probe: a direct request says
    nothing about what a version sends. `journal_as(outcome, switches)` names each probe's
    journal event (default `check`)."""
    from dataclasses import replace

    from pinman.health import prober as probes

    as_cli = replace(profile, health=replace(profile.health, probe="cli"))
    make = prober_for or (lambda e: probes.make_prober(paths, as_cli, e, isolated_home=isolated_home))
    endpoint = endpoint_of(env.get("ANTHROPIC_BASE_URL"))
    key = profile_key(profile.name, profile.project_root)
    journal = Journal(paths)
    sdk = probes.sdk_version(paths, profile)

    def probe(switches: Mapping[str, str]) -> Outcome:
        event = (lambda o: journal_as(o, switches)) if journal_as is not None else None
        return probes.probe_and_record(journal, make({**env, **switches}), key, version, endpoint, env, sdk,
                                       switches=switches, event=event)

    plain = probe({})
    s = Search(version, plain)
    steps = [] if level == "off" else [allowed("cheap")] + ([allowed("all")] if level == "all" else [])
    for costs in steps:  # cheap switches first, as the ladder does
        search(paths, s, costs, probe, env)
    return Verdict(version, endpoint, plain, s.outcome, dict(s.on) if s.passed else {}, s.fixed, s.notes)


def keep(paths: Paths, profile: Profile, verdict: Verdict, env: Mapping[str, str] | None = None) -> Remedy | None:
    """Keep the switches `verdict` passed with as the remedy of `profile` (whose pin now runs the
    verified version) at its endpoint; None when it passed plainly."""
    if not verdict.passed or not verdict.switches:
        return None
    return remedies.record(paths, profile, verdict.version, verdict.endpoint, verdict.switches, verdict.fixed, env)
