"""`init`, `pin` and `mark-bad`: edits of a team's profile files, comments and layout kept,
each under the profile's lock so concurrent edits lose nothing."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import field
from pathlib import Path
from typing import TYPE_CHECKING

from pinman.errors import RegistryError, UsageError
from pinman.paths import Paths
from pinman.names import CLAUDE_CODE
from pinman.team.common import Skip, _clean, _is_exact, _not_bad, _registry, _write, _append_bad, bad_skips, editable, profile_lock, reload
from pinman.team.lock import PinResult, _check_same_version, lock_data, pin_changes
from pinman.npm.spec import parse_spec
from pinman.paths import builtin_profiles_dir
from pinman.profile.discovery import find_profile
from pinman.profile.project import PROJECT_FILE, write_project_file
from pinman.profile.validate import load_profile, parse_profile
from pinman.state.fsutil import atomic_write
from pinman.record import record

if TYPE_CHECKING:
    from pinman.npm.registry import Registry


# --------------------------------------------------------------------------- init


@record(frozen=False)
class InitResult:
    root: Path
    written: list[Path] = field(default_factory=list)
    kept: list[Path] = field(default_factory=list)


STARTER = """\
# profiles/{name}.toml: the Claude Code this team runs day to day. Commit it.
#
# Everyone with this repository runs exactly this version: pinman checks each install against
# `integrity` and refuses anything else. Move it with `pinman pin {name} VERSION` (comments
# stay), or let `pinman upgrade {name}` try a newer version against your endpoint first.
schema = 1
description = "What this team runs day to day"

[claude-code]
# An exact version, a dist-tag ("latest") or an npm range ("^2.1.0"). For a tag or range,
# `pinman lock` records the exact version it resolves to (`locked`) with its hash.
version = "{version}"
# The registry's sha512 for that version; an install that hashes differently is refused.
integrity = "{integrity}"
# Versions that `lock`, `upgrade` and `resolve` skip (`pinman mark-bad {name} VERSION --reason ...`):
# bad = [
#   {{ version = "2.1.330", reason = "output_config rejected by our gateway" }},
# ]
# 2.x runs a per-platform binary package: `pinman lock` adds a [claude-code.native] table with
# its hash for this platform and each `--platform KEY` you name (linux-x64, darwin-arm64, ...).

# Exported when the pinned `claude` runs; each teammate approves it once with `pinman trust`.
# [env]
# ANTHROPIC_BASE_URL = "https://llm-gateway.internal.example"

# How `pinman check` and `pinman upgrade` test a version against your endpoint.
[health]
prompt = "Reply with the single word OK."
timeout = 60                             # seconds
"""


def init(paths: Paths, cwd: Path, *, force: bool = False, registry: Registry | None = None) -> InitResult:
    """`.pinman.toml` choosing stable and a commented `profiles/stable.toml` pinned exactly to what
    the built-in stable runs here (see `_starter_pin`). Files that exist are kept unless `force`."""

    result = InitResult(cwd)
    starter = cwd / "profiles" / "stable.toml"
    if _exists(starter) and not force:
        result.kept.append(starter)
    else:
        version, integrity = _starter_pin(paths, _registry(paths, registry))
        text = STARTER.format(name="stable", version=version, integrity=integrity)
        parse_profile(text, starter)  # the template is a valid profile, or nothing is written
        atomic_write(starter, text, mode=0o644)  # a file of the user's project
        result.written.append(starter)
    project = cwd / PROJECT_FILE
    if _exists(project) and not force:
        result.kept.append(project)
    else:
        if force:
            project.unlink(missing_ok=True)
        write_project_file(cwd, "stable")
        result.written.append(project)
    return result


def _starter_pin(paths: Paths, registry: Registry) -> tuple[str, str]:
    """The exact version a team starts from, with its hash: what the built-in stable runs on this
    machine (verified here), else its newest candidate (a release at least its soak old, newest
    first), as `pinman use stable` would try it first."""
    from pinman.runtime.channel import candidates, channel_state, endpoint_for, is_guarded

    builtin = load_profile(builtin_profiles_dir() / "stable.toml", source="builtin")
    pin = builtin.claude_code
    if pin.exact is not None and pin.integrity is not None:
        return pin.exact, pin.integrity
    state = channel_state(paths, builtin) if is_guarded(paths, builtin) else None
    if state is not None:
        version = state.version
    else:
        found, _ = candidates(paths, builtin, registry, endpoint_for(paths, builtin))
        if not found.eligible:
            raise UsageError(f"no release of {pin.version} is old enough for the built-in stable yet",
                             hint="pin one by hand: `pinman pin stable VERSION` after `pinman init`")
        version = found.eligible[0]
    info = registry.packument(CLAUDE_CODE).versions.get(version)
    if info is None or not info.integrity or not info.integrity.startswith("sha512-"):
        raise RegistryError(f"the registry has no sha512 integrity for {CLAUDE_CODE}@{version}")
    return version, info.integrity


def _exists(path: Path) -> bool:
    return path.exists() or path.is_symlink()


# --------------------------------------------------------------------------- pin and lock


def pin(paths: Paths, cwd: Path, name: str, version: str, *, platforms: Iterable[str] = (),
        registry: Registry | None = None) -> PinResult:
    """Pin `name` to an exact version with its integrity (a tag or range is resolved first)."""

    try:
        parse_spec(version)
    except ValueError as e:
        raise UsageError(str(e), hint="e.g. 2.1.331, latest or ^2.1.0") from None
    reg = _registry(paths, registry)
    profile = find_profile(name, cwd, paths)
    editable(profile)
    with profile_lock(paths, profile.path):
        profile = reload(profile)
        skips = bad_skips(profile)
        if _is_exact(version):
            exact = _not_bad(profile, _clean(version), skips)
            skipped: list[Skip] = []
        else:
            res = reg.resolve(CLAUDE_CODE, version, skip=skips)
            exact, skipped = res.version, [Skip(v, skips[v]) for v in res.skipped]
        data = lock_data(reg, exact, profile.claude_code.native, platforms)
        _check_same_version(profile, data)
        before = profile.claude_code.exact
        changed = _write(profile, pin_changes(profile, data, exact=True))
    return PinResult(name, profile.path, exact, before, exact, data.integrity, data.native, changed,
                     skipped, data.dropped, data.ignored, version)


# --------------------------------------------------------------------------- mark-bad


@record(frozen=False)
class MarkResult:
    profile: str
    path: Path
    version: str
    reason: str
    added: bool
    running: bool  # the file's pin or lock is this very version


def mark_bad(paths: Paths, cwd: Path, name: str, version: str, reason: str) -> MarkResult:
    """Append `{ version, reason }` to the profile's `bad` array (comments kept)."""

    exact = _clean(version)
    profile = find_profile(name, cwd, paths)
    editable(profile)
    with profile_lock(paths, profile.path):
        profile = reload(profile)
        pin = profile.claude_code
        existing = pin.is_bad(exact)
        if existing is None:
            _append_bad(profile, exact, reason)
        running = pin.exact == exact
    return MarkResult(name, profile.path, exact, existing.reason if existing else reason,
                      existing is None, running)
