"""`pinman hooks install|uninstall|status`: pinman's hooks in Claude Code's settings. Parse, call
`pinman.autopilot.settings`, render."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from pinman.cli import err, out
from pinman.commands import JSON, _emit, _paths, app

hooks_app = typer.Typer(help="pinman's Claude Code hooks: roll back on the client's own schema errors, "
                        "tell the next session what pinman did.", no_args_is_help=True)
app.add_typer(hooks_app, name="hooks")

PROJECT = typer.Option(False, "--project", help="Remove an earlier pinman's entries from this project's "
                       ".claude/settings.json instead of your user settings.")


def settings_file(project: bool) -> Path:
    from pinman.autopilot.settings import project_settings, user_settings
    from pinman.profiles import find_project_root

    if project:
        return project_settings(find_project_root(Path.cwd()) or Path.cwd())
    return user_settings()


def _files() -> Any:
    from pinman.autopilot.files import HookFiles

    return HookFiles(_paths())


@hooks_app.command("install")
def install() -> None:
    """Install pinman's StopFailure and SessionStart hooks; the claude shim passes them to Claude Code."""
    from pinman.autopilot.settings import install as run_install

    files = _files()
    changed = run_install(settings_file(False), files)
    out(f"{'installed' if changed else 'already installed'}: pinman's hooks in {files.scripts}")
    err("note: `claude` run through pinman's shim gets them with --settings (StopFailure from 2.1.78, "
        "SessionStart from 1.0.62); your own Claude Code settings are not changed")


@hooks_app.command("uninstall")
def uninstall(project: bool = PROJECT) -> None:
    """Remove pinman's hooks, and any entry an earlier pinman wrote into a settings file."""
    from pinman.autopilot.settings import uninstall as run_uninstall

    removed = run_uninstall(settings_file(project), _files())
    out(f"removed {removed} pinman hook file(s)/entries" if removed else "no pinman hooks installed")


@hooks_app.command("status")
def status(as_json: bool = JSON) -> None:
    """Whether pinman's hooks are installed (and no earlier pinman entry is left in a settings file)."""
    docs = [s.to_json() for s in hook_states()]
    if as_json:
        _emit(docs)
        return
    for d in docs:
        out(f"{d['settings']}: {d['state']} - {d['detail']}")


def hook_states() -> list[Any]:
    """pinman's own hook files first, then each settings file that still holds an earlier pinman's entries."""
    from pinman.autopilot.settings import leftovers, project_settings, status as state_of
    from pinman.profiles import find_project_root

    found = [state_of(_files())]
    settings = [settings_file(False)]
    root = find_project_root(Path.cwd())
    if root is not None:
        settings.append(project_settings(root))
    found += [s for s in map(leftovers, settings) if s is not None]
    return found


def hooks_line() -> str:
    """One line for `pinman status`."""
    states = hook_states()
    stale = [s for s in states if s.state in ("stale", "unreadable")]
    if stale:
        return f"hooks: {stale[0].state} in {stale[0].path} ({stale[0].detail}): run `pinman hooks install`"
    if states[0].state == "installed":
        return f"hooks: installed in {states[0].path}"
    return "hooks: not installed (`pinman hooks install` rolls back on the client's own schema errors)"


def hook_findings() -> list[Any]:
    """For `pinman doctor`."""
    from pinman.doctor import Finding

    states = hook_states()
    found = [Finding("warn", f"{s.path}: pinman's hooks are {s.state}: {s.detail}", "pinman hooks install")
             for s in states if s.state in ("stale", "unreadable")]
    if states[0].state == "installed":
        found.insert(0, Finding("ok", f"pinman's Claude Code hooks are installed in {states[0].path}"))
    elif states[0].state == "absent":
        found.append(Finding("warn", "pinman's Claude Code hooks are not installed: a schema error in your own "
                             "session does not roll back until `pinman check` runs", "pinman hooks install"))
    return found
