"""Shared pieces of the team edits: built-in profiles are not edited, each profile file is
read-modified-written under its own lock, and known-bad versions are skipped the same way
everywhere. Every write goes through `_write`, which keeps the file's trust across the edit."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from pinman.errors import PinmanError, ProfileError, UsageError
from pinman.paths import Paths
from pinman.faults import point
from pinman.install.store import Store
from pinman.names import clean_version
from pinman.npm.spec import is_exact
from pinman.profile.discovery import find_profile, list_profiles
from pinman.profile.edit import update_profile
from pinman.profile.project import find_project_root, read_project_file
from pinman.profile.trust import carry_over, expect_edit
from pinman.profile.validate import load_profile
from pinman.runtime.choice import choose
from pinman.state.fsutil import make_dirs
from pinman.record import record

if TYPE_CHECKING:
    from pinman.profile.discovery import BrokenProfile
    from pinman.profile.model import Profile
    from pinman.npm.registry import Registry
    from pinman.install.store import Store


# --------------------------------------------------------------------------- shared pieces


@record
class Skip:
    """A version that resolution passed over, and why."""

    version: str
    reason: str


def editable(profile: Profile) -> None:
    """Built-in profiles ship with pinman: an edit would be lost on upgrade and shared with no one."""
    if profile.source == "builtin":
        how = "`pinman init` copies it into this folder" if profile.name == "stable" else (
            f"copy {profile.path} to profiles/ beside your .pinman.toml, or to your user profiles folder")
        raise ProfileError(f"{profile.name} is a built-in profile, which pinman does not edit",
                           hint=f"{how}, then run this again")


@contextmanager
def profile_lock(paths: Paths, path: Path) -> Iterator[None]:
    """Serialise read-modify-write of one profile file between pinman processes."""
    from filelock import FileLock


    digest = hashlib.sha256(str(path.absolute()).encode()).hexdigest()[:16]
    make_dirs(paths.locks)
    with FileLock(str(paths.lock(f"profile-{digest}")), timeout=120, mode=0o600):
        yield


def reload(profile: Profile) -> Profile:
    """The profile as the file says now (after taking its lock)."""

    return load_profile(profile.path, name=profile.name, source=profile.source,
                        project_root=profile.project_root)


def _registry(paths: Paths, registry: Registry | None) -> Registry:
    from pinman.npm.registry import Registry

    return registry or Registry(paths)


def _store(paths: Paths, store: Store | None) -> Store:

    return store or Store(paths)


def bad_skips(profile: Profile) -> dict[str, str]:
    """version -> why, for the versions the profile file marks bad."""
    return {b.version: f"marked bad in {profile.path.name}" + (f": {b.reason}" if b.reason else "")
            for b in profile.claude_code.bad}


def skips_for_resolve(paths: Paths, cwd: Path, name: str | None) -> dict[str, str]:
    """Known-bad versions `pinman resolve` skips: the named profile's, else the active one's."""

    if name is None:
        try:
            name = choose(cwd, paths).name
            return bad_skips(find_profile(name, cwd, paths))
        except PinmanError:
            return {}  # no profile here: answer exactly as npm would
    return bad_skips(find_profile(name, cwd, paths))


def _is_exact(spec: str) -> bool:

    return is_exact(spec)


def _clean(version: str) -> str:

    exact = clean_version(version)
    if exact is None:
        raise UsageError(f"{version!r} is not an exact version", hint="e.g. 2.1.331")
    return exact


def _not_bad(profile: Profile, exact: str, skips: Mapping[str, str]) -> str:
    """An exact version asked for by name, unless the profile marks it bad."""
    if exact in skips:
        raise ProfileError(f"{profile.name}: {exact} is {skips[exact]}",
                           hint=f"remove it from bad in {profile.path} first if it works now")
    return exact


def _write(profile: Profile, changes: Mapping[str, object]) -> bool:


    paths = Paths.from_env()
    before = profile.path.read_bytes()
    project = profile.source == "project"
    # Trust the new content before it lands, so a kill right after the rename keeps the trust.
    expect = (lambda after: expect_edit(paths, profile.path, before, after)) if project else None
    update_profile(profile.path, changes, before_write=expect)
    changed = profile.path.read_bytes() != before
    point("team.edited", profile.name)
    if changed and project:
        carry_over(paths, profile.path, before)
    return changed


def project_profiles(paths: Paths, cwd: Path) -> tuple[Path, list[Profile], list[BrokenProfile]]:
    """The project's own profiles (profiles/ beside .pinman.toml) plus the one .pinman.toml
    chooses if it lives elsewhere. Outside a project: ProfileError."""

    root = find_project_root(cwd)
    if root is None:
        raise ProfileError("not in a project: no .pinman.toml here or in any folder above",
                           hint="run `pinman init` in the repository, or cd into it")
    found = list_profiles(root, paths)
    mine = [p for p, shadowed in found if p.source == "project" and not shadowed]
    broken = [b for b in found.broken if b.source == "project" and not b.shadowed]
    chosen = read_project_file(root).profile
    if chosen and all(p.name != chosen for p in mine) and all(b.name != chosen for b in broken):
        mine.append(find_profile(chosen, root, paths))
    return root, mine, broken


def _append_bad(profile: Profile, version: str, reason: str) -> None:
    import tomllib

    # The array as written (not as validated): update_profile appends in place only when the
    # new list starts with exactly what the file holds, which keeps the comments inside it.
    raw = tomllib.loads(profile.path.read_text(encoding="utf-8-sig")).get("claude-code", {}).get("bad", [])
    _write(profile, {"claude-code.bad": [*raw, {"version": version, "reason": reason}]})
