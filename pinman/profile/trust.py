"""Trust for project profiles: the parts that act for the user apply only after approval.

A project's profile can point ANTHROPIC_BASE_URL at a host that then receives the user's API key,
or set NODE_OPTIONS; its `[sdk]` names a package whose install can run code (a wheel's `.pth`
file runs at every start of the venv's Python); its `[health]` decides what the real agent is
asked with the user's key and when, how long and whether pinman probes or acts (`ACTING`). So pins
from a project folder apply freely, but its `[env]`, `[sdk]` and acting keys are withheld until
`pinman trust` in that project; until then each acting key takes the user's value: their own
profile of that name (the one the project's hides) when it loads, else the default. Trust is recorded
per file as the sha256 of its bytes, in the user's config folder (a project file cannot mark
itself trusted); any edit needs trust again. The hash is of the bytes the profile was parsed
from (`Profile.digest`), never of a second read: a file swapped between two reads must not be
applied on the strength of the other content. Built-in and user-folder profiles are the user's
own and always trusted.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pinman.digest import sha256_hex
from pinman.errors import PinmanError
from pinman.state.fsutil import atomic_write
from pinman.paths import Paths
from pinman.profile.discovery import list_profiles
from pinman.state.statefile import load_json, number, records, strings
from pinman.record import record

if TYPE_CHECKING:
    from pinman.profile.model import HealthConfig, Profile, UpdateConfig

# The keys of a profile that act with the user's key: what the agent is asked, and when, how long,
# how and whether pinman probes or acts on the answer. Per TOML table; a table's Profile attribute
# is its name with "-" as "_", a dataclass whose fields are the TOML keys and whose field defaults
# are the defaults. A new key that decides any of that is covered by adding its name here (a new
# table by adding a line): until `pinman trust` it takes the user's value, is named in the notice,
# and an edit of its table by pinman itself no longer keeps trust (`_same_env`).
ACTING: dict[str, tuple[str, ...]] = {
    # "remedies": which client switches pinman turns on for the user ("all" turns thinking off)
    "health": ("prompt", "model", "probe", "timeout", "auto_rollback", "auto_recover", "interval", "remedies"),
    # a guarded channel downloads releases and probes them with the user's key
    "update": ("policy", "soak", "auto"),
}


def _db_path(paths: Paths) -> Path:
    return paths.trust


def file_hash(path: Path) -> str:
    return "sha256:" + sha256_hex(path.read_bytes())


def _load(paths: Paths) -> dict[str, dict[str, Any]]:

    doc = load_json(_db_path(paths), hint="delete it and run `pinman trust` again in your projects")
    return records(doc, "files")


def _save(paths: Paths, files: dict[str, dict[str, Any]]) -> None:
    atomic_write(_db_path(paths), json.dumps({"schema": 1, "files": files}, indent=2, sort_keys=True) + "\n",
                 mode=0o600)


def guarded_parts(profile: Profile) -> list[str]:
    """What in `profile` acts for the user and so waits for trust: env keys, `[sdk] NAME`, and
    each `ACTING` key whose value is not the default (`[health] interval`)."""

    parts = sorted(profile.env)
    if profile.sdk is not None:
        parts.append(f"[sdk] {profile.sdk.package}")
    for table, keys in ACTING.items():
        value = _table(profile, table)
        if value is not None:
            defaults = _defaults(value)
            parts += [f"[{table}] {k}" for k in keys if getattr(value, k) != defaults[k]]
    return parts


def _table(profile: Profile, table: str) -> Any:
    return getattr(profile, table.replace("-", "_"), None)


def _defaults(value: Any) -> dict[str, Any]:
    """A table dataclass's field defaults, by name."""
    import dataclasses

    out = {}
    for f in dataclasses.fields(value):
        if f.default is not dataclasses.MISSING:
            out[f.name] = f.default
        elif f.default_factory is not dataclasses.MISSING:
            out[f.name] = f.default_factory()
    return out


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
    tables = sorted({p.split("]")[0] + "]" for p in parts if p.startswith("[") and not p.startswith("[sdk]")})
    if tables:
        extra += f"; its {', '.join(tables)} settings are your own {profile.name} profile's, else the defaults"
    if "[update]" in tables:
        extra += ('; [update] resolves as policy = "pin" (no release is downloaded or probed for it) unless your '
                  f'own {profile.name} profile is guarded')
    return (f"{profile.path} sets {', '.join(parts)} but this project is not trusted: {what} NOT applied"
            f"{extra}; review the file, then run `pinman trust` in {profile.project_root}")


def applied_health(paths: Paths, profile: Profile) -> HealthConfig:
    """The `[health]` pinman acts on: every read of a key in `ACTING["health"]` that decides what
    pinman does goes through here, never `profile.health` directly."""
    return applied(paths, profile, "health")  # type: ignore[no-any-return]


def applied_update(paths: Paths, profile: Profile) -> UpdateConfig:
    """The `[update]` pinman acts on: an untrusted project's guarded channel resolves as the user's
    own profile of that name does, else as a plain pin (the default)."""
    return applied(paths, profile, "update")  # type: ignore[no-any-return]


def applied(paths: Paths, profile: Profile, table: str) -> Any:
    """`profile`'s `table` as pinman acts on it: an untrusted project's `ACTING` keys replaced by
    the user's values (their own profile of that name, else the defaults); the rest as written."""
    import dataclasses

    mine = _table(profile, table)
    if mine is None or is_trusted(paths, profile):
        return mine
    theirs = _users_table(paths, profile, table)
    defaults = _defaults(mine)
    values = {k: getattr(theirs, k) if theirs is not None else defaults[k] for k in ACTING[table]}
    return dataclasses.replace(mine, **values)


def _users_table(paths: Paths, profile: Profile, table: str) -> Any:
    """The user's own profile of this name (what runs without the project's file), its `table`;
    None when there is none or it does not load."""
    from pinman.errors import ProfileError
    from pinman.profile.validate import load_profile

    path = paths.user_profiles / f"{profile.name}.toml"
    try:
        return _table(load_profile(path, name=profile.name, source="user"), table)
    except ProfileError:
        return None


@record
class Trusted:
    path: Path
    keys: tuple[str, ...]
    hash: str
    at: float
    current: bool  # the file still has the trusted content


def project_candidates(root: Path, paths: Paths) -> list[Profile]:
    """The project's profiles that carry env, [sdk] or an `ACTING` key (what trust is about)."""

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
    return "sha256:" + sha256_hex(data)


_GUARDED_TABLES = ("env", "sdk", *ACTING)


def _same_env(before: bytes, after: bytes) -> bool:
    """Whether the tables trust is about ([env], [sdk], the `ACTING` ones) are the same in both."""
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
