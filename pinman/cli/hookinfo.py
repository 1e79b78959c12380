"""Where pinman's Claude Code hooks are installed (user and project settings), as `hooks status`,
`status` and `doctor` report it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pinman.cli.common import get_paths


def settings_file(project: bool) -> Path:
    from pinman.autopilot.settings import project_settings, user_settings
    from pinman.profile.project import find_project_root

    if project:
        return project_settings(find_project_root(Path.cwd()) or Path.cwd())
    return user_settings()


def hook_files() -> Any:
    from pinman.autopilot.files import HookFiles

    return HookFiles(get_paths())


def hook_states() -> list[Any]:
    from pinman.autopilot.settings import project_settings, status as state_of
    from pinman.profile.project import find_project_root

    files = hook_files()
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
