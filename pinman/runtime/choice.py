"""Which profile is chosen for a directory, and why: PINMAN_PROFILE, the nearest .pinman.toml, or
the global choice of `pinman use`.

The global choice file holds one profile name; a file that holds anything else is an error naming
it, never a name that could reach a path.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal, Mapping

from pinman.errors import PinmanError, ProfileError
from pinman.faults import point
from pinman.paths import Paths
from pinman.state.fsutil import atomic_write
from pinman.record import record

ChoiceSource = Literal["env", "project", "global"]


@record
class Choice:
    """The profile name chosen for a directory, and where that choice came from."""

    name: str
    source: ChoiceSource
    detail: str  # "PINMAN_PROFILE", the .pinman.toml path, or the global choice file
    project_root: Path | None  # nearest .pinman.toml's folder, whatever chose the name


def choose(cwd: Path, paths: Paths, environ: Mapping[str, str] | None = None) -> Choice:
    """Precedence: PINMAN_PROFILE > nearest .pinman.toml > the global choice of `pinman use`."""
    from pinman.profile.project import find_project_root, read_project_file
    from pinman.profile.validate import validate_name

    env = os.environ if environ is None else environ
    root = find_project_root(cwd)
    if env.get("PINMAN_PROFILE"):
        return Choice(validate_name(env["PINMAN_PROFILE"]), "env", "PINMAN_PROFILE", root)
    if root is not None:
        project = read_project_file(root)
        if project.profile:
            return Choice(project.profile, "project", str(project.path), root)
    name = read_global(paths)
    if name:
        return Choice(name, "global", str(paths.global_choice), root)
    raise ProfileError(
        "no profile chosen for this directory",
        hint="run `pinman use stable` (global) or `pinman use --local NAME` (this project)",
    )


def read_global(paths: Paths) -> str | None:
    from pinman.profile.model import NAME_RE
    from pinman.profile.model import show

    path = paths.global_choice
    hint = "choose again with `pinman use NAME`"
    try:
        raw = path.read_bytes().decode("utf-8", "replace").strip()
    except FileNotFoundError:
        return None
    except OSError as e:
        raise PinmanError(f"{path}: cannot read: {e.strerror or e}", hint=hint) from None
    if raw and (not NAME_RE.match(raw) or ".." in raw):
        raise ProfileError(f"{path}: not a profile name: {show(raw)}", hint=hint)
    return raw or None


def write_global(paths: Paths, name: str) -> None:
    point("global.write", name)
    atomic_write(paths.global_choice, name + "\n")
