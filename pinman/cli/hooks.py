"""`pinman hooks install|uninstall|status`: pinman's hooks in Claude Code's settings. Parse, call
`pinman.autopilot.settings`, render."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from pinman.cli.main import err, out
from pinman.cli.commands import JSON, _emit, _paths, app

hooks_app = typer.Typer(help="pinman's Claude Code hooks: roll back on the client's own schema errors, "
                        "tell the next session what pinman did.", no_args_is_help=True)
app.add_typer(hooks_app, name="hooks")

PROJECT = typer.Option(False, "--project", help="This project's .claude/settings.json (shared with the team) "
                       "instead of your user settings.")


def settings_file(project: bool) -> Path:
    from pinman.autopilot.settings import project_settings, user_settings
    from pinman.profile.project import find_project_root

    if project:
        return project_settings(find_project_root(Path.cwd()) or Path.cwd())
    return user_settings()


def _files() -> Any:
    from pinman.autopilot.files import HookFiles

    return HookFiles(_paths())


@hooks_app.command("install")
def install(project: bool = PROJECT) -> None:
    """Add pinman's StopFailure and SessionStart hooks; every other key and hook is kept."""
    from pinman.autopilot.settings import install as run_install

    path = settings_file(project)
    changed = run_install(path, _files())
    out(f"{'installed' if changed else 'already installed'}: pinman's hooks in {path}")
    # Measured: 1.x validates hook event names and then ignores the whole settings file.
    err("note: Claude Code 1.x does not know StopFailure and ignores a settings file that names it "
        "(its env, permissions and other hooks too); 2.x reads it as usual")
    if project:
        err("note: the hook commands are absolute paths on this machine; teammates run "
            "`pinman hooks install --project` too, or install them in their user settings")


@hooks_app.command("uninstall")
def uninstall(project: bool = PROJECT) -> None:
    """Remove exactly pinman's hook entries; nothing else in the file changes."""
    from pinman.autopilot.settings import uninstall as run_uninstall

    path = settings_file(project)
    removed = run_uninstall(path)
    out(f"removed {removed} pinman hook(s) from {path}" if removed else f"no pinman hooks in {path}")


@hooks_app.command("status")
def status(as_json: bool = JSON) -> None:
    """Where pinman's hooks are installed (user and project settings)."""
    docs = [s.to_json() for s in hook_states()]
    if as_json:
        _emit(docs)
        return
    for d in docs:
        out(f"{d['settings']}: {d['state']} - {d['detail']}")


def hook_states() -> list[Any]:
    from pinman.autopilot.settings import project_settings, status as state_of
    from pinman.profile.project import find_project_root

    files = _files()
    found = [state_of(settings_file(False), files)]
    root = find_project_root(Path.cwd())
    if root is not None:
        found.append(state_of(project_settings(root), files))
    return found


def hooks_line() -> str:
    """One line for `pinman status`."""
    states = hook_states()
    on = [s for s in states if s.state == "installed"]
    if on:
        return f"hooks: installed in {', '.join(str(s.path) for s in on)}"
    stale = [s for s in states if s.state in ("stale", "unreadable")]
    if stale:
        return f"hooks: {stale[0].state} in {stale[0].path} ({stale[0].detail}): run `pinman hooks install`"
    return "hooks: not installed (`pinman hooks install` rolls back on the client's own schema errors)"


def hook_findings() -> list[Any]:
    """For `pinman doctor`."""
    from pinman.health.doctor import Finding

    states = hook_states()
    on = [s for s in states if s.state == "installed"]
    if on:
        return [Finding("ok", f"pinman's Claude Code hooks are installed in {s.path}") for s in on]
    bad = [s for s in states if s.state in ("stale", "unreadable")]
    if bad:
        return [Finding("warn", f"{s.path}: pinman's hooks are {s.state}: {s.detail}", "pinman hooks install")
                for s in bad]
    return [Finding("warn", "pinman's Claude Code hooks are not installed: a schema error in your own session "
                    "does not roll back until `pinman check` runs", "pinman hooks install")]
