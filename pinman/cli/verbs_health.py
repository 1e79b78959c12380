"""Verbs of health and recovery: check, status, history, rollback, doctor. Parse, call the core,
render through `cli.ui`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from pinman.cli.common import JSON, REFRESH, complete_profile, get_paths, get_profile
from pinman.cli.ui import emit, instead_of, out
from pinman.cli.checks import run_checks
from pinman.cli.hookinfo import hook_findings


def check(
    name: Optional[str] = typer.Argument(None, help="Profile (default: the active one).", autocompletion=complete_profile),
    all_profiles: bool = typer.Option(False, "--all", help="Every profile visible here."),
    no_rollback: bool = typer.Option(False, "--no-rollback", help="Only report; never switch."),
    if_due: bool = typer.Option(False, "--if-due", help="Cheap mode for cron/shell hooks: only when the last "
                                "check is older than [health] interval; silent when ok; downloads only "
                                "candidates of a guarded channel with [update] auto = true."),
    isolated_home: bool = typer.Option(False, "--isolated-home", help="Run the probe with a throw-away HOME."),
    as_json: bool = JSON,
) -> None:
    """Run the real pinned client against your endpoint; roll back on schema errors; a guarded channel
    then tries newer candidates."""
    from pinman.runtime.choice import choose
    from pinman.profile.discovery import list_profiles

    paths = get_paths()
    cwd = Path.cwd()
    if if_due and all_profiles:
        from pinman.runtime.resolution import in_use

        chosen = in_use(paths)  # the periodic mode: only what `claude` runs on this machine
    elif all_profiles:
        chosen = [p for p, shadowed in list_profiles(cwd, paths) if not shadowed]
    else:
        chosen = [get_profile(name or choose(cwd, paths).name)]
    considered = list(chosen)
    if if_due:
        from pinman.runtime.resolution import runs_offline
        from pinman.health.rollback import due

        # never a download: a profile whose version is not in the store waits for its first `claude`
        chosen = [p for p in chosen if runs_offline(paths, p) and due(paths, p)]
    code = run_checks(chosen, as_json=as_json, auto_rollback=False if no_rollback else None,
                      isolated_home=isolated_home, quiet_ok=if_due, may_install=not if_due)
    if name and not if_due:
        instead_of(cwd, paths, name)  # a rollback of `name` is no rollback of what runs here
    from pinman.autopilot.files import HookFiles
    from pinman.autopilot.notices import note_checked

    note_checked(HookFiles(paths), considered)  # "next due", read by the SessionStart hook
    raise typer.Exit(code)


def status(as_json: bool = JSON, refresh: bool = REFRESH) -> int:
    """Every profile: pinned, running (override?), why, last check. Answers from this machine."""
    from pinman.cli import reads

    return reads.status(as_json=as_json, refresh=refresh)


def history(name: Optional[str] = typer.Argument(None, help="Profile (default: all).", autocompletion=complete_profile),
            limit: int = typer.Option(50, "--limit", "-n", help="Show at most this many entries."),
            as_json: bool = JSON) -> int:
    """The journal, newest first."""
    from pinman.cli import reads

    return reads.history(name=name, limit=limit, as_json=as_json)


def rollback(name: Optional[str] = typer.Argument(None, help="Profile (default: the active one).",
                                             autocompletion=complete_profile),
             to: Optional[str] = typer.Option(None, "--to", help="Exact version (default: last known-good)."),
             as_json: bool = JSON) -> int:
    """Switch a profile to its last known-good (or --to VERSION) by hand; the profile file is untouched."""
    from pinman.cli import reads

    return reads.rollback(name=name, to=to, as_json=as_json)


def doctor(as_json: bool = JSON) -> None:
    """Find what would undo the pin: shadowing `claude` binaries, auto-update settings, missing tools."""
    from pinman.health.doctor import run_checks

    findings = run_checks(get_paths(), Path.cwd()) + hook_findings()
    if as_json:
        emit([f.__dict__ for f in findings])
    else:
        for f in findings:
            out(f"[{f.level:5}] {f.message}")
            if f.fix:
                out(f"        fix: {f.fix}")
    if any(f.level == "error" for f in findings):
        raise typer.Exit(1)
