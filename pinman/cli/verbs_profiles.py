"""Verbs that choose and show profiles: use, current, which, env, activate, exec, list, show,
outdated, versions. Parse, call the core, render through `cli.ui`.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path
from typing import Any, Optional

import typer

from pinman.cli.common import JSON, REFRESH, complete_profile, get_paths, get_profile
from pinman.cli.ui import emit, err, notices, out, progress, table, warn_path
from pinman.errors import UsageError
from pinman.paths import Paths
from pinman.cli.checks import run_checks
from pinman.names import clean_version


def use(
    name: str = typer.Argument(..., help="Profile to switch to, or an exact version (e.g. 2.1.331): "
                               "that makes a profile of the same name pinned to it.", autocompletion=complete_profile),
    local: bool = typer.Option(False, "--local", help="Choose it for this project (.pinman.toml here)."),
    reset: bool = typer.Option(False, "--reset", help="Drop a local override (rollback) and remedies: back to the pin."),
    check_after: bool = typer.Option(False, "--check", help="Health-check after switching; roll back on schema errors."),
    as_json: bool = JSON,
) -> None:
    """Install the profile's version if needed and make `claude` run it."""
    from pinman.profile.validate import validate_name
    from pinman.runtime.resolution import fresh_registry

    paths = get_paths()
    registry = fresh_registry(paths)  # switching installs: ask the registry, once for both contexts
    cwd = Path.cwd()
    profile, made = _profile_or_version(validate_name(name), cwd, paths, registry)
    try:
        tgt, where, dropped, chosen = _switch(paths, cwd, profile, local=local, reset=reset, registry=registry,
                                              as_json=as_json)
    except BaseException:
        if made is not None:  # `use VERSION` that did not switch leaves no profile of it behind
            made.unlink(missing_ok=True)
        raise
    if made is not None and not as_json:
        err(f"note: made profile {name} ({made})")
    overridden = None if local or profile.source == "project" else _overridden_here(cwd, paths, name)
    if as_json:
        emit({"profile": name, "version": tgt.version, "why": tgt.why, "where": where,
              "overridden_here": overridden, **({"override_dropped": dropped} if reset else {}),
              **({"channel": chosen.channel_json()} if chosen is not None else {})})
    else:
        out(f"{name}: claude {tgt.version} {where}  [{tgt.why}]")
        if chosen is not None and chosen.promoted and not chosen.promoted["verified"]:
            err(f"warning: {chosen.promoted['message']}")
        elif chosen is None:
            _waiting_note(paths, profile)
    if overridden:
        err(f"note: here {overridden}")
    notices(paths, profile)
    warn_path(paths)
    if check_after:
        raise typer.Exit(run_checks([profile], as_json=False, auto_rollback=None, isolated_home=False))


def _switch(paths: Paths, cwd: Path, profile: Any, *, local: bool, reset: bool, registry: Any,
            as_json: bool) -> tuple[Any, str, str | None, Any]:
    """Drop the override if asked, let a guarded channel that runs nothing here choose (probing its
    candidates), install, point the shim, record the choice: (target, where, dropped, the channel's
    first choice or None)."""
    from pinman.faults import point
    from pinman.profile.discovery import find_profile
    from pinman.profile.project import write_project_file
    from pinman.runtime.choice import write_global
    from pinman.runtime.pointers import record_project_choice
    from pinman.runtime.resolution import activate

    name, dropped = profile.name, None
    chosen_here = _chosen_by_project(cwd, name)
    if profile.source == "project" and not local and not chosen_here:  # before anything changes
        raise UsageError(f'"{name}" is defined by this project ({profile.path}), so it cannot be the global choice',
                         hint=f"choose it for this project: pinman use --local {name}")
    if reset:
        from pinman.health.manual import reset as drop_override

        dropped = drop_override(paths, profile)
        if not as_json:
            out(f"{name}: override {dropped} dropped" if dropped else f"{name}: no override to drop")
    chosen = _choose_channel(paths, profile, as_json)
    tgt, _ = activate(paths, profile, _context_root(cwd, local), progress=progress(f"{name}"), registry=registry)
    point("use.activated", name)
    if local:
        written = write_project_file(cwd, name)
        record_project_choice(paths, cwd)  # the next `claude` here needs no Python
        return tgt, f"for {cwd} ({written.name})", dropped, chosen
    if profile.source == "project":
        return tgt, f"for this project (chosen by {chosen_here})", dropped, chosen
    write_global(paths, name)
    # Also refresh the pointer outside projects, which is what the global choice serves.
    if _context_root(cwd, False) is not None:
        activate(paths, find_profile(name, Path(os.sep), paths), None, registry=registry)
    return tgt, "globally", dropped, chosen


def _choose_channel(paths: Paths, profile: Any, quiet: bool) -> Any:
    """A guarded profile that runs nothing here yet: probe its candidates, newest first, and
    promote the first that passes (said before the switch). None for any other profile."""
    from pinman.runtime.channel import channel_state, is_guarded

    if not is_guarded(paths, profile) or channel_state(paths, profile) is not None:
        return None
    from pinman.cli.checks import probe_meter, render_channel
    from pinman.policy.channel import first_choice

    report = first_choice(paths, profile, progress=progress(profile.name), waiting=probe_meter())
    if not quiet:
        render_channel(report)
    return report


