"""`pinman hooks install|uninstall|status`: pinman's hooks in Claude Code's settings. Parse, call
`pinman.autopilot.settings`, render through `cli.ui`.
"""

from __future__ import annotations

import typer

from pinman.cli.common import JSON
from pinman.cli.ui import emit, err, out
from pinman.cli.hookinfo import hook_files, hook_states, settings_file

PROJECT = typer.Option(False, "--project", help="This project's .claude/settings.json (shared with the team) "
                       "instead of your user settings.")


def install(project: bool = PROJECT) -> None:
    """Add pinman's StopFailure and SessionStart hooks; every other key and hook is kept."""
    from pinman.autopilot.settings import install as run_install

    path = settings_file(project)
    changed = run_install(path, hook_files())
    out(f"{'installed' if changed else 'already installed'}: pinman's hooks in {path}")
    # Measured: 1.x validates hook event names and then ignores the whole settings file.
    err("note: Claude Code 1.x does not know StopFailure and ignores a settings file that names it "
        "(its env, permissions and other hooks too); 2.x reads it as usual")
    if project:
        err("note: the hook commands are absolute paths on this machine; teammates run "
            "`pinman hooks install --project` too, or install them in their user settings")


def uninstall(project: bool = PROJECT) -> None:
    """Remove exactly pinman's hook entries; nothing else in the file changes."""
    from pinman.autopilot.settings import uninstall as run_uninstall

    path = settings_file(project)
    removed = run_uninstall(path)
    out(f"removed {removed} pinman hook(s) from {path}" if removed else f"no pinman hooks in {path}")


def status(as_json: bool = JSON) -> None:
    """Where pinman's hooks are installed (user and project settings)."""
    docs = [s.to_json() for s in hook_states()]
    if as_json:
        emit(docs)
        return
    for d in docs:
        out(f"{d['settings']}: {d['state']} - {d['detail']}")
