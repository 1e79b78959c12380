"""`.pinman.toml`: marks a project folder and chooses the profile used in it and below.

```toml
schema = 1            # optional
profile = "stable"    # optional: without it the file only makes profiles/ beside it visible
```

The `claude` shim reads this file without Python: it takes the first top-level line
`profile = "NAME"` (before any `[table]`). Only `schema` and `profile` are allowed, so the file
stays something sh can read; anything else is an error here, with file:line.
"""

from __future__ import annotations

from pathlib import Path

from pinman.errors import ProfileError
from pinman.profile.tomlfile import ProfileFileError, read_toml
from pinman.profile.validate import check_schema, check_str, check_table, validate_name
from pinman.record import record

PROJECT_FILE = ".pinman.toml"

_NEW_FILE = """\
# pinman: the profile `claude` runs in this folder and below (`pinman current` shows why).
# Profiles are looked up in profiles/ beside this file, then your user profiles, then
# pinman's built-ins. PINMAN_PROFILE=NAME overrides this for one command.
schema = 1
profile = {name}
"""


@record
class ProjectFile:
    root: Path  # the folder holding .pinman.toml
    path: Path
    profile: str | None


def find_project_root(start: Path) -> Path | None:
    """The nearest folder at or above `start` holding a `.pinman.toml`.

    Symlinks are not resolved: the shim walks `$PWD` the same way, and both must agree on the root.
    """
    folder = start.absolute()
    for candidate in (folder, *folder.parents):
        try:
            if (candidate / PROJECT_FILE).is_file():
                return candidate
        except OSError:  # an unreadable folder on the way up is not a project
            continue
    return None


def read_project_file(root: Path) -> ProjectFile:
    """Read `root/.pinman.toml`; a missing file reads as one that chooses no profile."""
    path = root / PROJECT_FILE
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return ProjectFile(root, path, None)
    except OSError as e:
        raise ProfileFileError(path, None, None, f"cannot read: {e.strerror or e}") from None
    return _parse(data, root, path)


def _parse(data: bytes | str, root: Path, path: Path) -> ProjectFile:
    f = read_toml(data, path)
    doc = check_table(f, f.data, (), ("schema", "profile"))
    check_schema(f, doc)
    if "profile" not in doc:
        return ProjectFile(root, path, None)
    name = check_str(f, doc["profile"], ("profile",))
    try:
        validate_name(name)
    except ProfileError as e:
        f.fail(("profile",), e.message, e.hint)
    return ProjectFile(root, path, name)


def write_project_file(root: Path, profile: str) -> Path:
    """Create `root/.pinman.toml` choosing `profile`, or change the choice in an existing one
    keeping its comments. Atomic."""
    from pinman.profile.edit import edit_toml  # comment-keeping edits: only when writing
    from pinman.state.fsutil import atomic_write

    validate_name(profile)
    path = root / PROJECT_FILE
    if path.exists() or path.is_symlink():
        edit_toml(path, {"profile": profile}, lambda text: _parse(text, root, path))
    else:
        atomic_write(path, _NEW_FILE.format(name=f'"{profile}"'), mode=0o644)  # a file of the user's project
    return path
