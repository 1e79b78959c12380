"""The local overrides file: per machine, what replaces or adjusts a profile's pin, keyed by profile
and project.

Two kinds of record, each belonging to the pin it was made for:
- an override (a rollback): which exact version (and SDK) runs instead of the pin;
- a remedy: client switches (`CLAUDE_CODE_EFFORT_LEVEL=auto`) the pinned version runs with, at one
  endpoint, because that endpoint rejects a field the version sends without them.

A profile file is never touched; a record applies only while the pin it was made for is still the
profile's pin. A record that is not well formed is no record. A version read back here is an exact
version (`names.is_exact_version`), so it always names a folder the store could hold; a remedy's
switches pass `names.is_switch`, so nothing read here can point the client elsewhere or carry a key.

Format: `{"schema": 2, "overrides": {KEY: {...}}, "remedies": {KEY: {ENDPOINT: {...}}}}`. Schema 1
files (no remedies) still read; every write is schema 2 and keeps both tables.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from pinman.faults import point
from pinman.names import is_exact_version, is_switch
from pinman.paths import Paths
from pinman.state.fsutil import atomic_write
from pinman.record import record

SCHEMA = 2  # 2: remedies beside the overrides
_ENDPOINT_RX = re.compile(r"https?://(?:[A-Za-z0-9.\-]+|\[[0-9A-Fa-f:.]+\]):\d{1,5}")
_MAX_REMEDIES = 8  # endpoints per profile: the shim's pointer tests each one with a `case`


def profile_key(name: str, project_root: Path | None) -> str:
    return name if project_root is None else f"{project_root}::{name}"


@record
class Override:
    version: str
    previous: str | None
    reason: str
    at: float
    sdk_version: str | None = None  # the SDK that was known-good with `version`, restored with it
    # The pin it replaced: the profile's spec as written and the exact version that spec ran. When
    # the profile's pin changes, the override no longer applies. None (files written before this
    # was recorded): it belongs to whatever the profile pins now.
    pin_spec: str | None = None
    pin_version: str | None = None


@record
class Remedy:
    """Switches the pinned `version` runs with at `endpoint`, verified there by a probe."""

    version: str
    endpoint: str  # scheme://host:port (`journal.endpoint_of`)
    env: tuple[tuple[str, str], ...]  # the switches, in the order they were found
    rejected: tuple[str, ...]  # what the endpoint rejected without them, in that order
    reason: str  # "output_config rejected by 127.0.0.1:4000"
    at: float
    tradeoffs: tuple[str, ...] = ()  # one line per switch: what it costs
    cost: str = "cheap"  # "cheap" | "costly": the dearest of the switches
    pin_spec: str | None = None  # the profile's spec as written when it was found
    pin_version: str | None = None  # the exact version that spec ran then

    @property
    def switches(self) -> str:
        """`CLAUDE_CODE_EFFORT_LEVEL=auto, CLAUDE_CODE_DISABLE_THINKING=1`"""
        return ", ".join(f"{k}={v}" for k, v in self.env)

    def to_json(self) -> dict[str, Any]:
        doc = asdict(self)
        doc["env"] = dict(self.env)
        doc["rejected"], doc["tradeoffs"] = list(self.rejected), list(self.tradeoffs)
        return doc


def read_overrides(paths: Paths) -> dict[str, Override]:
    """Every local override; a record that is not a well-formed override is no override."""
    return _read(paths)[0]


def read_remedies(paths: Paths) -> dict[str, dict[str, Remedy]]:
    """Every remedy: profile key -> endpoint -> remedy."""
    return _read(paths)[1]


def get_override(paths: Paths, name: str, project_root: Path | None) -> Override | None:
    return read_overrides(paths).get(profile_key(name, project_root))


def get_remedies(paths: Paths, name: str, project_root: Path | None) -> dict[str, Remedy]:
    """This profile's remedies, by endpoint."""
    return read_remedies(paths).get(profile_key(name, project_root), {})


