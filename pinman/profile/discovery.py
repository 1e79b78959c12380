"""Finding profiles: `profiles/` beside the nearest `.pinman.toml`, then the user's, then the built-ins.

First match wins. A malformed file is reported, never skipped for a profile of the same name
further down the order.
"""

from __future__ import annotations

import os
from pathlib import Path

from pinman.errors import ProfileError
from pinman.paths import Paths, builtin_profiles_dir
from pinman.profile.model import NAME_RE, Profile, Source
from pinman.profile.project import find_project_root
from pinman.profile.validate import load_profile, validate_name
from pinman.record import record


def search_dirs(cwd: Path, paths: Paths) -> list[tuple[Source, Path, Path | None]]:
    """(source, folder, project_root) in precedence order; a folder is listed once."""
    dirs: list[tuple[Source, Path, Path | None]] = []
    root = find_project_root(cwd)
    if root is not None:
        dirs.append(("project", root / "profiles", root))
    dirs.append(("user", paths.user_profiles, None))
    dirs.append(("builtin", builtin_profiles_dir(), None))
    seen: set[Path] = set()
    out = []
    for source, folder, proot in dirs:
        # Inside pinman's own checkout the project folder *is* the built-in one: report it once.
        key = _real(folder)
        if key not in seen:
            seen.add(key)
            out.append((source, folder, proot))
    return out


def _real(folder: Path) -> Path:
    try:
        return folder.resolve()
    except OSError:
        return folder.absolute()


def _names_in(folder: Path) -> list[str]:
    """Profile names in `folder`, sorted; files whose names are not profile names are ignored."""
    try:
        entries = os.listdir(folder)
    except OSError:
        return []
    names = [e[:-5] for e in entries if e.endswith(".toml")]
    return sorted(n for n in names if NAME_RE.match(n) and ".." not in n and (folder / f"{n}.toml").is_file())


def profile_names(cwd: Path, paths: Paths) -> list[str]:
    """Every profile name visible from `cwd`, sorted: from file names, no file is read."""
    return _names(search_dirs(cwd, paths))


def _names(dirs: list[tuple[Source, Path, Path | None]]) -> list[str]:
    return sorted({n for _, folder, _ in dirs for n in _names_in(folder)})


def find_profile(name: str, cwd: Path, paths: Paths) -> Profile:
    """The first profile called `name` visible from `cwd` (project, then user, then built-in).

    A malformed file is reported, not skipped: quietly running a different profile of the same
    name would be worse than stopping.
    """
    validate_name(name)
    dirs = search_dirs(cwd, paths)
    for source, folder, root in dirs:
        path = folder / f"{name}.toml"
        # listdir, not just is_file: on a case-insensitive disk "Stable" must not load stable.toml
        if path.is_file() and path.name in os.listdir(folder):
            found = load_profile(path, name=name, source=source, project_root=root)
            return _with_shadowed(found, dirs, paths)
    known = _names(dirs)
    import difflib

    near = difflib.get_close_matches(name, known, n=1)
    hint = (f'did you mean "{near[0]}"? ' if near else "") + (
        f"known profiles: {', '.join(known)}" if known else "no profiles found")
    where = f"{dirs[0][1]}/{name}.toml" if dirs[0][0] == "project" else f"{paths.user_profiles}/{name}.toml"
    raise ProfileError(f'unknown profile "{name}"', f"{hint}; to add it, create {where}")


def _with_shadowed(profile: Profile, dirs: list[tuple[Source, Path, Path | None]], paths: Paths) -> Profile:
    """Note the user's own profile a project profile of the same name hides: the user's [env]
    (a corporate base URL, say) silently stops applying in that project otherwise."""
    if profile.source != "project":
        return profile
    mine = paths.user_profiles / f"{profile.name}.toml"
    if not any(source == "user" for source, _, _ in dirs) or not mine.is_file():
        return profile
    import dataclasses

    return dataclasses.replace(profile, shadows=mine)


@record
class BrokenProfile:
    """A profile file that is visible but does not load."""

    name: str
    path: Path
    source: Source
    project_root: Path | None
    error: ProfileError
    shadowed: bool


class ProfileList(list[tuple[Profile, bool]]):
    """`(profile, shadowed)` pairs; files that failed to load are in `.broken`, not dropped."""

    def __init__(self) -> None:
        super().__init__()
        self.broken: list[BrokenProfile] = []


def list_profiles(cwd: Path, paths: Paths) -> ProfileList:
    """Every profile visible from `cwd`, in precedence order. `shadowed` means a profile of the
    same name earlier in the order (loadable or not) wins over this one."""
    out = ProfileList()
    seen: set[str] = set()
    for source, folder, root in search_dirs(cwd, paths):
        for name in _names_in(folder):
            shadowed = name in seen
            seen.add(name)
            path = folder / f"{name}.toml"
            try:
                out.append((load_profile(path, name=name, source=source, project_root=root), shadowed))
            except ProfileError as e:
                out.broken.append(BrokenProfile(name, path, source, root, e, shadowed))
    return out
