"""Verbs of health and recovery: check, status, history, rollback, doctor. Parse, call the core,
render through `cli.ui`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from pinman.cli.common import JSON, REFRESH, get_paths, get_profile, registry_for
from pinman.cli.ui import age, emit, out, progress
from pinman.cli.checks import run_checks
from pinman.cli.hookinfo import hook_findings, hooks_line


def check(
    name: Optional[str] = typer.Argument(None, help="Profile (default: the active one)."),
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
    from pinman.autopilot.files import HookFiles
    from pinman.autopilot.notices import note_checked

    note_checked(HookFiles(paths), considered)  # "next due", read by the SessionStart hook
    raise typer.Exit(code)


def status(as_json: bool = JSON, refresh: bool = REFRESH) -> None:
    """Every profile: pinned, running (override?), why, last check. Answers from this machine."""
    from pinman.views.inventory import status_rows

    rows = status_rows(get_paths(), Path.cwd(), registry_for(refresh))
    if as_json:
        emit(rows)
        return
    for r in rows:
        running = r["version"] or "?"
        extra = f" ({r['why']})" if r["override"] or r["resolved_at"] else ""
        last = r["last_check"]
        seen = f"last check: {last['outcome']} {age(last['ts'])}" if last else "never checked"
        mark = "*" if r["active"] else " "
        here = [m["switches"] for m in r.get("remedies") or [] if m["here"]]
        running += f" with {here[0]}" if here else ""
        out(f"{mark} {r['name']}: {running}{extra}  pinned {r['spec']}  {seen}")
        if r.get("dropped"):
            out(f"    note: {r['dropped']}")
        if r.get("channel"):
            from pinman.views.channel import summary

            out(f"    channel: {summary(r['channel'])}")
        _remedy_lines(r)
        if r["problem"]:
            out(f"    problem: {r['problem']}")
    from pinman.autopilot.files import HookFiles
    from pinman.autopilot.notices import unseen

    out(hooks_line())
    for line in unseen(HookFiles(get_paths())):
        out(f"notice: {line}")


def _remedy_lines(row: dict) -> None:
    """A profile's remedies under its status line: why, what it costs, the [env] line to share it."""
    for m in row.get("remedies") or []:
        where = "" if m["here"] else " (not applied here: another endpoint)"
        out(f"    remedy: {m['summary']}{where} — {'; '.join(m['tradeoffs'])}")
        out(f"      for everyone: add {' and '.join(m['env_lines'])} to [env] in {Path(row['path']).name}")


def history(name: Optional[str] = typer.Argument(None, help="Profile (default: all)."),
            limit: int = typer.Option(50, "--limit", "-n", help="Show at most this many entries."),
            as_json: bool = JSON) -> None:
    """The journal, newest first."""
    from pinman.state.overrides import profile_key
    from pinman.state.journal import Journal

    key = None
    if name:
        p = get_profile(name)
        key = profile_key(p.name, p.project_root)
    entries = Journal(get_paths()).history(key, limit)
    if as_json:
        emit([e.to_json() for e in entries])
        return
    for e in entries:
        doc = e.to_json()
        bits = [doc["time"], e.event, e.profile, e.version]
        if e.outcome:
            bits.append(e.outcome)
        if isinstance(e.extra.get("remedy"), dict) and e.event in ("check", "candidate"):
            bits.append("with " + ", ".join(f"{k}={v}" for k, v in e.extra["remedy"].items()))
        if e.previous:
            bits.append(f"(from {e.previous})")
        if e.endpoint:
            bits.append(e.endpoint)
        if e.message:
            bits.append(f"- {e.message}")
        out("  ".join(bits))
    if not entries:
        out("(no entries)")


def rollback(name: str = typer.Argument(..., help="Profile to roll back."),
             to: Optional[str] = typer.Option(None, "--to", help="Exact version (default: last known-good)."),
             as_json: bool = JSON) -> None:
    """Switch a profile to its last known-good (or --to VERSION) by hand; the profile file is untouched."""
    from pinman.health.manual import manual_rollback

    before, after = manual_rollback(get_paths(), get_profile(name), to, progress=progress(name))
    if as_json:
        emit({"profile": name, "from": before, "to": after})
        return
    out(f"rolled back: {name} {before} -> {after}  (undo: pinman use {name} --reset)")


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
