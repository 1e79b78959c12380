"""A remedy as state: recorded once verified, dropped when it no longer belongs, journaled each time.

A remedy is an override of its own kind (`state.overrides.Remedy`): profile × the pin's version ×
endpoint. Recording it repoints every shim context of the profile, so the next `claude` runs with
the switches (at that endpoint only, `runtime.remedies`), and journals `remedied`. It is dropped,
with a `dropped` event, when the pin changed, the version the pin runs moved, the profile's own
`[env]` holds the switches now, or `[health] remedies = "off"`; and with a `recovered` event when
the endpoint accepts the plain version again (`policy.ladder`).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from pinman.faults import point
from pinman.paths import Paths
from pinman.policy.candidates import COSTS, by_name
from pinman.runtime.remedies import stale_remedy
from pinman.runtime.resolution import repoint
from pinman.state.journal import Entry, Journal
from pinman.state.overrides import Remedy, get_remedies, profile_key, set_remedy

if TYPE_CHECKING:
    from pinman.profile.model import Profile


def record(paths: Paths, profile: Profile, version: str, endpoint: str, on: Mapping[str, str],
           fixed: Sequence[str], env: Mapping[str, str] | None = None) -> Remedy:
    """Record the verified switches `on` for `profile` running its pinned `version` at `endpoint`."""
    before = get_remedies(paths, profile.name, profile.project_root).get(endpoint)
    rejected = tuple(dict.fromkeys([*(before.rejected if before else ()), *fixed]))
    switches = by_name(f"{k}={v}" for k, v in on.items())
    tradeoffs = tuple(s.tradeoff for s in switches)
    cost = max((s.cost for s in switches), key=COSTS.index, default="cheap")
    pin = profile.claude_code
    host = endpoint.split("://", 1)[-1]
    reason = f"{', '.join(rejected) or 'a field'} rejected by {host}"
    remedy = Remedy(version, endpoint, tuple(on.items()), rejected, reason, time.time(), tradeoffs, cost,
                    pin.version, pin.exact or version)
    set_remedy(paths, profile.name, profile.project_root, endpoint, remedy)
    point("remedy.recorded", profile.name)
    repoint(paths, profile.name)
    Journal(paths).append(Entry("remedied", profile_key(profile.name, profile.project_root), version,
                                endpoint=endpoint, rejected=", ".join(rejected) or None,
                                message=f"{profile.name} runs {version} with {remedy.switches}: {reason}",
                                extra={"remedy": dict(remedy.env), "cost": cost}), env)
    return remedy


def drop(paths: Paths, profile: Profile, remedy: Remedy, why: str, env: Mapping[str, str] | None = None, *,
         event: str = "dropped") -> str:
    """Drop one remedy; returns the journaled message."""
    set_remedy(paths, profile.name, profile.project_root, remedy.endpoint, None)
    repoint(paths, profile.name)
    message = (f"{profile.name} runs {remedy.version} without {remedy.switches} again: {why}" if event == "recovered"
               else f"remedy {remedy.switches} at {remedy.endpoint.split('://', 1)[-1]} dropped: {why}")
    Journal(paths).append(Entry(event, profile_key(profile.name, profile.project_root), remedy.version,
                                endpoint=remedy.endpoint, message=message, extra={"remedy": dict(remedy.env)}),
                          env)
    return message


def drop_stale(paths: Paths, profile: Profile, version: str | None, env: Mapping[str, str] | None = None) -> list[str]:
    """Drop the profile's remedies that no longer belong to its pin (running `version`, when the
    pin runs: None while an override runs instead, which leaves remedies of the pin alone)."""
    out = []
    for remedy in get_remedies(paths, profile.name, profile.project_root).values():
        why = stale_remedy(remedy, profile, version)
        if why:
            out.append(drop(paths, profile, remedy, why, env))
    return out


def drop_all(paths: Paths, profile: Profile, why: str, env: Mapping[str, str] | None = None) -> list[str]:
    return [drop(paths, profile, r, why, env) for r in get_remedies(paths, profile.name, profile.project_root).values()]


def without_remedies(paths: Paths, profile: Profile, environ: Mapping[str, str]) -> dict[str, str]:
    """`environ` without the switches a remedy of this profile put there: a hook's environment is
    that of the client the shim started, remedy included, and it is not the user's own value."""
    ours = {pair for r in get_remedies(paths, profile.name, profile.project_root).values() for pair in r.env}
    return {k: v for k, v in environ.items() if (k, v) not in ours}
