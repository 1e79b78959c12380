"""Verbs that choose and show profiles: use, current, which, env, activate, exec, list, show,
outdated, versions. Parse, call the core, render through `cli.ui`.
"""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path
from typing import Any, Optional

import typer

from pinman.cli.common import JSON, REFRESH, get_paths, get_profile, registry_for
from pinman.cli.ui import age, emit, err, notices, out, progress, table, warn_path
from pinman.errors import UsageError
from pinman.paths import Paths
from pinman.cli.checks import run_checks
from pinman.cli.current import render_current
from pinman.names import clean_version


def use(
    name: str = typer.Argument(..., help="Profile to switch to, or an exact version (e.g. 2.1.331): "
                               "that makes a profile of the same name pinned to it."),
    local: bool = typer.Option(False, "--local", help="Choose it for this project (.pinman.toml here)."),
    reset: bool = typer.Option(False, "--reset", help="Drop a local override (rollback): back to the pin."),
    check_after: bool = typer.Option(False, "--check", help="Health-check after switching; roll back on schema errors."),
    as_json: bool = JSON,
) -> None:
    """Install the profile's version if needed and make `claude` run it."""
    from pinman.runtime.pointers import record_project_choice
    from pinman.runtime.choice import write_global
    from pinman.profile.discovery import find_profile
    from pinman.profile.validate import validate_name
    from pinman.profile.project import write_project_file
    from pinman.runtime.resolution import activate, fresh_registry

    paths = get_paths()
    registry = fresh_registry(paths)  # switching installs: ask the registry, once for both contexts
    cwd = Path.cwd()
    profile = _profile_or_version(validate_name(name), cwd, paths, as_json)
    dropped = None
    if reset:
        from pinman.health.manual import reset as drop_override

        dropped = drop_override(paths, profile)
        if not as_json:
            out(f"{name}: override {dropped} dropped" if dropped else f"{name}: no override to drop")
    chosen_here = _chosen_by_project(cwd, name)
    if profile.source == "project" and not local and not chosen_here:
        raise UsageError(f'"{name}" is defined by this project ({profile.path}), so it cannot be the global choice',
                         hint=f"choose it for this project: pinman use --local {name}")
    tgt, inst = activate(paths, profile, _context_root(cwd, local), progress=progress(f"{name}"), registry=registry)
    from pinman.faults import point

    point("use.activated", name)
    if local:
        written = write_project_file(cwd, name)
        record_project_choice(paths, cwd)  # the next `claude` here needs no Python
        where = f"for {cwd} ({written.name})"
    elif profile.source == "project":
        where = f"for this project (chosen by {chosen_here})"
    else:
        write_global(paths, name)
        # Also refresh the pointer outside projects, which is what the global choice serves.
        if _context_root(cwd, False) is not None:
            activate(paths, find_profile(name, Path(os.sep), paths), None, registry=registry)
        where = "globally"
    overridden = None if local or profile.source == "project" else _overridden_here(cwd, paths, name)
    if as_json:
        emit({"profile": name, "version": tgt.version, "why": tgt.why, "where": where,
              "overridden_here": overridden, **({"override_dropped": dropped} if reset else {})})
    else:
        out(f"{name}: claude {tgt.version} {where}  [{tgt.why}]")
    if overridden:
        err(f"note: here {overridden}")
    notices(paths, profile)
    warn_path(paths)
    if check_after:
        raise typer.Exit(run_checks([profile], as_json=False, auto_rollback=None, isolated_home=False))


def _profile_or_version(name: str, cwd: Path, paths: Paths, quiet: bool) -> Any:
    """The profile `name`; an exact version that names no profile becomes a user profile pinned to
    it (as `mise use` and `volta pin` take a version), so the shim can resolve it like any other."""
    from pinman.errors import ProfileError
    from pinman.profile.discovery import find_profile
    from pinman.npm.spec import is_exact

    try:
        return find_profile(name, cwd, paths)
    except ProfileError:
        if not is_exact(name) or name != clean_version(name):
            raise
    path = paths.user_profiles / f"{name}.toml"
    from pinman.state.fsutil import atomic_write  # makes the folders, 0700 whatever the umask

    atomic_write(path, f'# made by `pinman use {name}`: edit it like any other profile\n'
                       f'[claude-code]\nversion = "{name}"\n')
    if not quiet:
        err(f"note: made profile {name} ({path})")
    return find_profile(name, cwd, paths)


