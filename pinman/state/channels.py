"""The channels file: per machine, what each guarded profile runs and how it got there, keyed by
profile and project like the overrides.

A guarded profile (a dist-tag or range under `[update] policy = "guarded"`) runs the newest
release that passed a probe against this machine's endpoint. This file is where that choice lives:
the version, when it was promoted, the promotion before it, the endpoint it was verified at (or
that it is unverified: no probe could run when it was chosen), the spec it was chosen for, and
the installs the channel downloaded itself (the only ones its clean-up may remove).

Written atomically under a lock (read, change, write); read as untrusted input: a record that is
not well formed is no record, and a version read back is always an exact version, so it names a
folder the store could hold.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, field
from pathlib import Path

from pinman.faults import point
from pinman.names import is_exact_version
from pinman.paths import Paths
from pinman.state.fsutil import atomic_write, make_dirs
from pinman.state.overrides import profile_key
from pinman.record import record

SCHEMA = 1


@record
class ChannelState:
    version: str  # what runs (exact)
    spec: str  # the profile's tag or range it was chosen for
    since: float  # when it was promoted (epoch seconds)
    previous: str | None = None  # the promotion before it
    endpoint: str | None = None  # scheme://host:port it passed a probe at
    verified: bool = False  # False: chosen when no probe could run; the next check verifies it
    fetched: tuple[str, ...] = field(default=())  # installs the channel downloaded (its clean-up's to remove)
    noticed: str | None = None  # newest waiting candidate already told of (auto = false)


def read_channels(paths: Paths) -> dict[str, ChannelState]:
    """Every channel record; one that is not well formed is skipped."""
    from pinman.state.statefile import load_json, number, records, strings, text

    doc = load_json(paths.channels, hint="delete it: guarded profiles choose again on their next `pinman use`")
    out: dict[str, ChannelState] = {}
    for key, v in records(doc, "channels").items():
        version, spec = text(v, "version"), text(v, "spec")
        if version is None or spec is None or not is_exact_version(version):
            continue
        previous = text(v, "previous")
        out[key] = ChannelState(
            version, spec, number(v, "since"),
            previous if previous is not None and is_exact_version(previous) else None,
            text(v, "endpoint"), v.get("verified") is True,
            tuple(dict.fromkeys(f for f in strings(v, "fetched") if is_exact_version(f))),
            _exact(text(v, "noticed")))
    return out


def _exact(version: str | None) -> str | None:
    return version if version is not None and is_exact_version(version) else None


def get_channel(paths: Paths, name: str, project_root: Path | None) -> ChannelState | None:
    return read_channels(paths).get(profile_key(name, project_root))


def update_channel(paths: Paths, name: str, project_root: Path | None,
                   change: Callable[[ChannelState | None], ChannelState | None]) -> ChannelState | None:
    """Read, change and write one record under the file's lock (None drops it); returns the new one.

    The write is one rename: a process killed at any instant leaves the old file or the new one."""
    from filelock import FileLock

    make_dirs(paths.locks)
    with FileLock(str(paths.lock("channels")), mode=0o600):
        current = read_channels(paths)
        key = profile_key(name, project_root)
        new = change(current.get(key))
        if current.get(key) == new:
            return new  # unchanged: a rewrite would only make every pointer stale
        if new is None:
            current.pop(key, None)
        else:
            current[key] = new
        doc = {"schema": SCHEMA, "channels": {k: _record(v) for k, v in current.items()}}
        point("channels.write", name)
        atomic_write(paths.channels, json.dumps(doc, indent=2, sort_keys=True) + "\n")
        return new


def _record(state: ChannelState) -> dict[str, object]:
    out = asdict(state)
    out["fetched"] = list(state.fetched)
    return out