def set_override(paths: Paths, name: str, project_root: Path | None, override: Override | None) -> None:
    """Write (or with None, drop) the local override; the profile file is never touched."""
    key = profile_key(name, project_root)

    def change(overrides: dict[str, Override], remedies: dict[str, dict[str, Remedy]]) -> None:
        if override is None:
            overrides.pop(key, None)
        else:
            overrides[key] = override

    _update(paths, name, change)


def set_remedy(paths: Paths, name: str, project_root: Path | None, endpoint: str, remedy: Remedy | None) -> None:
    """Write (or with None, drop) the remedy of one profile at one endpoint."""
    key = profile_key(name, project_root)

    def change(overrides: dict[str, Override], remedies: dict[str, dict[str, Remedy]]) -> None:
        mine = remedies.setdefault(key, {})
        if remedy is None:
            mine.pop(endpoint, None)
        else:
            mine.pop(endpoint, None)
            mine[endpoint] = remedy
            for old in list(mine)[:-_MAX_REMEDIES]:  # the oldest endpoints go first
                mine.pop(old)
        if not mine:
            remedies.pop(key, None)

    _update(paths, name, change)


def _update(paths: Paths, name: str,
            change: Callable[[dict[str, Override], dict[str, dict[str, Remedy]]], None]) -> None:
    from pinman.state.flock import exclusive

    with exclusive(paths.lock("overrides")):
        overrides, remedies = _read(paths)
        before = (dict(overrides), {k: dict(v) for k, v in remedies.items()})
        change(overrides, remedies)
        if (overrides, remedies) == before:
            return  # unchanged: a rewrite would only make every pointer stale
        doc = {"schema": SCHEMA, "overrides": {k: vars(v) for k, v in overrides.items()},
               "remedies": {k: {e: r.to_json() for e, r in v.items()} for k, v in remedies.items()}}
        point("override.write", name)
        atomic_write(paths.overrides, json.dumps(doc, indent=2, sort_keys=True) + "\n")


def _read(paths: Paths) -> tuple[dict[str, Override], dict[str, dict[str, Remedy]]]:
    from pinman.state.statefile import load_json, number, records, text

    doc = load_json(paths.overrides, hint="delete the file to drop all local overrides and remedies")
    overrides: dict[str, Override] = {}
    for key, v in records(doc, "overrides").items():
        version = text(v, "version")
        if version is not None and is_exact_version(version):  # it names a folder in the store
            overrides[key] = Override(version, text(v, "previous"), text(v, "reason") or "", number(v, "at"),
                                      text(v, "sdk_version"), text(v, "pin_spec"), text(v, "pin_version"))
    remedies: dict[str, dict[str, Remedy]] = {}
    for key, by_endpoint in records(doc, "remedies").items():
        found = {e: r for e, r in ((e, _remedy(e, v)) for e, v in by_endpoint.items()) if r is not None}
        if found:
            remedies[key] = found
    return overrides, remedies


def _remedy(endpoint: str, v: Any) -> Remedy | None:
    """A well-formed remedy record, or None."""
    from pinman.state.statefile import number, strings, text

    if not isinstance(v, dict):
        return None
    version, env = text(v, "version"), v.get("env")
    if version is None or not is_exact_version(version) or not _ENDPOINT_RX.fullmatch(endpoint):
        return None
    if not isinstance(env, dict) or not env or len(env) > 8:
        return None
    if not all(isinstance(k, str) and isinstance(x, str) and is_switch(k, x) for k, x in env.items()):
        return None
    cost = text(v, "cost")
    return Remedy(version, endpoint, tuple(env.items()), strings(v, "rejected"), text(v, "reason") or "",
                  number(v, "at"), strings(v, "tradeoffs"), cost if cost in ("cheap", "costly") else "costly",
                  text(v, "pin_spec"), text(v, "pin_version"))
