"""The steps of a guarded channel's promotion: verify a candidate against this machine's endpoint,
record the verdict, promote, refuse, and remove what the channel downloaded and no longer needs.

A candidate is verified by `policy.verify`: plainly, then, on a schema rejection naming a field,
with the cheap client switches that drop it (measured offline, then probed there), unless the
profile's applied `[health] remedies` is "off" (plain only). Costly switches never let a
candidate pass, whatever `remedies` says: promotion is optional, and the version it would replace
works without them. A candidate that passes only with a switch is promoted with that switch kept
as the remedy of the new promotion (`policy.verify.keep`), bound to it: the next promotion drops
it. Each probe is journaled as it runs, a switched one with its switches (never a verdict about
the plain version); a probe that decides nothing yet is a `candidate` entry.

A promotion is one rename of the channels file (`state.channels`), then the shim's pointers
follow it (`repoint`); killed between the two, the pointers are older than the channels file and
the shim's slow path makes them agree. A running session keeps its binary: installs are immutable
and the one a session runs is never removed here (what runs and the previous promotion are kept).
A refusal is a `refused` verdict in the journal, with the rejected field: the candidate is
known-bad for this profile and endpoint, so it is not downloaded again there until a later
verdict says otherwise.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pinman.errors import PinmanError
from pinman.faults import point
from pinman.health.prober import Prober, make_prober
from pinman.names import CLAUDE_CODE
from pinman.paths import Paths
from pinman.policy.verify import Verdict, keep, verify
from pinman.state.channels import ChannelState, get_channel, update_channel
from pinman.state.journal import Entry, Journal
from pinman.state.overrides import Remedy, profile_key

if TYPE_CHECKING:
    from pinman.health.outcome import Outcome
    from pinman.profile.model import Profile

ProberFor = Callable[[Mapping[str, str]], Prober]  # the complete env of a run -> a probe with it


def candidate_prober(paths: Paths, profile: Profile, *, isolated_home: bool = False, waiting: Any = None) -> ProberFor:
    """Always the CLI probe: a direct request or the SDK says nothing about what a candidate sends."""
    as_cli = replace(profile, health=replace(profile.health, probe="cli"))
    return lambda env: make_prober(paths, as_cli, env, isolated_home=isolated_home, waiting=waiting)


def candidate_level(paths: Paths, profile: Profile) -> str:
    """The switches a candidate may pass with: "cheap", or none when `[health] remedies = "off"`
    (as applied: an untrusted project's value is not). Never "all" (see the module docstring)."""
    from pinman.profile.trust import applied_health

    return "off" if applied_health(paths, profile).remedies == "off" else "cheap"


def verify_candidate(paths: Paths, profile: Profile, version: str, env: Mapping[str, str],
                     prober_for: ProberFor) -> Verdict:
    """Probe `version` (installed) against the endpoint `env` names, with the cheap switches
    allowed (`candidate_level`); it passes on an `ok` outcome, plainly or with `switches`."""
    return verify(paths, profile, version, env, level=candidate_level(paths, profile), prober_for=prober_for,
                  journal_as=_journaled_as)


def _journaled_as(outcome: Outcome, switches: Mapping[str, str]) -> str:
    """A plain `ok` is the verdict it always was (`check`: the candidate is about to run); every
    other probe decides nothing yet (`candidate`): a schema rejection may still pass with a switch."""
    return "check" if not switches and outcome.kind.value == "ok" else "candidate"


def record(journal: Journal, key: str, verdict: Verdict, env: Mapping[str, str]) -> str:
    """What the candidate's verdict means: `passed` (plainly or with switches), `refused` on a
    schema rejection even with the switches allowed (journaled: known-bad here, with the field that
    stopped it), `candidate` otherwise (an outcome that says nothing about the version)."""
    o = verdict.outcome
    if verdict.passed:
        return "passed"
    if o.kind.value != "schema":
        return "candidate"
    journal.append(Entry("refused", key, verdict.version, endpoint=verdict.endpoint, outcome=o.kind.value,
                         status=o.status, message=o.message[:300], rejected=o.rejected,
                         extra={"via": "channel", "tried": verdict.notes}), env)
    return "refused"


def promote(paths: Paths, profile: Profile, version: str, *, endpoint: str, verified: bool,
            downloaded: bool, env: Mapping[str, str], message: str,
            verdict: Verdict | None = None) -> tuple[ChannelState, Remedy | None]:
    """Make `version` what the guarded profile runs here: the channels file (one rename); then the
    switches `verdict` passed with, kept as the remedy of this promotion (the shim's pointers take
    the version and its remedy in one rename); then an override or a remedy made for the version
    it replaces is dropped, and the pointers follow; journaled."""
    from pinman.health.recovery import drop_stale_override
    from pinman.policy.remedy import drop_stale
    from pinman.runtime.resolution import repoint

    def change(old: ChannelState | None) -> ChannelState:
        fetched = tuple(dict.fromkeys([*(old.fetched if old else ()), *([version] if downloaded else [])]))
        previous = old.version if old is not None and old.version != version else (old.previous if old else None)
        return ChannelState(version, profile.claude_code.version, time.time(), previous, endpoint, verified,
                            fetched, old.noticed if old else None)

    state = update_channel(paths, profile.name, profile.project_root, change)
    assert state is not None
    point("promote.state_written", profile.name)
    remedy = keep(paths, profile, verdict, env) if verdict is not None else None
    drop_stale_override(paths, profile, env)  # bound to the version it replaced, which no longer runs
    drop_stale(paths, profile, version, env)  # so are that version's remedies, at every endpoint
    repoint(paths, profile.name)
    point("promote.repointed", profile.name)
    key = profile_key(profile.name, profile.project_root)
    Journal(paths).append(Entry("promoted", key, version, endpoint=endpoint, previous=state.previous,
                                message=message, extra={"verified": verified,
                                                        **({"remedy": dict(remedy.env)} if remedy else {})}), env)
    return state, remedy


def mark_verified(paths: Paths, profile: Profile, version: str, endpoint: str) -> None:
    """What runs passed a probe at `endpoint` (a first choice made unverified, or a new endpoint)."""
    def change(old: ChannelState | None) -> ChannelState | None:
        if old is None or old.version != version or (old.verified and old.endpoint == endpoint):
            return old
        return replace(old, verified=True, endpoint=endpoint)

    _bookkeeping(paths, profile, change)


def _bookkeeping(paths: Paths, profile: Profile,
                 change: Callable[[ChannelState | None], ChannelState | None]) -> None:
    """A change of the channels file that leaves what runs alone: the pointers are stamped again,
    or the shim would take every context's slow path once (it sees the file newer than them)."""
    from pinman.runtime.pointers import state_stamp
    from pinman.runtime.resolution import repoint

    before = state_stamp(paths)
    update_channel(paths, profile.name, profile.project_root, change)
    if state_stamp(paths) != before:
        repoint(paths, profile.name)


def note_waiting(paths: Paths, profile: Profile, newest: str | None) -> bool:
    """Remember the newest waiting candidate told of; True when it is news (auto = false)."""
    state = get_channel(paths, profile.name, profile.project_root)
    if state is None or newest is None or state.noticed == newest:
        return False
    _bookkeeping(paths, profile, lambda old: replace(old, noticed=newest) if old is not None else None)
    return True


def installed_size(paths: Paths, version: str) -> int:
    from pinman.install.layout import tree_bytes
    from pinman.install.store import Store

    inst = Store(paths).get(CLAUDE_CODE, version)
    return tree_bytes(inst.prefix) if inst is not None else 0


def kept(paths: Paths, cwd: Path) -> set[str]:
    """What no clean-up of a channel removes: every version in use, pinned by a profile that runs
    here, a last known-good, an override's, what each channel runs and its previous promotion, or
    a paused bisect's (`views.inventory.protected`)."""
    from pinman.runtime.resolution import in_use
    from pinman.views.inventory import protected

    keep = protected(paths, cwd)
    keep |= {p.claude_code.exact for p in in_use(paths) if p.claude_code.exact}
    return keep


def remove(paths: Paths, versions: list[str], keep: set[str]) -> tuple[list[str], int]:
    """Remove those of `versions` not in `keep`; returns (removed, bytes freed)."""
    from pinman.install.store import Store

    store, removed, freed = Store(paths), [], 0
    for v in versions:
        if v in keep or store.get(CLAUDE_CODE, v) is None:
            continue
        size = installed_size(paths, v)
        point("promote.remove", v)
        store.remove(CLAUDE_CODE, v)
        removed.append(v)
        freed += size
    return removed, freed


def clean_up(paths: Paths, profile: Profile, cwd: Path) -> tuple[list[str], int]:
    """After a promotion: remove the earlier promotions the channel downloaded itself, keeping
    what runs, the previous promotion and everything `kept` names."""
    state = get_channel(paths, profile.name, profile.project_root)
    if state is None:
        return [], 0
    gone, freed = remove(paths, [v for v in state.fetched if v not in (state.version, state.previous)],
                         kept(paths, cwd))
    if gone:
        _bookkeeping(paths, profile, lambda old: replace(
            old, fetched=tuple(v for v in old.fetched if v not in gone)) if old is not None else None)
    return gone, freed


@contextmanager
def promotion_lock(paths: Paths, *, wait: bool, say: Any = None) -> Iterator[bool]:
    """One promotion (and so one candidate download) at a time on this machine. Yields False
    without waiting when `wait` is off and another holds it (the unattended check skips)."""
    from filelock import FileLock, Timeout

    from pinman.state.fsutil import make_dirs

    make_dirs(paths.locks)
    lock = FileLock(str(paths.lock("promotion")), mode=0o600)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        if not wait:
            yield False
            return
        if say is not None:
            say("waiting for another promotion to finish")
        try:
            lock.acquire(timeout=900)
        except Timeout:
            raise PinmanError("another pinman process is still promoting a guarded channel",
                              hint="wait for it to finish, then run this again") from None
    try:
        yield True
    finally:
        lock.release()

