"""Trust for project profiles: their `[env]` applies only after the user approves that content.

A project's profile can point ANTHROPIC_BASE_URL at a host that then receives the user's API key,
or set NODE_OPTIONS; so pins from a project folder apply freely, but its env is withheld until
`pinman trust` in that project. Trust is recorded per file as the sha256 of its bytes, in the
user's config folder (a project file cannot mark itself trusted); any edit needs trust again.
Built-in and user-folder profiles are the user's own and always trusted.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pinman.errors import PinmanError
from pinman.fsutil import atomic_write
from pinman.paths import Paths

if TYPE_CHECKING:
    from pinman.profiles import Profile


def _db_path(paths: Paths) -> Path:
    return paths.trust


def file_hash(path: Path) -> str:
    return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()


def _load(paths: Paths) -> dict[str, dict[str, Any]]:
    from pinman.statefile import load_json, records

    doc = load_json(_db_path(paths), hint="delete it and run `pinman trust` again in your projects")
    return records(doc, "files")


def _save(paths: Paths, files: dict[str, dict[str, Any]]) -> None:
    atomic_write(_db_path(paths), json.dumps({"schema": 1, "files": files}, indent=2, sort_keys=True) + "\n",
                 mode=0o600)


def needs_trust(profile: Profile) -> bool:
    return profile.source == "project" and bool(profile.env)


def is_trusted(paths: Paths, profile: Profile) -> bool:
    if not needs_trust(profile):
        return True
    record = _load(paths).get(str(profile.path))
    try:
        return record is not None and file_hash(profile.path) in _trusted_hashes(record)
    except OSError:
        return False


def _trusted_hashes(record: dict[str, Any]) -> tuple[object, ...]:
    # "next": the content an edit by pinman itself is about to write (see expect_edit).
    return tuple(h for h in (record.get("hash"), record.get("next")) if h)


def withheld_notice(profile: Profile) -> str:
    keys = ", ".join(sorted(profile.env))
    return (f"{profile.path} sets {keys} but this project is not trusted: that env is NOT applied; "
            f"review the file, then run `pinman trust` in {profile.project_root}")


@dataclass(frozen=True)
class Trusted:
    path: Path
    keys: tuple[str, ...]
    hash: str
    at: float
    current: bool  # the file still has the trusted content


def project_candidates(root: Path, paths: Paths) -> list[Profile]:
    """The project's profiles that carry env (the ones trust is about)."""
    from pinman.profiles import list_profiles

    found = list_profiles(root, paths)
    if found.broken:
        b = found.broken[0]
        raise PinmanError(f"cannot trust a project with a broken profile: {b.error.message}")
    return [p for p, _ in found if p.source == "project" and p.env]


def trust_project(paths: Paths, root: Path) -> list[Trusted]:
    """Record the current content of every env-carrying profile in the project as trusted."""
    files = _load(paths)
    done = []
    now = time.time()
    for profile in project_candidates(root, paths):
        digest = file_hash(profile.path)
        keys = tuple(sorted(profile.env))
        files[str(profile.path)] = {"hash": digest, "keys": list(keys), "at": now, "project": str(root)}
        done.append(Trusted(profile.path, keys, digest, now, True))
    _save(paths, files)
    _invalidate(paths, root)
    return done


def revoke_project(paths: Paths, root: Path) -> list[Path]:
    files = _load(paths)
    gone = [Path(k) for k, v in files.items() if v.get("project") == str(root)]
    for k in gone:
        files.pop(str(k), None)
    _save(paths, files)
    _invalidate(paths, root)
    return gone


def expect_edit(paths: Paths, path: Path, before: bytes, after: bytes) -> bool:
    """Before pinman's own edit replaces a trusted file's `before` with `after` (same [env]):
    trust `after` too, so a process killed between the file's rename and `carry_over` leaves
    the file trusted whichever content it holds."""
    files = _load(paths)
    record = files.get(str(path))
    if record is None or record.get("hash") != _digest(before) or not _same_env(before, after):
        return False
    record["next"] = _digest(after)
    _save(paths, files)
    return True


def carry_over(paths: Paths, path: Path, before: bytes) -> bool:
    """Keep trust across pinman's own edits (pin, lock, mark-bad) when [env] did not change.

    Trust stays keyed by the whole file's hash, so any other edit still needs `pinman trust`.
    """
    files = _load(paths)
    record = files.get(str(path))
    if record is None or record.get("hash") != _digest(before):
        return False
    try:
        same_env = _same_env(before, path.read_bytes())
    except OSError:
        return False
    if same_env:
        record["hash"] = file_hash(path)
        record.pop("next", None)
        _save(paths, files)
    return same_env


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _same_env(before: bytes, after: bytes) -> bool:
    import tomllib

    try:
        return bool(tomllib.loads(before.decode()).get("env") == tomllib.loads(after.decode()).get("env"))
    except ValueError:  # UnicodeDecodeError and TOMLDecodeError are ValueErrors
        return False


def list_trusted(paths: Paths) -> list[Trusted]:
    from pinman.statefile import number, strings

    out = []
    for path, v in sorted(_load(paths).items()):
        p = Path(path)
        try:
            current = file_hash(p) in _trusted_hashes(v)
        except (OSError, ValueError):  # gone, or a key that is no file name (a NUL in it)
            current = False
        out.append(Trusted(p, strings(v, "keys"), str(v.get("hash")), number(v, "at"), current))
    return out


def _invalidate(paths: Paths, root: Path) -> None:
    """Drop the shim's pointers under this project so its next run applies the new decision."""
    from pinman.activation import pointer_path

    folder = pointer_path(paths, root, "x").parent
    if folder.is_dir():
        for ptr in folder.iterdir():
            if ptr.is_file():
                ptr.unlink(missing_ok=True)
