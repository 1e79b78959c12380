"""Verbs of the install store and the registry: install, uninstall, prune, verify, resolve, and
trust of a project's profiles. Parse, call the core, render through `cli.ui`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer

from pinman.cli.common import JSON, complete_profile, get_paths, get_profile
from pinman.cli.ui import age, emit, engine_notes, err, notices, out, progress
from pinman.errors import InstallError, UsageError
from pinman.paths import Paths
from pinman.names import clean_version


def install(target: Optional[str] = typer.Argument(None, help="Profile name or exact version (default: active profile).",
                                                   metavar="PROFILE|VERSION", autocompletion=complete_profile),
            force: bool = typer.Option(False, "--force", help="Install again even if present (repairs an install "
                                       "`pinman verify` finds changed)."),
            as_json: bool = JSON) -> None:
    """Install a profile's (or an exact) Claude Code version into the store."""
    from pinman.runtime.resolution import ensure_installed, fresh_registry, install_exact, target as resolve_target
    from pinman.runtime.sdk_env import ensure_installed as ensure_sdk
    from pinman.npm.spec import is_exact

    paths = get_paths()
    if target and is_exact(target):
        version = clean_version(target) or target
        inst = install_exact(paths, version, progress=progress(version), force=force)
        if as_json:
            emit({"version": version, "prefix": str(inst.prefix)})
            return
        out(f"{version}: installed at {inst.prefix}")
        return
    from pinman.runtime.choice import choose


    name = target or choose(Path.cwd(), paths).name
    profile = get_profile(name)
    tgt = resolve_target(paths, profile, registry=fresh_registry(paths))
    if force:
        _discard_sdk(paths, profile)
    inst = ensure_installed(paths, tgt, progress=progress(name), force=force)  # rebuilt aside, then swapped
    notices(paths, profile)
    pinned = ensure_sdk(paths, profile, refresh=True, progress=progress(f"{name} sdk"))
    if as_json:
        emit({"profile": name, "version": tgt.version, "prefix": str(inst.prefix),
              "sdk": {"label": pinned.label, "prefix": str(pinned.prefix)} if pinned is not None else None})
        return
    out(f"{name}: {tgt.version} installed at {inst.prefix}")
    if pinned is not None:
        out(f"{name}: {pinned.label} installed at {pinned.prefix}")


def _discard_sdk(paths: Paths, profile: Any) -> None:
    """`install --force PROFILE`: drop its SDK install, so it is built afresh."""
    from pinman.install.sdk import SdkStore
    from pinman.runtime.sdk_env import installed_for

    pinned = installed_for(paths, profile)
    if pinned is not None:
        SdkStore(paths).remove(pinned.ecosystem, pinned.name, pinned.version)


def uninstall(version: str = typer.Argument(..., help="Exact version to remove."),
              force: bool = typer.Option(False, "--force", help="Remove even if a profile uses it."),
              as_json: bool = JSON) -> None:
    """Remove one installed version (refused while a profile uses it)."""
    from pinman.views.inventory import users_of
    from pinman.names import CLAUDE_CODE
    from pinman.install.store import Store

    paths = get_paths()
    store = Store(paths)
    if store.get(CLAUDE_CODE, version) is None:
        raise InstallError(f"{version} is not installed", hint="see `pinman versions`")
    users = users_of(paths, Path.cwd(), version)
    if users and not force:
        raise UsageError(f"{version} is used by {', '.join(users)}", hint="switch those profiles first, or pass --force")
    store.remove(CLAUDE_CODE, version)
    if as_json:
        emit({"removed": version})
        return
    out(f"{version}: removed")


def prune(dry_run: bool = typer.Option(False, "--dry-run", help="Only list what would go."),
          as_json: bool = JSON) -> None:
    """Remove installs no profile uses (never a last known-good)."""
    from pinman.views.inventory import prunable
    from pinman.names import CLAUDE_CODE
    from pinman.install.store import Store

    paths = get_paths()
    victims = prunable(paths, Path.cwd())
    store = Store(paths)
    for version in victims:
        if not dry_run:
            store.remove(CLAUDE_CODE, version)
        if not as_json:
            out(f"{'would remove' if dry_run else 'removed'} {version}")
    if as_json:
        emit({"dry_run": dry_run, "would_remove" if dry_run else "removed": list(victims)})
    elif not victims:
        out("nothing to prune")


