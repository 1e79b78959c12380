"""Who uses what: profiles with their resolved versions, installed versions with their users.

Backs `list`, `status`, `show`, `versions`, `uninstall` and `prune`. Nothing here waits on the
network: tags and ranges resolve from the registry cache on this machine, whatever its age (each
row says when that was), unless the caller hands in a registry that asks (`--refresh`). A profile
that cannot resolve is reported, not fatal.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from pinman.runtime.choice import choose
from pinman.runtime.pointers import pointers, read_pointer
from pinman.state.overrides import profile_key
from pinman.errors import PinmanError
from pinman.paths import Paths
from pinman.names import CLAUDE_CODE
from pinman.runtime.resolution import Target, installed, local_registry, target
from pinman.age import ago
from pinman.npm.pick import sort_versions
from pinman.profile.discovery import find_profile, list_profiles
from pinman.profile.validate import validate_name
from pinman.runtime.resolution import dropped_note, dropped_override, fresh_registry

if TYPE_CHECKING:
    from pinman.profile.model import Profile
    from pinman.npm.registry import Registry


def _active_name(paths: Paths, cwd: Path) -> str | None:
    try:
        return choose(cwd, paths).name
    except PinmanError:
        return None


def _try_target(paths: Paths, profile: Any, registry: Registry) -> tuple[Target | None, str | None]:
    try:
        return target(paths, profile, registry=registry), None
    except PinmanError as e:
        from pinman.npm.registry import NotCached  # only now: an exact pin never loads the registry client
        from pinman.runtime.channel import ChannelUnset

        if isinstance(e, ChannelUnset):
            return None, None  # a guarded channel not used here yet: nothing runs, nothing is wrong
        if isinstance(e, NotCached):
            return None, f"{profile.claude_code.version} not resolved on this machine yet (--refresh asks the registry)"
        return None, e.message


def why(tgt: Target) -> str:
    """Why a profile runs its version; for a tag or range, with the age of that resolution."""
    if tgt.resolved_at is None or tgt.override is not None:
        return tgt.why

    return f"{tgt.why}, resolved {ago(tgt.resolved_at)}"


def profile_rows(paths: Paths, cwd: Path, registry: Registry | None = None) -> list[dict[str, Any]]:
    return [row for row, _, _ in _resolved_rows(paths, cwd, registry or local_registry(paths))]


def _resolved_rows(paths: Paths, cwd: Path, registry: Registry) -> list[tuple[dict[str, Any], Profile | None, Target | None]]:
    """Each visible profile's row, with the profile and what it resolved to (None: it did not)."""
    active = _active_name(paths, cwd)
    rows: list[tuple[dict[str, Any], Profile | None, Target | None]] = []
    found = list_profiles(cwd, paths)
    for broken in found.broken:
        if not broken.shadowed:
            rows.append(({"name": broken.name, "active": broken.name == active, "source": broken.source,
                          "path": str(broken.path), "spec": None, "version": None, "override": False,
                          "installed": False, "resolved_at": None, "problem": broken.error.message}, None, None))
    for profile, shadowed in found:
        if shadowed:
            continue
        tgt, problem = _try_target(paths, profile, registry)
        rows.append(({
            "name": profile.name,
            "active": profile.name == active,
            "source": profile.source,
            "path": str(profile.path),
            "spec": profile.claude_code.version,
            "version": tgt.version if tgt else None,
            "override": bool(tgt and tgt.override),
            "installed": bool(tgt and installed(paths, tgt.version)),
            "resolved_at": tgt.resolved_at if tgt else None,
            "problem": problem,
        }, profile, tgt))
    return rows


