"""Team verbs: init, pin, lock, sync, upgrade, mark-bad. Parse, call `pinman.team`, render through
`cli.ui`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, List, Optional

import typer

from pinman.cli.common import JSON, complete_profile, get_paths
from pinman.cli.ui import emit, engine_notes, err, instead_of, notices, out, progress, warn_path
from pinman.errors import PinmanError
from pinman.names import clean_version

PLATFORM = typer.Option(None, "--platform", help="Also lock the native package for this platform "
                        "(repeatable), e.g. darwin-arm64, linux-x64. Default: this machine's plus those "
                        "already in the file.")


def _short(integrity: str | None) -> str:
    return f"{integrity[:19]}…" if integrity and len(integrity) > 20 else str(integrity)


def _skipped(items: list[Any]) -> None:
    for s in items:
        err(f"  skipped {s.version}: {s.reason}")


def init(force: bool = typer.Option(False, "--force", help="Overwrite .pinman.toml and profiles/stable.toml."),
         as_json: bool = JSON) -> None:
    """Set up this folder for a team: .pinman.toml and a commented profiles/stable.toml."""
    from pinman.team.edits import init as run_init

    paths = get_paths()
    result = run_init(paths, Path.cwd(), force=force)
    if as_json:
        emit({"written": [str(p) for p in result.written], "kept": [str(p) for p in result.kept]})
        return
    for p in result.written:
        out(f"wrote {p}")
    for p in result.kept:
        out(f"kept  {p} (exists; --force overwrites it)")
    if result.written:
        out("next: review and commit them; teammates run `pinman sync`")
    warn_path(paths)  # only when `claude` here would not be pinman's


def pin(
    name: str = typer.Argument(..., help="Profile to edit.", autocompletion=complete_profile),
    version: str = typer.Argument(..., help="Exact version (a tag or range is resolved to one)."),
    platform: Optional[List[str]] = PLATFORM,
    as_json: bool = JSON,
) -> None:
    """Pin a profile to an exact version with its integrity; comments in the file are kept."""
    from pinman.team.edits import pin as run_pin

    r = run_pin(get_paths(), Path.cwd(), name, version, platforms=platform or [])
    if as_json:
        emit(r.to_json())
        instead_of(Path.cwd(), get_paths(), name)
        return
    _skipped(r.skipped)
    via = f" ({r.requested} -> {r.after})" if r.requested != r.after else ""
    change = f"{r.before} -> {r.after}" if r.before and r.before != r.after else r.after
    out(f"{name}: pinned {change}{via} in {r.path}" if r.changed else f"{name}: already pinned to {r.after}")
    _render_hashes(r)
    instead_of(Path.cwd(), get_paths(), name)


def _render_hashes(r: Any) -> None:
    out(f"  integrity {_short(r.integrity)}")
    for key, value in r.native.items():
        out(f"  native {key} {_short(value)}")
    if r.dropped:
        err(f"  note: {r.after} has no native package for {', '.join(r.dropped)}: dropped from the file")
    if r.ignored:
        err(f"  note: {r.after} has no native packages; --platform {', '.join(r.ignored)} ignored")


def lock(
    names: Optional[List[str]] = typer.Argument(None, help="Profiles (default: every profile of this project).",
                                                autocompletion=complete_profile),
    platform: Optional[List[str]] = PLATFORM,
    as_json: bool = JSON,
) -> None:
    """Record the exact version and hashes each profile runs (a tag or range gets `locked`; a guarded
    channel: at what it runs on this machine)."""
    from pinman.errors import ExitCode, PinmanError
    from pinman.profile.discovery import find_profile
    from pinman.team.lock import lock_profile
    from pinman.team.common import project_profiles
    from pinman.profile.discovery import find_profile
    from pinman.team.lock import lock_profile
    from pinman.team.common import project_profiles

    paths, cwd = get_paths(), Path.cwd()
    failures: list[tuple[str, PinmanError]] = []
    if names:
        profiles = [find_profile(n, cwd, paths) for n in names]
    else:
        _, profiles, broken = project_profiles(paths, cwd)
        failures += [(b.name, b.error) for b in broken]
    results = []
    for profile in profiles:
        try:
            results.append(lock_profile(paths, profile, platforms=platform or []))
        except PinmanError as e:
            failures.append((profile.name, e))
    if as_json:
        emit({"locked": [r.to_json() for r in results],
              "errors": [{"profile": n, "error": e.message} for n, e in failures]})
    else:
        for r in results:
            _skipped(r.skipped)
            _render_lock(r)
        for n, e in failures:
            err(f"{n}: {e.message}" + (f"\n  hint: {e.hint}" if e.hint else ""))
    if failures:
        raise typer.Exit(int(failures[0][1].exit_code) if len(failures) == 1 else int(ExitCode.PROFILE))


def _render_lock(r: Any) -> None:
    exact = clean_version(r.spec) == r.after
    if not r.changed:
        out(f"{r.profile}: {r.spec} already locked at {r.after}" if not exact else f"{r.profile}: {r.after} up to date")
    elif exact:
        out(f"{r.profile}: {r.after} hashes recorded in {r.path}")
    else:
        moved = f" (was {r.before})" if r.before and r.before != r.after else ""
        out(f"{r.profile}: {r.spec} locked at {r.after}{moved} in {r.path}")
    _render_hashes(r)


def sync(
    frozen: bool = typer.Option(False, "--frozen", help="For CI: fail unless every profile is locked and "
                                "its tag/range still resolves to the locked version."),
    as_json: bool = JSON,
) -> None:
    """Install every version this project's profiles name, checking each against its hashes."""
    from pinman.runtime.shim import ensure_shim
    from pinman.team.sync import sync as run_sync

    paths = get_paths()
    report = run_sync(paths, Path.cwd(), frozen=frozen, progress=progress)
    if report.items:
        ensure_shim(paths)  # a teammate's first command after a clone: `claude` should work next
    if as_json:
        emit(report.to_json())
        raise typer.Exit(int(report.exit_code))
    for problem in report.problems:
        err(f"pinman: {problem}")
    for item in report.items:
        if item.error is not None:
            err(f"pinman: {item.error.message}")
            if item.error.hint:
                err(f"  hint: {item.error.hint}")
            continue
        native = f", native {item.native} ok" if item.native else ""
        state = "installed" if item.status == "installed" else "already installed"
        out(f"{item.profile}: {item.version} {state}, integrity ok{native}")
        if item.note:
            err(f"  note: {item.note}")
    if not report.items and not report.problems:
        out(f"no profiles in {report.root / 'profiles'}")
    if report.items:
        warn_path(paths)
    raise typer.Exit(int(report.exit_code))


