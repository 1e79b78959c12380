"""The local overrides file: per machine, which exact version (and SDK) replaces a profile's pin
after a rollback, keyed by profile and project.

A profile file is never touched by a rollback; the override says what runs instead, and only while
the pin it replaced is still the profile's pin. A record that is not a well-formed override is no
override. A version read back here is an exact version (`names.is_exact_version`), so it always
names a folder the store could hold.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from pinman.faults import point
from pinman.names import is_exact_version
from pinman.paths import Paths
from pinman.state.fsutil import atomic_write

def profile_key(name: str, project_root: Path | None) -> str:
    return name if project_root is None else f"{project_root}::{name}"


@dataclass(frozen=True)
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


def read_overrides(paths: Paths) -> dict[str, Override]:
    """Every local override; a record that is not a well-formed override is no override."""
    from pinman.state.statefile import load_json, number, records, text

    doc = load_json(paths.overrides, hint="delete the file to drop all local overrides")
    out: dict[str, Override] = {}
    for key, v in records(doc, "overrides").items():
        version = text(v, "version")
        if version is not None and is_exact_version(version):  # it names a folder in the store
            out[key] = Override(version, text(v, "previous"), text(v, "reason") or "", number(v, "at"),
                                text(v, "sdk_version"), text(v, "pin_spec"), text(v, "pin_version"))
    return out



def get_override(paths: Paths, name: str, project_root: Path | None) -> Override | None:
    return read_overrides(paths).get(profile_key(name, project_root))


def set_override(paths: Paths, name: str, project_root: Path | None, override: Override | None) -> None:
    """Write (or with None, drop) the local override; the profile file is never touched."""
    from pinman.state.flock import exclusive

    with exclusive(paths.lock("overrides")):
        current = read_overrides(paths)
        key = profile_key(name, project_root)
        if current.get(key) == override:
            return  # unchanged: a rewrite would only make every pointer stale
        if override is None:
            current.pop(key, None)
        else:
            current[key] = override
        doc = {"schema": 1, "overrides": {k: vars(v) for k, v in current.items()}}
        point("override.write", name)
        atomic_write(paths.overrides, json.dumps(doc, indent=2, sort_keys=True) + "\n")
