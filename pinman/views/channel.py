"""A guarded channel as `status`, `show`, `outdated` and `--json` show it: what runs and since when
it was promoted, which candidates wait (and until when, for soak), which were refused and why.

From this machine only, unless the caller hands in a registry that asks: the channels file, the
journal and the registry cache. What runs with a remedy at this endpoint is verified here with
it (its remedy is shown beside it, `runtime.remedies.shown`), never listed as refused, though the
endpoint rejects it plainly.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from pinman.errors import PinmanError
from pinman.paths import Paths
from pinman.runtime.channel import candidates, channel_state, endpoint_for, is_guarded
from pinman.state.overrides import profile_key

if TYPE_CHECKING:
    from pinman.npm.registry import Registry
    from pinman.profile.model import Profile


def channel_view(paths: Paths, profile: Profile, registry: Registry) -> dict[str, Any] | None:
    """The channel of a profile with `[update] policy = "guarded"` (None for any other profile)."""
    if not profile.update.guarded:
        return None
    u = profile.update
    doc: dict[str, Any] = {"policy": "guarded", "spec": profile.claude_code.version, "soak": u.soak,
                           "auto": u.auto, "active": is_guarded(paths, profile), "inactive": None}
    if not doc["active"]:
        doc["inactive"] = _inactive(profile)
        return doc
    state = channel_state(paths, profile)
    endpoint = endpoint_for(paths, profile)
    doc.update(endpoint=endpoint, runs=None, since=None, previous=None, verified=False, verified_at=None,
               remedied=False, candidates=[], waiting=[], refused=_refused(paths, profile, endpoint), problem=None)
    if state is None:
        return doc  # nothing chosen here: `pinman use` looks at the candidates, status need not
    doc.update(runs=state.version, since=state.since, previous=state.previous, verified=state.verified,
               verified_at=state.endpoint)
    if _remedied(paths, profile, state.version, endpoint):  # rejected plainly, runs with its remedy
        doc["remedied"] = True
        doc["refused"] = [r for r in doc["refused"] if r["version"] != state.version]
    try:
        found, doc["problem"] = candidates(paths, profile, registry, endpoint)
    except PinmanError as e:
        doc["problem"] = e.message
        return doc
    doc["candidates"] = list(found.newer_than(doc["runs"]))
    doc["waiting"] = [{"version": s.version, "ready_at": s.ready_at} for s in found.waiting(doc["runs"])]
    return doc


def _inactive(profile: Profile) -> str:
    pin = profile.claude_code
    if pin.locked is not None:
        return f"locked at {pin.locked}: the lock holds (remove `locked` to let the channel move)"
    if pin.exact is not None:
        return "an exact version: nothing to guard"
    return 'this project is not trusted: resolves as policy = "pin" until `pinman trust`'


def _refused(paths: Paths, profile: Profile, endpoint: str) -> list[dict[str, Any]]:
    """Versions this endpoint rejected for this profile (latest verdict), newest verdict first."""
    from pinman.state.journal import Journal

    bad = Journal(paths).known_bad(profile_key(profile.name, profile.project_root), endpoint)
    rows = [{"version": v, "event": e.event, "rejected": e.rejected, "message": e.message, "ts": e.ts}
            for v, e in bad.items()]
    return sorted(rows, key=lambda r: -r["ts"])


def _remedied(paths: Paths, profile: Profile, version: str, endpoint: str) -> bool:
    from pinman.runtime.remedies import remedies_for

    return endpoint in remedies_for(paths, profile, version)


def summary(doc: dict[str, Any], now: float | None = None) -> str:
    """One line: `guarded latest (soak 7d, auto): 2.1.331 promoted 2 days ago, verified at h:443;
    waiting: 2.1.332 (soak until 12-10 14:00); refused: 2.1.47 (thinking)`."""
    from pinman.age import ago

    head = f"guarded {doc['spec']} (soak {_days(doc['soak'])}{', auto' if doc['auto'] else ''})"
    if not doc["active"]:
        return f"{head}: inactive, {doc['inactive']}"
    if doc["runs"] is None:
        parts = [f"{head}: nothing chosen here yet (`pinman use` probes the candidates)"]
    else:
        where = f"verified at {doc['verified_at'].split('://', 1)[-1]}" if doc["verified"] and doc["verified_at"] \
            else "NOT verified yet"
        where += " with its remedy" if doc.get("remedied") else ""  # which one: the remedy line says
        parts = [f"{head}: {doc['runs']} promoted {ago(doc['since'], now)}, {where}"
                 + (f" (previous {doc['previous']})" if doc["previous"] else "")]
    if doc["candidates"]:
        parts.append(f"candidates: {', '.join(doc['candidates'][:3])} (`pinman check` tries them)")
    if doc["waiting"]:
        parts.append("waiting: " + ", ".join(f"{w['version']} ({_ready(w['ready_at'])})" for w in doc["waiting"][:3]))
    if doc["refused"]:
        parts.append("refused: " + ", ".join(f"{r['version']} ({r['rejected'] or 'rejected'})"
                                             for r in doc["refused"][:3]))
    return "; ".join(parts)


def _ready(ts: float | None) -> str:
    return f"soak until {time.strftime('%Y-%m-%d %H:%M', time.localtime(ts))}" if ts else "publish time unknown"


def _days(seconds: float) -> str:
    if seconds % 86400 == 0:
        return f"{int(seconds // 86400)}d"
    return f"{seconds / 3600:g}h"
