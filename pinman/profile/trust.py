"""Trust for project profiles: the parts that act for the user apply only after approval.

A project's profile can point ANTHROPIC_BASE_URL at a host that then receives the user's API key,
or set NODE_OPTIONS; its `[sdk]` names a package whose install can run code (a wheel's `.pth`
file runs at every start of the venv's Python); its `[health]` prompt and model drive the real
agent with the user's key; its `[update] policy = "guarded"` makes pinman download releases and
probe them with the user's key. So pins from a project folder apply freely, but its `[env]`,
`[sdk]`, `[health]` prompt/model and a guarded `[update]` are withheld until `pinman trust` in
that project (the guarded channel then resolves as `policy = "pin"` does). Trust is recorded
per file as the sha256 of its bytes, in the user's config folder (a project file cannot mark
itself trusted); any edit needs trust again. The hash is of the bytes the profile was parsed
from (`Profile.digest`), never of a second read: a file swapped between two reads must not be
applied on the strength of the other content. Built-in and user-folder profiles are the user's
own and always trusted.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pinman.errors import PinmanError
from pinman.state.fsutil import atomic_write
from pinman.paths import Paths
from pinman.profile.discovery import list_profiles
from pinman.profile.model import HealthConfig, UpdateConfig
from pinman.state.statefile import load_json, number, records, strings

if TYPE_CHECKING:
    from pinman.profile.model import HealthConfig, Profile


def _db_path(paths: Paths) -> Path:
    return paths.trust


def file_hash(path: Path) -> str:
    return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()


def _load(paths: Paths) -> dict[str, dict[str, Any]]:

    doc = load_json(_db_path(paths), hint="delete it and run `pinman trust` again in your projects")
    return records(doc, "files")


def _save(paths: Paths, files: dict[str, dict[str, Any]]) -> None:
    atomic_write(_db_path(paths), json.dumps({"schema": 1, "files": files}, indent=2, sort_keys=True) + "\n",
                 mode=0o600)


def guarded_parts(profile: Profile) -> list[str]:
    """What in `profile` acts for the user and so waits for trust: env keys, `[sdk] NAME`,
    `[health] prompt`/`model` (when they differ from the defaults), a guarded `[update]`."""

    parts = sorted(profile.env)
    if profile.sdk is not None:
        parts.append(f"[sdk] {profile.sdk.package}")
    if profile.health.prompt != HealthConfig.prompt:
        parts.append("[health] prompt")
    if profile.health.model is not None:
        parts.append("[health] model")
    if profile.update.guarded:
        parts.append("[update] policy")
    if profile.health.remedies != HealthConfig.remedies:
        parts.append("[health] remedies")  # "all" turns thinking off with the user's key
    return parts


def needs_trust(profile: Profile) -> bool:
    return profile.source == "project" and bool(guarded_parts(profile))


def is_trusted(paths: Paths, profile: Profile) -> bool:
    if not needs_trust(profile):
        return True
    record = _load(paths).get(str(profile.path))
    return record is not None and bool(profile.digest) and profile.digest in _trusted_hashes(record)


def _trusted_hashes(record: dict[str, Any]) -> tuple[object, ...]:
    # "next": the content an edit by pinman itself is about to write (see expect_edit).
    return tuple(h for h in (record.get("hash"), record.get("next")) if h)


def withheld_notice(profile: Profile) -> str:
    parts = guarded_parts(profile)
    what = "that env is" if len(parts) == len(profile.env) else "it is" if len(parts) == 1 else "they are"
    extra = ""
    if profile.sdk is not None:
        extra += "; the SDK is not installed, run or put on PATH"
    if any(p.startswith("[health]") for p in parts):
        extra += "; checks use the default prompt, model and remedies"
    if profile.update.guarded:
        extra += '; [update] resolves as policy = "pin" (no release is downloaded or probed for it)'
    return (f"{profile.path} sets {', '.join(parts)} but this project is not trusted: {what} NOT applied"
            f"{extra}; review the file, then run `pinman trust` in {profile.project_root}")


def applied_health(paths: Paths, profile: Profile) -> HealthConfig:
    """The `[health]` a check runs with: an untrusted project's prompt, model and remedies are
    replaced by the defaults (what the real agent is asked, with the user's key and permissions, and
    which client switches pinman may turn on for the user)."""
    import dataclasses


    if is_trusted(paths, profile):
        return profile.health
    return dataclasses.replace(profile.health, prompt=HealthConfig.prompt, model=None,
                               remedies=HealthConfig.remedies)


def applied_update(paths: Paths, profile: Profile) -> UpdateConfig:
    """The `[update]` that applies: an untrusted project's guarded channel resolves as a plain pin
    (a guarded channel downloads releases and probes them with the user's key)."""
    if not profile.update.guarded or is_trusted(paths, profile):
        return profile.update
    return UpdateConfig()


@dataclass(frozen=True)
class Trusted:
    path: Path
    keys: tuple[str, ...]
    hash: str
    at: float
    current: bool  # the file still has the trusted content


def project_candidates(root: Path, paths: Paths) -> list[Profile]:
    """The project's profiles that carry env, [sdk], a [health] prompt/model or a guarded [update]
    (what trust is about)."""

    found = list_profiles(root, paths)
    if found.broken:
        b = found.broken[0]
        raise PinmanError(f"cannot trust a project with a broken profile: {b.error.message}")
    return [p for p, _ in found if needs_trust(p)]


def trust_project(paths: Paths, root: Path, on_change: Callable[[Path], None] | None = None) -> list[Trusted]:
    """Record the current content of every env-carrying profile in the project as trusted.

    `on_change(root)` runs after the decision is saved: the caller drops what it derived from the
    old one (the shim's pointers under `root`), which this layer knows nothing about."""
    files = _load(paths)
    done = []
    now = time.time()
    for profile in project_candidates(root, paths):
        digest = profile.digest  # what was listed for the user is what gets trusted
        keys = tuple(guarded_parts(profile))
        files[str(profile.path)] = {"hash": digest, "keys": list(keys), "at": now, "project": str(root)}
        done.append(Trusted(profile.path, keys, digest, now, True))
    _save(paths, files)
    if on_change is not None:
        on_change(root)
    return done


def revoke_project(paths: Paths, root: Path, on_change: Callable[[Path], None] | None = None) -> list[Path]:
    files = _load(paths)
    gone = [Path(k) for k, v in files.items() if v.get("project") == str(root)]
    for k in gone:
        files.pop(str(k), None)
    _save(paths, files)
    if on_change is not None:
        on_change(root)
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
        after = path.read_bytes()  # one read: compared and hashed as the same bytes
    except OSError:
        return False
    same_env = _same_env(before, after)
    if same_env:
        record["hash"] = _digest(after)
        record.pop("next", None)
        _save(paths, files)
    return same_env


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


_GUARDED_TABLES = ("env", "sdk", "health", "update")


def _same_env(before: bytes, after: bytes) -> bool:
    """Whether the tables trust is about ([env], [sdk], [health], [update]) are the same in both."""
    import tomllib

    try:
        old, new = tomllib.loads(before.decode()), tomllib.loads(after.decode())
    except ValueError:  # UnicodeDecodeError and TOMLDecodeError are ValueErrors
        return False
    return all(old.get(t) == new.get(t) for t in _GUARDED_TABLES)


def list_trusted(paths: Paths) -> list[Trusted]:

    out = []
    for path, v in sorted(_load(paths).items()):
        p = Path(path)
        try:
            current = file_hash(p) in _trusted_hashes(v)
        except (OSError, ValueError):  # gone, or a key that is no file name (a NUL in it)
            current = False
        out.append(Trusted(p, strings(v, "keys"), str(v.get("hash")), number(v, "at"), current))
    return out