def profile_detail(paths: Paths, cwd: Path, name: str, registry: Registry | None = None) -> dict[str, Any]:
    from pinman.state.journal import Journal

    profile = find_profile(validate_name(name), cwd, paths)
    tgt, problem = _try_target(paths, profile, registry or local_registry(paths))
    inst = installed(paths, tgt.version) if tgt else None
    remedies = _remedies(paths, profile, tgt)
    checked = checks(Journal(paths), profile_key(profile.name, profile.project_root), tgt.version if tgt else None,
                     remedies)
    return {
        "name": profile.name,
        "description": profile.description,
        "file": str(profile.path),
        "source": profile.source,
        "spec": profile.claude_code.version,
        "locked": profile.claude_code.locked,
        "integrity": profile.claude_code.integrity,
        "native": dict(profile.claude_code.native),
        "version": tgt.version if tgt else None,
        "why": why(tgt) if tgt else problem,
        "resolved_at": tgt.resolved_at if tgt else None,
        "installed": str(inst.prefix) if inst else None,
        "bad": [{"version": b.version, "reason": b.reason} for b in profile.claude_code.bad],
        "sdk": _sdk(paths, profile, tgt.version if tgt else None),
        "env": sorted(profile.env),
        "health": vars(profile.health),
        "shadows": str(profile.shadows) if profile.shadows else None,
        "withheld": _withheld_parts(paths, profile),
        "update": vars(profile.update),
        "channel": _channel(paths, profile, registry or local_registry(paths)),
        "remedies": remedies,
        **checked,
    }


def _sdk(paths: Paths, profile: Profile, cli_version: str | None) -> dict[str, Any] | None:
    if profile.sdk is None:
        return None  # without importing what installs and resolves SDKs
    from pinman.views.sdk_coupling import describe

    return describe(paths, profile, cli_version)


def _withheld_parts(paths: Paths, profile: Profile) -> list[str]:
    """What of a project profile waits for `pinman trust` (empty once trusted)."""
    from pinman.profile.trust import guarded_parts, is_trusted

    return [] if is_trusted(paths, profile) else guarded_parts(profile)


def used_versions(paths: Paths, cwd: Path, registry: Registry | None = None) -> dict[str, list[str]]:
    """version -> the profiles (or shim contexts) that run it, seen from `cwd` and every pointer."""

    registry = registry or local_registry(paths)
    users: dict[str, list[str]] = {}
    for profile, shadowed in list_profiles(cwd, paths):
        if shadowed:
            continue
        tgt, _ = _try_target(paths, profile, registry)
        if tgt:
            users.setdefault(tgt.version, []).append(profile.name)
    for ptr, _ in pointers(paths):
        info = read_pointer(ptr)
        if info and "ver" in info:
            label = f"{ptr.name} (shim)"
            if label not in users.setdefault(info["ver"], []) and ptr.name not in users[info["ver"]]:
                users[info["ver"]].append(label)
    return users


def users_of(paths: Paths, cwd: Path, version: str) -> list[str]:
    return used_versions(paths, cwd).get(version, [])


def protected(paths: Paths, cwd: Path) -> set[str]:
    """Versions prune must keep: in use anywhere, a recorded last known-good, an override's, what a
    guarded channel runs and its previous promotion (the way back), or a paused bisect's."""
    keep = set(used_versions(paths, cwd))
    from pinman.state.bisect_state import load_state
    from pinman.state.channels import read_channels
    from pinman.state.journal import Journal
    from pinman.state.overrides import read_overrides

    keep |= Journal(paths).known_good_versions()
    keep |= {ov.version for ov in read_overrides(paths).values()}
    for state in read_channels(paths).values():
        keep |= {state.version, *([state.previous] if state.previous else [])}
    # A stopped bisect keeps its probe installs so that running it again resumes without downloads.
    for state_file in paths.bisects.glob("*.json"):
        state = load_state(state_file)
        if state is not None:
            keep |= set(state.installed)
    return keep


def prunable(paths: Paths, cwd: Path) -> list[str]:
    from pinman.install.store import Store

    keep = protected(paths, cwd)
    return [i.version for i in Store(paths).list(CLAUDE_CODE) if i.version not in keep]