def _overridden_here(cwd: Path, paths: Paths, name: str) -> str | None:
    """Why `claude` here still runs another profile than the global choice just made, if it does."""
    from pinman.runtime.choice import choose

    choice = choose(cwd, paths)
    if choice.name == name:
        return None
    if choice.source == "env":
        return f"PINMAN_PROFILE={choice.name} overrides it (unset PINMAN_PROFILE to use {name})"
    return f"{choice.detail} chooses {choice.name} (`pinman use --local {name}` changes that)"


def _chosen_by_project(cwd: Path, name: str) -> Path | None:
    """The .pinman.toml that already chooses `name` for this directory, if any."""
    from pinman.profile.project import find_project_root, read_project_file

    root = find_project_root(cwd)
    project = read_project_file(root) if root else None
    return project.path if project and project.profile == name else None


def _context_root(cwd: Path, local: bool) -> Path | None:
    from pinman.profile.project import find_project_root

    return cwd if local else find_project_root(cwd)


def current(as_json: bool = JSON, refresh: bool = REFRESH) -> None:
    """Profile, version and binary for this directory, and why."""
    if refresh:
        _refresh_active()
    raise typer.Exit(render_current("current", as_json))


def which(as_json: bool = JSON, refresh: bool = REFRESH) -> None:
    """The binary `claude` runs here."""
    if refresh:
        _refresh_active()
    raise typer.Exit(render_current("which", as_json))


def _refresh_active() -> None:
    """Ask the registry for the active profile's tag or range, so the cache answers what follows."""
    from pinman.runtime.choice import choose
    from pinman.runtime.resolution import fresh_registry, target

    paths = get_paths()
    target(paths, get_profile(choose(Path.cwd(), paths).name), registry=fresh_registry(paths))


def _env_for(name: str | None) -> tuple[str, dict[str, str]]:
    from pinman.runtime.choice import choose
    from pinman.runtime.resolution import profile_env

    paths = get_paths()
    chosen = name or choose(Path.cwd(), paths).name
    profile = get_profile(chosen)
    notices(paths, profile)
    from pinman.install.sdk import PATH_PREPEND

    env = profile_env(paths, profile)
    front = [str(paths.bin), *([env.pop(PATH_PREPEND)] if PATH_PREPEND in env else [])]
    env["PINMAN_PROFILE"] = chosen
    env["PATH"] = _path_with(front)
    return chosen, env


def _path_with(front: list[str]) -> str:
    """PATH with `front` first and no second copy of them: evaluating it again changes nothing."""
    rest = [d for d in os.environ.get("PATH", "").split(os.pathsep) if d not in front]
    return os.pathsep.join(front + rest)


def env_cmd(name: Optional[str] = typer.Argument(None, help="Profile (default: the active one)."),
            as_json: bool = JSON) -> None:
    """Print `export` lines that fix this shell to a profile: eval "$(pinman env stable)".

    For a shell profile (~/.bashrc) use `pinman activate`: it keeps the per-folder choice.
    """
    from pinman.runtime.shim import ensure_shim
    from pinman.runtime.sh import sh_quote

    _, env = _env_for(name)
    ensure_shim(get_paths())
    if as_json:
        emit(env)
        return
    for key, value in env.items():
        out(f"export {key}={sh_quote(value)}")


def activate(as_json: bool = JSON) -> None:
    """Print the line for your shell profile: eval "$(pinman activate)".

    Only puts pinman's `claude` first on PATH (once, however often it runs); which profile runs is
    still decided in each folder when `claude` starts (.pinman.toml, `pinman use`).
    """
    from pinman.runtime.shim import ensure_shim
    from pinman.runtime.sh import sh_quote

    paths = get_paths()
    ensure_shim(paths)
    path = _path_with([str(paths.bin)])
    if as_json:
        emit({"PATH": path})
        return
    out(f"export PATH={sh_quote(path)}")


