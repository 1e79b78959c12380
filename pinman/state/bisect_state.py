"""The state file of a paused bisect: what an interrupted `pinman bisect` needs to resume (its
window, the verdicts so far, the installs it made), one JSON file per profile and endpoint.

A file this version cannot read counts as no state (the bisect starts afresh). The probe records
inside are handed in as a reader (`read_probe`) by the bisect that owns them; a reader that only
needs the rest of the state (prune's installs) keeps them as read.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import field
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar

from pinman.paths import Paths
from pinman.state.fsutil import atomic_write
from pinman.record import record

SCHEMA_VERSION = 1


class ProbeRecord(Protocol):
    def to_json(self) -> dict[str, Any]: ...


P = TypeVar("P", bound=ProbeRecord)


@record
class RawProbe:
    """A probe record kept as read, for readers that need the rest of the state only."""

    doc: Mapping[str, Any]

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> RawProbe:
        return cls(dict(doc))

    def to_json(self) -> dict[str, Any]:
        return dict(self.doc)


@record(frozen=False)
class State(Generic[P]):
    """What an interrupted bisect needs to resume: saved after every probe."""

    profile: str
    endpoint: str
    good: str
    bad: str
    # The window as first computed: a resumed run keeps it, although its own verdicts have made
    # some candidates known-bad since, so that it asks the same questions again.
    candidates: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    observed: dict[str, list[P]] = field(default_factory=dict)
    installed: list[str] = field(default_factory=list)  # installs this bisect made
    started: float = field(default_factory=time.time)

    def matches(self, other: State[Any]) -> bool:
        return (self.profile, self.endpoint, self.good, self.bad) == (
            other.profile, other.endpoint, other.good, other.bad)

    def to_json(self) -> dict[str, Any]:
        return {"schema": SCHEMA_VERSION, "profile": self.profile, "endpoint": self.endpoint,
                "good": self.good, "bad": self.bad, "started": self.started,
                "candidates": self.candidates, "skipped": self.skipped,
                "updated": time.time(), "installed": self.installed,
                "observed": {v: [p.to_json() for p in ps] for v, ps in self.observed.items()}}

    @classmethod
    def from_json(cls, doc: Mapping[str, Any],
                  read_probe: Callable[[Mapping[str, Any]], P]) -> State[P]:
        observed = {str(v): [read_probe(p) for p in ps] for v, ps in doc["observed"].items()}
        return cls(str(doc["profile"]), str(doc["endpoint"]), str(doc["good"]), str(doc["bad"]),
                   [str(v) for v in doc["candidates"]], dict(doc.get("skipped") or {}), observed,
                   [str(v) for v in doc.get("installed", [])], float(doc.get("started") or time.time()))


def state_path(paths: Paths, profile_key: str, endpoint: str) -> Path:
    digest = hashlib.sha256(f"{profile_key}\n{endpoint}".encode()).hexdigest()[:16]
    return paths.bisects / f"{digest}.json"


def load_state(path: Path, read_probe: Callable[[Mapping[str, Any]], Any] = RawProbe.from_json
               ) -> State[Any] | None:
    try:
        doc = json.loads(path.read_text())
        return State.from_json(doc, read_probe) if doc.get("schema") == SCHEMA_VERSION else None
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None  # no state, or one this version cannot read: start afresh


def save_state(path: Path, state: State[Any]) -> None:

    atomic_write(path, json.dumps(state.to_json(), indent=1, sort_keys=True))