def _waiting_note(paths: Paths, profile: Any) -> None:
    """For a guarded profile that keeps what it runs here: newer candidates it has not tried yet."""
    from pinman.errors import PinmanError
    from pinman.runtime.channel import candidates, channel_state, endpoint_for, is_guarded
    from pinman.runtime.resolution import local_registry

    state = channel_state(paths, profile) if is_guarded(paths, profile) else None
    if state is None:
        return
    try:
        found, _ = candidates(paths, profile, local_registry(paths), endpoint_for(paths, profile))
    except PinmanError:
        return
    newer = found.newer_than(state.version)
    if newer:
        err(f"note: {len(newer)} newer release(s) of {profile.claude_code.version} wait for verification "
            f"(newest {newer[0]}): `pinman check {profile.name}` tries them")


def _profile_or_version(name: str, cwd: Path, paths: Paths, registry: Any) -> tuple[Any, Path | None]:
    """The profile `name`, and the file made for it if it was made now. An exact version that
    names no profile becomes a user profile pinned to it (as `mise use` and `volta pin` take a
    version), so the shim can resolve it like any other; only once the registry confirms the
    version exists (an unknown one is a registry error naming the nearest, as for `install`) or
    it is installed here already."""
    from pinman.errors import ProfileError
    from pinman.profile.discovery import find_profile
    from pinman.npm.spec import is_exact

    try:
        return find_profile(name, cwd, paths), None
    except ProfileError:
        if not is_exact(name) or name != clean_version(name):
            raise
    from pinman.runtime.resolution import installed

    if installed(paths, name) is None:
        from pinman.names import CLAUDE_CODE
        from pinman.npm.pick import pick

        pick(name, registry.packument(CLAUDE_CODE), None)
    path = paths.user_profiles / f"{name}.toml"
    from pinman.state.fsutil import atomic_write  # makes the folders, 0700 whatever the umask

    atomic_write(path, f'# made by `pinman use {name}`: edit it like any other profile\n'
                       f'[claude-code]\nversion = "{name}"\n')
    return find_profile(name, cwd, paths), path


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


def current(as_json: bool = JSON, refresh: bool = REFRESH) -> int:
    """Profile, version and binary for this directory, and why."""
    from pinman.cli import current as answers

    return answers.current(as_json=as_json, refresh=refresh)


def which(as_json: bool = JSON, refresh: bool = REFRESH) -> int:
    """The binary `claude` runs here."""
    from pinman.cli import current as answers

    return answers.which(as_json=as_json, refresh=refresh)


def _env_for(name: str | None) -> tuple[str, dict[str, str]]:
    from pinman.runtime.choice import choose
    from pinman.runtime.resolution import profile_env

    paths = get_paths()
    chosen = name or choose(Path.cwd(), paths).name
    profile = get_profile(chosen)
    notices(paths, profile)
    from pinman.install.sdk import PATH_PREPEND

    env = profile_env(paths, profile)
    env.update(_remedy_env(paths, profile, env))
    front = [str(paths.bin), *([env.pop(PATH_PREPEND)] if PATH_PREPEND in env else [])]
    env["PINMAN_PROFILE"] = chosen
    env["PATH"] = _path_with(front)
    return chosen, env


def _remedy_env(paths: Paths, profile: Any, env: dict[str, str]) -> dict[str, str]:
    """The switches of the pinned version's remedy at the endpoint this environment names (a
    script may start the pinned binary itself, through CLAUDE_CODE_EXECUTABLE, not the shim)."""
    from pinman.errors import PinmanError
    from pinman.runtime.remedies import applied, remedies_for
    from pinman.runtime.resolution import local_registry, target

    try:
        tgt = target(paths, profile, registry=local_registry(paths))
    except PinmanError:
        return {}
    return {} if tgt.override else applied({**os.environ, **env}, remedies_for(paths, profile, tgt.version))


def _path_with(front: list[str]) -> str:
    """PATH with `front` first and no second copy of them: evaluating it again changes nothing."""
    rest = [d for d in os.environ.get("PATH", "").split(os.pathsep) if d not in front]
    return os.pathsep.join(front + rest)


def env_cmd(name: Optional[str] = typer.Argument(None, help="Profile (default: the active one).",
                                            autocompletion=complete_profile),
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
    profile: Optional[str] = typer.Option(None, "-p", "--profile", help="Profile (default: the active one).",
                                          autocompletion=complete_profile),
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


def list_cmd(as_json: bool = JSON, refresh: bool = REFRESH) -> int:
    """Profiles visible here: source, spec, resolved version (and when), installed?, active?"""
    from pinman.cli import reads

    return reads.list_profiles(as_json=as_json, refresh=refresh)


def show(name: str = typer.Argument(..., help="Profile to describe.", autocompletion=complete_profile),
         as_json: bool = JSON,
         refresh: bool = REFRESH) -> int:
    """Everything about one profile."""
    from pinman.cli import reads

    return reads.show(name=name, as_json=as_json, refresh=refresh)


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


def versions(remote: bool = typer.Option(False, "--remote", help="List registry versions too (asks the registry)."),
             as_json: bool = JSON) -> None:
    """Installed versions (and with --remote, the registry's) with dist-tags."""
    from pinman.views.inventory import version_rows

    rows = version_rows(get_paths(), Path.cwd(), remote=remote)
    if as_json:
        emit(rows)
        return
    table(rows, ["version", "tags", "installed", "used_by"])
