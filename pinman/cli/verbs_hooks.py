"""`pinman hooks install|uninstall|status`: pinman's Claude Code hooks. Parse, call
`pinman.autopilot.settings`, render through `cli.ui`.
"""

from __future__ import annotations

import typer

from pinman.cli.common import JSON
from pinman.cli.ui import emit, err, out
from pinman.cli.hookinfo import hook_files, hook_states, settings_file

PROJECT = typer.Option(False, "--project", help="Remove an earlier pinman's entries from this project's "
                       ".claude/settings.json instead of your user settings.")


def install() -> None:
    """Install pinman's Claude Code hooks (StopFailure, SessionEnd, SessionStart); the shim passes them on."""
    from pinman.autopilot.settings import install as run_install

    files = hook_files()
    changed = run_install(settings_file(False), files)
    out(f"{'installed' if changed else 'already installed'}: pinman's hooks in {files.scripts}")
    err("note: `claude` run through pinman's shim gets them with --settings (StopFailure and SessionEnd from "
        "2.1.78, SessionStart from 1.0.62; as a plugin when the run brings its own --settings); your own Claude "
        "Code settings are not changed")


def uninstall(project: bool = PROJECT) -> None:
    """Remove pinman's hooks, and any entry an earlier pinman wrote into a settings file."""
    from pinman.autopilot.settings import uninstall as run_uninstall

    removed = run_uninstall(settings_file(project), hook_files())
    out(f"removed {removed} pinman hook file(s)/entries" if removed else "no pinman hooks installed")


def status(as_json: bool = JSON) -> None:
    """Whether pinman's hooks are installed (and no earlier pinman entry is left in a settings file)."""
    docs = [s.to_json() for s in hook_states()]
    if as_json:
        emit(docs)
        return
    for d in docs:
        out(hook_line(d))


_FIX = {"absent": "`pinman hooks install` installs them", "stale": "`pinman hooks install` rewrites them"}


def hook_line(doc: dict[str, str]) -> str:
    """One sentence per settings file: where, and what state it is in (each detail says the state:
    'StopFailure, SessionStart installed: …', 'pinman's hooks are not installed'), then the fix."""
    fix = _FIX.get(doc["state"], "") if "pinman hooks" not in doc["detail"] else ""
    return f"{doc['settings']}: {doc['detail']}" + (f"; {fix}" if fix else "")