def version_rows(paths: Paths, cwd: Path, *, remote: bool) -> list[dict[str, Any]]:
    """Installed versions and who uses them; with `remote`, the registry's too (asked now)."""
    from pinman.install.store import Store

    registry = fresh_registry(paths) if remote else local_registry(paths)
    users = used_versions(paths, cwd, registry)
    have = {i.version for i in Store(paths).list(CLAUDE_CODE)}
    tags: dict[str, list[str]] = {}
    universe = set(have)
    if remote:
        doc = registry.packument(CLAUDE_CODE)
        for tag, version in doc.dist_tags.items():
            tags.setdefault(version, []).append(tag)
        universe |= set(doc.versions)
    return [
        {"version": v, "tags": tags.get(v, []), "installed": v in have, "used_by": users.get(v, [])}
        for v in reversed(sort_versions(list(universe)))
    ]


def status_rows(paths: Paths, cwd: Path, registry: Registry | None = None) -> list[dict[str, Any]]:
    """`profile_rows` plus why each runs what it runs and its last health check."""
    from pinman.state.journal import Journal

    journal = Journal(paths)
    rows = []
    for row, profile, tgt in _resolved_rows(paths, cwd, registry or local_registry(paths)):
        rows.append(row)
        if profile is None:  # a file that does not load: its problem is in the row already
            row["why"], row["last_check"], row["newest_check"] = row["problem"], None, None
            continue
        row["why"] = why(tgt) if tgt else row["problem"]
        row["locked"] = profile.claude_code.locked
        ov = tgt.override if tgt else None
        row["override_of"], row["override_reason"] = (ov.previous, ov.reason) if ov else (None, None)
        key = profile_key(profile.name, profile.project_root)
        row["remedies"] = _remedies(paths, profile, tgt)
        row.update(checks(journal, key, row["version"], row["remedies"]))
        row["dropped"] = _dropped(paths, journal, profile, key)
        row["channel"] = _channel(paths, profile, registry)
    return rows


def checks(journal: Any, key: str, version: str | None,
           remedies: list[dict[str, Any]] | None = None) -> dict[str, dict[str, Any] | None]:
    """`last_check`: the newest check of the version the profile runs (a check of another version
    says nothing about it; for a version that runs with a remedy here, its newest probe with that
    remedy: the plain probe a check sends after it only asks whether the remedy is still needed);
    `newest_check`: the newest check of any version, to say which it was."""
    last = _last_check(journal, key, version, remedies or []) if version else None
    newest = journal.last_check(key)
    return {"last_check": _check_doc(last), "newest_check": _check_doc(newest)}


def _last_check(journal: Any, key: str, version: str, remedies: list[dict[str, Any]]) -> Any:
    here = next((m["env"] for m in remedies if m["here"]), None)
    if here is not None:
        with_it = next((e for e in journal.history(key, limit=20) if e.event == "check"
                        and e.version == version and e.extra.get("remedy") == here), None)
        if with_it is not None:
            return with_it
    return journal.last_check(key, version)


def _check_doc(entry: Any) -> dict[str, Any] | None:
    if entry is None:
        return None
    return {"outcome": entry.outcome, "version": entry.version, "ts": entry.ts, "endpoint": entry.endpoint,
            "message": entry.message}


def _remedies(paths: Paths, profile: Profile, tgt: Target | None) -> list[dict[str, Any]]:
    """The client switches the profile's version runs with, per endpoint (none on an override)."""
    import os

    from pinman.runtime.remedies import shown

    return shown(paths, profile, tgt.version, os.environ) if tgt is not None and tgt.override is None else []


def _channel(paths: Paths, profile: Profile, registry: Registry) -> dict[str, Any] | None:
    if not profile.update.guarded:
        return None  # without importing what a channel needs
    from pinman.views.channel import channel_view

    return channel_view(paths, profile, registry)


# What last changed which version a profile runs, in the journal (checks do not).
_SWITCHES = frozenset({"rollback", "reset", "recovered", "dropped", "switch", "remedied"})


def _dropped(paths: Paths, journal: Any, profile: Any, key: str) -> str | None:
    """Why an override no longer applies: its pin changed. From the override itself until a check
    drops it, then from the journal until the next switch."""

    found = dropped_override(paths, profile)
    if found is not None:
        return dropped_note(*found)
    last = journal.last_of(key, _SWITCHES)
    return last.message if last is not None and last.event == "dropped" else None