def resolve(spec: str = typer.Argument(..., help="Version, tag or range, e.g. latest, ^2.1.0, 2.1.331."),
            profile: Optional[str] = typer.Option(None, "--profile", "-p", autocompletion=complete_profile,
                                                  help="Skip this profile's known-bad "
                                                  "versions (default: the active profile's)."),
            as_json: bool = JSON) -> None:
    """The exact version a spec resolves to (as `npm install` would pick it), skipping known-bad ones."""
    from pinman.npm.registry import Registry
    from pinman.names import CLAUDE_CODE
    from pinman.team.common import skips_for_resolve
    from pinman.npm.spec import parse_spec
    from pinman.views.engines import engine_skips

    try:
        kind = parse_spec(spec).kind
    except ValueError as e:
        raise UsageError(str(e), hint="e.g. 2.1.331, latest, ^2.1.0, ~2.1.300, 2.1.x, >=1.0.100 <2") from None
    # An exact version asked for by name is answered as asked; only tags and ranges skip.
    skips = skips_for_resolve(get_paths(), Path.cwd(), profile) if kind != "exact" else {}
    registry = Registry(get_paths())
    res = registry.resolve(CLAUDE_CODE, spec, skip=skips)
    engines = engine_skips(registry.packument(CLAUDE_CODE), res.engine_skipped, res.node)
    if as_json:
        emit({"spec": spec, "version": res.version, "integrity": res.integrity,
              "stale": res.stale, "skipped": list(res.skipped),
              "skipped_why": {v: skips[v] for v in res.skipped}, "skipped_engines": engines})
        return
    out(res.version)
    for v in res.skipped:
        err(f"skipped {v}: {skips[v]}")
    for line in engine_notes(engines):
        err(f"note: {line}")
    if res.stale:
        why = [res.problem] if res.problem else []
        why += [f"fetched {age(res.fetched_at)}"] if res.fetched_at else []
        err("note: offline: answered from cached registry data" + (f" ({'; '.join(why)})" if why else ""))


def verify(name: Optional[str] = typer.Argument(None, help="Profile (default: the active one).",
                                           autocompletion=complete_profile),
           every: bool = typer.Option(False, "--all", help="Every install in the store."),
           as_json: bool = JSON) -> None:
    """Compare installs with the files recorded at install time (sha256 of each); exit 5 if one changed."""
    from pinman.runtime.choice import choose
    from pinman.errors import ExitCode
    from pinman.runtime import verify as checks

    paths, cwd = get_paths(), Path.cwd()
    if every and name:
        raise UsageError("give a profile or --all, not both", hint="pinman verify --all")
    if every:
        results = checks.for_store(paths, cwd)
    else:
        results = checks.for_profiles(paths, cwd, [name or choose(cwd, paths).name])
    code = int(ExitCode.INSTALL) if any(r.tampered for r in results) else 0
    if as_json:
        emit({"installs": [r.to_json() for r in results], "exit_code": code})
        raise typer.Exit(code)
    for r in results:
        if r.tampered:
            err(f"pinman: {r.line()}")
            err(f"  hint: reinstall it: {r.repair}")
        elif r.check is not None and r.check.state == "unrecorded":
            out(r.line())
            err(f"  hint: {r.repair} installs it again with a manifest")
        else:
            out(r.line())
    if not results:
        out("no installs")
    raise typer.Exit(code)


def trust(
    list_all: bool = typer.Option(False, "--list", help="Show every trusted file and whether it changed since."),
    revoke: bool = typer.Option(False, "--revoke", help="Withdraw trust from this project."),
    as_json: bool = JSON,
) -> None:
    """Allow this project's profiles to set env (e.g. ANTHROPIC_BASE_URL), [sdk], [health] prompt/model
    and a guarded [update]."""
    from pinman.profile import trust as trust_mod
    from pinman.profile.project import find_project_root

    paths = get_paths()
    if list_all:
        if as_json:
            emit([{"path": str(t.path), "current": t.current, "keys": list(t.keys)}
                  for t in trust_mod.list_trusted(paths)])
            return
        for t in trust_mod.list_trusted(paths):
            state = "trusted" if t.current else "CHANGED since trusted (withheld)"
            out(f"{t.path}  {state}  keys: {', '.join(t.keys)}")
        return
    root = find_project_root(Path.cwd())
    if root is None:
        raise UsageError("not inside a project (no .pinman.toml here or above)",
                          hint="run it in the project folder; user and built-in profiles need no trust")
    if revoke:
        gone = trust_mod.revoke_project(paths, root, lambda r: _drop_pointers(paths, r))
        if as_json:
            emit({"revoked": [str(g) for g in gone], "project": str(root)})
            return
        out(f"revoked trust for {len(gone)} file(s) in {root}")
        return
    done = trust_mod.trust_project(paths, root, lambda r: _drop_pointers(paths, r))
    if as_json:
        emit({"trusted": [{"path": str(t.path), "keys": list(t.keys)} for t in done], "project": str(root)})
        return
    if not done:
        out(f"nothing to trust: no profile in {root / 'profiles'} sets env, [sdk], a [health] prompt/model "
            "or a guarded [update]")
    for t in done:
        out(f"trusted {t.path}: {', '.join(t.keys)}")


def _drop_pointers(paths: Paths, root: Path) -> None:
    """Drop the shim's pointers under this project so its next run applies the new trust decision."""
    from pinman.runtime.pointers import pointer_path

    folder = pointer_path(paths, root, "x").parent
    if folder.is_dir():
        for ptr in folder.iterdir():
            if ptr.is_file():
                ptr.unlink(missing_ok=True)
