"""Whether pinman's Claude Code hooks are installed (and where an earlier pinman left entries), as `hooks status`,
`status` and `doctor` report it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pinman.paths import Paths


def settings_file(project: bool) -> Path:
    from pinman.autopilot.settings import project_settings, user_settings
    from pinman.profile.project import find_project_root

    if project:
        return project_settings(find_project_root(Path.cwd()) or Path.cwd())
    return user_settings()


def hook_files() -> Any:
    from pinman.autopilot.files import HookFiles

    return HookFiles(Paths.from_env())


def hook_states() -> list[Any]:
    """pinman's own hook files first, then each settings file that still holds an earlier pinman's entries."""
    from pinman.autopilot.settings import leftovers, project_settings, status as state_of
    from pinman.profile.project import find_project_root

    found = [state_of(hook_files())]
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
    import os

    from pinman.state.interpreter import named_python
    from pinman.health.doctor import Finding

    states = hook_states()
    found = [Finding("warn", f"{s.path}: pinman's hooks are {s.state}: {s.detail}", "pinman hooks install")
             for s in states if s.state in ("stale", "unreadable")]
    shim = Paths.from_env().shim
    python = named_python(shim)
    if python and not os.access(python, os.X_OK):
        found.append(Finding("warn", f"{shim} names the Python {python}, which is gone: `claude` fails wherever it "
                             "needs pinman", "run any pinman command from where pinman is installed now, "
                             "e.g. `pinman hooks install`, or reinstall pinman"))
    if states[0].state == "installed":
        found.insert(0, Finding("ok", f"pinman's Claude Code hooks are installed in {states[0].path}"))
    elif states[0].state == "absent":
        found.append(Finding("warn", "pinman's Claude Code hooks are not installed: a schema error in your own "
                             "session does not roll back until `pinman check` runs", "pinman hooks install"))
    return found