def exec_cmd(
    ctx: typer.Context,
    profile: Optional[str] = typer.Option(None, "-p", "--profile", help="Profile (default: the active one)."),
) -> None:
    """Run a command with the profile's `claude` first on PATH and its env: pinman exec -- CMD."""
    from pinman.runtime.shim import ensure_shim

    command = list(ctx.args)
    if not command:
        raise UsageError("no command given", hint="pinman exec [-p NAME] -- CMD [ARGS...]")
    _, env = _env_for(profile)
    ensure_shim(get_paths())
    full = dict(os.environ)
    full.update(env)
    try:
        os.execvpe(command[0], command, full)
    except FileNotFoundError:
        err(f"pinman: command not found: {command[0]}")
        raise typer.Exit(127) from None  # the shell's codes, so `pinman exec` drops in for a command
    except PermissionError:
        err(f"pinman: permission denied: {command[0]} (not executable)")
        raise typer.Exit(126) from None
    except OSError as e:
        if e.errno != errno.ENOEXEC:
            raise
        err(f"pinman: cannot execute {command[0]}: {e.strerror}")
        raise typer.Exit(126) from None


def list_cmd(as_json: bool = JSON, refresh: bool = REFRESH) -> None:
    """Profiles visible here: source, spec, resolved version (and when), installed?, active?"""
    from pinman.views.inventory import profile_rows

    rows = profile_rows(get_paths(), Path.cwd(), registry_for(refresh))
    if as_json:
        emit(rows)
        return
    shown = [{**r, "resolved": age(r["resolved_at"]) if r["resolved_at"] else None} for r in rows]
    table(shown, ["active", "name", "source", "spec", "version", "resolved", "installed", "problem"])


def show(name: str = typer.Argument(..., help="Profile to describe."), as_json: bool = JSON,
         refresh: bool = REFRESH) -> None:
    """Everything about one profile."""
    from pinman.views.inventory import profile_detail

    data = profile_detail(get_paths(), Path.cwd(), name, registry_for(refresh))
    warning = (data.get("sdk") or {}).get("warning")
    if as_json:
        emit(data)
    else:
        _render_show(data)
    if warning:
        err(f"warning: {warning}")


def outdated(all_rows: bool = typer.Option(False, "--all", help="List every profile, not only the outdated."),
             as_json: bool = JSON) -> None:
    """Profiles that run an older version than their spec resolves to (held by a lock or a rollback)."""
    from pinman.views.outdated import outdated_rows

    rows = outdated_rows(get_paths(), Path.cwd())
    shown = rows if all_rows else [r for r in rows if r["outdated"] or r["problem"]]
    if as_json:
        emit(shown)
        return
    if not shown:
        out("every profile runs the newest version its spec allows")
        return
    table(shown, ["name", "spec", "runs", "newest", "outdated", "why", "problem"])


SHOWN = ("name", "description", "file", "source", "shadows", "version", "why", "installed", "withheld")


def _render_show(data: dict[str, Any]) -> None:
    """What pinman made of the profile, then the file's own values as written ("6h", not 21600.0)."""
    for key in SHOWN:
        value = data.get(key)
        if key == "installed" and value is None and data.get("version"):
            value = "no (`pinman install` or run claude once)"
        if key == "shadows" and value:
            value = f"{value} (hidden by this project's profile of the same name)"
        if key == "withheld" and value:
            value = ", ".join(value) + " (until `pinman trust`)"
        if value not in (None, ""):
            out(f"{key + ':':14} {value}")
    sdk = data.get("sdk")
    if sdk:
        out(f"{'sdk:':14} {json.dumps(sdk)}")
    out(f"in {Path(data['file']).name}:")
    from pinman.redact import secret_values
    from pinman.views.profile_file import file_values

    for line in file_values(Path(data["file"]), hide=secret_values(os.environ)):
        out(f"  {line}")


def versions(remote: bool = typer.Option(False, "--remote", help="List registry versions too (asks the registry)."),
             as_json: bool = JSON) -> None:
    """Installed versions (and with --remote, the registry's) with dist-tags."""
    from pinman.views.inventory import version_rows

    rows = version_rows(get_paths(), Path.cwd(), remote=remote)
    if as_json:
        emit(rows)
        return
    table(rows, ["version", "tags", "installed", "used_by"])