def upgrade(
    name: str = typer.Argument(..., help="Profile to upgrade.", autocompletion=complete_profile),
    to: Optional[str] = typer.Option(None, "--to", help="Version, tag or range to try (default: the profile's "
                                     "own tag/range, or latest for an exact pin)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Only say which version would be tried."),
    record: bool = typer.Option(False, "--record", help="On a schema error, also add the version to the "
                                "profile's bad list."),
    isolated_home: bool = typer.Option(False, "--isolated-home", help="Run the probe with a throw-away HOME."),
    as_json: bool = JSON,
) -> None:
    """Try a newer version against your endpoint; move the pin only if it checks ok."""
    from pinman.profile.discovery import find_profile
    from pinman.policy.upgrade import upgrade as run_upgrade

    paths = get_paths()
    if not dry_run:
        notices(paths, find_profile(name, Path.cwd(), paths))
    r = run_upgrade(paths, Path.cwd(), name, to=to, dry_run=dry_run, record=record,
                    isolated_home=isolated_home, progress=progress(name))
    if as_json:
        emit(r.to_json())
        raise typer.Exit(int(r.exit_code))
    _skipped(r.skipped)
    for line in engine_notes(r.engines):
        err(f"  note: {line}")
    head = f"{name}: {r.current or r.spec} -> {r.candidate}"
    if r.action == "dry-run":
        out(f"{head} (dry run: {r.detail})")
    elif r.action == "current":
        out(r.detail)
    elif r.action == "moved":
        out(f"{head}: moved. {r.detail}")
    elif r.action == "rejected":
        o = r.outcome
        out(f"{head}: rejected: {o.message if o else ''}")
        out(f"  rejected field: {o.rejected if o and o.rejected else '(not named)'}")
        out(f"  {r.detail}; recorded as bad for {r.endpoint}"
            + (f" and in {r.path.name}" if r.recorded else " (add --record to write it into the profile)"))
    else:
        out(f"{head}: inconclusive: {r.detail}")
    raise typer.Exit(int(r.exit_code))


def mark_bad(
    name: str = typer.Argument(..., help="Profile to edit.", autocompletion=complete_profile),
    version: str = typer.Argument(..., help="Exact version to mark."),
    reason: str = typer.Option(..., "--reason", help="Why, for your teammates (kept in the file)."),
    as_json: bool = JSON,
) -> None:
    """Record a known-bad version in the profile file: lock, upgrade and resolve skip it."""
    from pinman.team.edits import mark_bad as run_mark_bad

    r = run_mark_bad(get_paths(), Path.cwd(), name, version, reason)
    if as_json:
        emit({"profile": name, "version": r.version, "reason": r.reason, "added": r.added,
              "path": str(r.path), "running": r.running})
        return
    if r.added:
        out(f"{name}: {r.version} marked bad in {r.path} ({r.reason})")
    else:
        out(f"{name}: {r.version} is already marked bad ({r.reason})")
    if r.running:
        err(f"  note: {name} still runs {r.version}; move it with `pinman upgrade {name}` or `pinman pin {name} VERSION`")
