"""`pinman outdated`: profiles whose spec resolves to something newer than what they run.

A profile runs something older than its spec allows when a lock holds a tag or range back, or an
override (a rollback) holds any pin back. The newest version comes from the registry client's own
resolution (its cache policy decides whether that asks the network); an exact pin resolves to itself.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from pinman.errors import PinmanError
from pinman.paths import Paths
from pinman.names import CLAUDE_CODE, clean_version
from pinman.npm.semver import compare, parse_version
from pinman.npm.spec import is_exact
from pinman.profile.discovery import list_profiles
from pinman.runtime.resolution import target

if TYPE_CHECKING:
    from pinman.profile.model import Profile
    from pinman.npm.registry import Registry


def outdated_rows(paths: Paths, cwd: Path, registry: Registry | None = None) -> list[dict[str, Any]]:
    """One row per visible profile: spec, runs, newest, outdated (bool), why, problem."""
    from pinman.npm.registry import Registry

    reg = registry or Registry(paths)
    return [_row(paths, profile, reg) for profile, shadowed in list_profiles(cwd, paths) if not shadowed]


def _row(paths: Paths, profile: Profile, reg: Registry) -> dict[str, Any]:

    spec = profile.claude_code.version
    row: dict[str, Any] = {"name": profile.name, "spec": spec, "runs": None, "newest": None,
                           "outdated": False, "why": None, "problem": None}
    from pinman.runtime.channel import ChannelUnset

    try:
        tgt = target(paths, profile, registry=reg)
    except ChannelUnset:
        row["why"] = "a guarded channel with nothing chosen on this machine yet"
        return row
    except PinmanError as e:
        row["problem"] = e.message
        return row
    try:
        row["runs"], row["why"] = tgt.version, tgt.why
        if profile.update.guarded and _guarded(paths, profile, reg, row):
            return row
        if is_exact(spec):
            row["newest"] = clean_version(spec)
        else:
            bad = [b.version for b in profile.claude_code.bad]
            row["newest"] = reg.resolve(CLAUDE_CODE, spec, skip=bad).version
    except PinmanError as e:
        row["problem"] = e.message
        return row
    row["outdated"] = newer(row["newest"], row["runs"])
    return row


def newer(a: str, b: str) -> bool:
    """Is version `a` newer than `b` in semver order?"""

    pa, pb = parse_version(a, loose=True), parse_version(b, loose=True)
    return pa is not None and pb is not None and compare(pa, pb) > 0


def _guarded(paths: Paths, profile: Profile, reg: Registry, row: dict[str, Any]) -> bool:
    """A guarded channel is outdated when a newer candidate waits for verification here; one still
    soaking is not (it is not a candidate yet), but is named. False when the channel is inactive."""
    from pinman.views.channel import channel_view

    view = channel_view(paths, profile, reg)
    if view is None or not view["active"]:
        return False
    row["channel"] = view
    waiting = [w["version"] for w in view["waiting"]]
    row["newest"] = (view["candidates"] or [row["runs"]])[0]
    row["outdated"] = bool(view["candidates"])
    if view["candidates"]:
        row["why"] = f"{row['newest']} waits for verification: `pinman check {profile.name}`"
    elif waiting:
        row["why"] = f"{waiting[0]} soaks; {row['runs']} is the newest verified here"
    if view["problem"]:
        row["problem"] = view["problem"]
    return True
