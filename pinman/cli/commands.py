"""The typer app: one function per command; each parses, calls the core, renders.

Core modules are imported inside the commands that need them so `pinman --help` stays fast.
"""

from __future__ import annotations

import errno
import json
import os
import sys
import time
from pathlib import Path
from typing import Any, Optional

import typer

from pinman.cli.main import err, out
from pinman.errors import InstallError, PinmanError, UsageError
from pinman.paths import Paths

app = typer.Typer(
    name="pinman",
    help="Pin Claude Code per profile, switch instantly, health-check and roll back.",
    no_args_is_help=True,
    # Plain help: rich's markup would eat literal brackets such as `[health]`, and importing rich
    # for every `--help` costs more than the rest of the start-up.
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

JSON = typer.Option(False, "--json", help="Machine-readable output.")
REFRESH = typer.Option(False, "--refresh", help="Ask the registry now instead of using the last answer cached here.")


def _version(value: bool) -> None:
    if value:
        from pinman import __version__

        out(f"pinman {__version__}")
        raise typer.Exit(0)


@app.callback()
def _main(version: bool = typer.Option(False, "--version", "-V", is_eager=True, callback=_version,
                                       help="Print pinman's version and exit.")) -> None:
    """Pin Claude Code per profile, switch instantly, health-check and roll back."""


def _paths() -> Paths:
    return Paths.from_env()


def _emit(data: Any) -> None:
    out(json.dumps(data, indent=2, default=str))


def _progress(label: str) -> Any:
    """Phases of a long step: a live bar with bytes and elapsed time on a terminal, else plain lines.
    Built on the first phase, so a command that finds everything installed imports none of it."""
    shown: list[Any] = []

    def report(message: str) -> None:
        if not shown:
            from pinman.cli.progress import reporter
            from pinman.install.store import Store

            shown.append(reporter(label, Store(_paths()).build_root))
        shown[0](message)

    return report


def _notice(message: str | None) -> None:
    if message:
        err(f"warning: {message}")


def _notices(paths: Paths, profile: Any) -> None:
    """Say once what of `profile` does not apply here: withheld until trust, or hidden by it."""
    from pinman.runtime.resolution import notices

    for message in notices(paths, profile):
        _notice(message)


def _profile(name: str) -> Any:
    from pinman.profile.discovery import find_profile

    return find_profile(name, Path.cwd(), _paths())


# ---------------------------------------------------------------- switching


@app.command()
def use(
    name: str = typer.Argument(..., help="Profile to switch to, or an exact version (e.g. 2.1.331): "
                               "that makes a profile of the same name pinned to it."),
    local: bool = typer.Option(False, "--local", help="Choose it for this project (.pinman.toml here)."),
    reset: bool = typer.Option(False, "--reset", help="Drop a local override (rollback): back to the pin."),
    check_after: bool = typer.Option(False, "--check", help="Health-check after switching; roll back on schema errors."),
    as_json: bool = JSON,
) -> None:
    """Install the profile's version if needed and make `claude` run it."""
    from pinman.runtime import activation
    from pinman.profile.discovery import find_profile
    from pinman.profile.project import write_project_file
    from pinman.profile.validate import validate_name
    from pinman.runtime.resolution import activate, fresh_registry

    paths = _paths()
    registry = fresh_registry(paths)  # switching installs: ask the registry, once for both contexts
    cwd = Path.cwd()
    profile = _profile_or_version(validate_name(name), cwd, paths, as_json)
    dropped = None
    if reset:
        from pinman.health.rollback import reset as drop_override

        dropped = drop_override(paths, profile)
        if not as_json:
            out(f"{name}: override {dropped} dropped" if dropped else f"{name}: no override to drop")
    chosen_here = _chosen_by_project(cwd, name)
    if profile.source == "project" and not local and not chosen_here:
        raise UsageError(f'"{name}" is defined by this project ({profile.path}), so it cannot be the global choice',
                         hint=f"choose it for this project: pinman use --local {name}")
    tgt, inst = activate(paths, profile, _context_root(cwd, local), progress=_progress(f"{name}"), registry=registry)
    from pinman.faults import point

    point("use.activated", name)
    if local:
        written = write_project_file(cwd, name)
        activation.record_project_choice(paths, cwd)  # the next `claude` here needs no Python
        where = f"for {cwd} ({written.name})"
    elif profile.source == "project":
        where = f"for this project (chosen by {chosen_here})"
    else:
        activation.write_global(paths, name)
        # Also refresh the pointer outside projects, which is what the global choice serves.
        if _context_root(cwd, False) is not None:
            activate(paths, find_profile(name, Path(os.sep), paths), None, registry=registry)
        where = "globally"
    overridden = None if local or profile.source == "project" else _overridden_here(cwd, paths, name)
    if as_json:
        _emit({"profile": name, "version": tgt.version, "why": tgt.why, "where": where,
               "overridden_here": overridden, **({"override_dropped": dropped} if reset else {})})
    else:
        out(f"{name}: claude {tgt.version} {where}  [{tgt.why}]")
    if overridden:
        err(f"note: here {overridden}")
    _notices(paths, profile)
    _warn_path(paths)
    if check_after:
        raise typer.Exit(_run_checks([profile], as_json=False, auto_rollback=None, isolated_home=False))


def _profile_or_version(name: str, cwd: Path, paths: Paths, quiet: bool) -> Any:
    """The profile `name`; an exact version that names no profile becomes a user profile pinned to
    it (as `mise use` and `volta pin` take a version), so the shim can resolve it like any other."""
    from pinman.errors import ProfileError
    from pinman.profile.discovery import find_profile
    from pinman.npm.versions import is_exact

    try:
        return find_profile(name, cwd, paths)
    except ProfileError:
        if not is_exact(name) or name != name.lstrip("v="):
            raise
    path = paths.user_profiles / f"{name}.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    from pinman.state.fsutil import atomic_write

    atomic_write(path, f'# made by `pinman use {name}`: edit it like any other profile\n'
                       f'[claude-code]\nversion = "{name}"\n')
    if not quiet:
        err(f"note: made profile {name} ({path})")
    return find_profile(name, cwd, paths)


def _overridden_here(cwd: Path, paths: Paths, name: str) -> str | None:
    """Why `claude` here still runs another profile than the global choice just made, if it does."""
    from pinman.runtime.activation import choose

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


def _warn_path(paths: Paths) -> None:
    from pinman.runtime.activation import path_line, shim_on_path

    if not shim_on_path(paths):
        err(f"note: {paths.shim} is not the first `claude` on PATH; add this to your shell profile:")
        err(f"  {path_line(paths)}")
        err('  or, kept free of duplicates however often it runs: eval "$(pinman activate)"')


@app.command()
def current(as_json: bool = JSON, refresh: bool = REFRESH) -> None:
    """Profile, version and binary for this directory, and why."""
    from pinman.cli.main import _fast

    if refresh:
        _refresh_active()
    raise typer.Exit(_fast("current", as_json))


@app.command()
def which(as_json: bool = JSON, refresh: bool = REFRESH) -> None:
    """The binary `claude` runs here."""
    from pinman.cli.main import _fast

    if refresh:
        _refresh_active()
    raise typer.Exit(_fast("which", as_json))


def _refresh_active() -> None:
    """Ask the registry for the active profile's tag or range, so the cache answers what follows."""
    from pinman.runtime import activation
    from pinman.runtime.resolution import fresh_registry, target

    paths = _paths()
    target(paths, _profile(activation.choose(Path.cwd(), paths).name), registry=fresh_registry(paths))


def _env_for(name: str | None) -> tuple[str, dict[str, str]]:
    from pinman.runtime import activation
    from pinman.runtime.resolution import profile_env

    paths = _paths()
    chosen = name or activation.choose(Path.cwd(), paths).name
    profile = _profile(chosen)
    _notices(paths, profile)
    from pinman.install.sdk import PATH_PREPEND

    env = profile_env(paths, profile)
    front = [str(paths.bin), *([env.pop(PATH_PREPEND)] if PATH_PREPEND in env else [])]
    env["PINMAN_PROFILE"] = chosen
    env["PATH"] = _path_with(front)
    return chosen, env


def _path_with(front: list[str]) -> str:
    """PATH with `front` first and no second copy of them: evaluating it again changes nothing."""
    rest = [d for d in os.environ.get("PATH", "").split(os.pathsep) if d not in front]
    return os.pathsep.join(front + rest)


@app.command(name="env")
def env_cmd(name: Optional[str] = typer.Argument(None, help="Profile (default: the active one)."),
            as_json: bool = JSON) -> None:
    """Print `export` lines that fix this shell to a profile: eval "$(pinman env stable)".

    For a shell profile (~/.bashrc) use `pinman activate`: it keeps the per-folder choice.
    """
    from pinman.runtime.activation import ensure_shim, sh_quote

    _, env = _env_for(name)
    ensure_shim(_paths())
    if as_json:
        _emit(env)
        return
    for key, value in env.items():
        out(f"export {key}={sh_quote(value)}")


@app.command()
def activate(as_json: bool = JSON) -> None:
    """Print the line for your shell profile: eval "$(pinman activate)".

    Only puts pinman's `claude` first on PATH (once, however often it runs); which profile runs is
    still decided in each folder when `claude` starts (.pinman.toml, `pinman use`).
    """
    from pinman.runtime.activation import ensure_shim, sh_quote

    paths = _paths()
    ensure_shim(paths)
    path = _path_with([str(paths.bin)])
    if as_json:
        _emit({"PATH": path})
        return
    out(f"export PATH={sh_quote(path)}")


@app.command(name="exec", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def exec_cmd(
    ctx: typer.Context,
    profile: Optional[str] = typer.Option(None, "-p", "--profile", help="Profile (default: the active one)."),
) -> None:
    """Run a command with the profile's `claude` first on PATH and its env: pinman exec -- CMD."""
    from pinman.runtime.activation import ensure_shim

    command = list(ctx.args)
    if not command:
        raise UsageError("no command given", hint="pinman exec [-p NAME] -- CMD [ARGS...]")
    _, env = _env_for(profile)
    ensure_shim(_paths())
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


# ---------------------------------------------------------------- health and rollback


@app.command()
def check(
    name: Optional[str] = typer.Argument(None, help="Profile (default: the active one)."),
    all_profiles: bool = typer.Option(False, "--all", help="Every profile visible here."),
    no_rollback: bool = typer.Option(False, "--no-rollback", help="Only report; never switch."),
    if_due: bool = typer.Option(False, "--if-due", help="Cheap mode for cron/shell hooks: only when the last "
                                "check is older than [health] interval; silent when ok."),
    isolated_home: bool = typer.Option(False, "--isolated-home", help="Run the probe with a throw-away HOME."),
    as_json: bool = JSON,
) -> None:
    """Run the real pinned client against your endpoint; roll back on schema errors."""
    from pinman.runtime import activation
    from pinman.profile.discovery import list_profiles

    paths = _paths()
    cwd = Path.cwd()
    if if_due and all_profiles:
        from pinman.runtime.resolution import in_use

        chosen = in_use(paths)  # the periodic mode: only what `claude` runs on this machine
    elif all_profiles:
        chosen = [p for p, shadowed in list_profiles(cwd, paths) if not shadowed]
    else:
        chosen = [_profile(name or activation.choose(cwd, paths).name)]
    considered = list(chosen)
    if if_due:
        from pinman.runtime.resolution import runs_offline
        from pinman.health.rollback import due

        # never a download: a profile whose version is not in the store waits for its first `claude`
        chosen = [p for p in chosen if runs_offline(paths, p) and due(paths, p)]
    code = _run_checks(chosen, as_json=as_json, auto_rollback=False if no_rollback else None,
                       isolated_home=isolated_home, quiet_ok=if_due, may_install=not if_due)
    from pinman.autopilot.files import HookFiles
    from pinman.autopilot.notices import note_checked

    note_checked(HookFiles(paths), considered)  # "next due", read by the SessionStart hook
    raise typer.Exit(code)


SEVERITY = [11, 12, 10, 0]  # broken, not-client, rolled-back, ok: the exit code of a multi-profile check


def _run_checks(profiles: list[Any], *, as_json: bool, auto_rollback: bool | None,
                isolated_home: bool, quiet_ok: bool = False, may_install: bool = True) -> int:
    from pinman.health.rollback import check as run_check

    paths = _paths()
    for p in profiles:
        _notices(paths, p)
    # --no-rollback means "never switch": neither back nor forward
    reports = [run_check(paths, p, auto_rollback=auto_rollback, auto_recover=auto_rollback,
                         isolated_home=isolated_home, progress=_progress(p.name), may_install=may_install,
                         waiting=_probe_meter()) for p in profiles]
    if quiet_ok:  # unattended (`--if-due`): what it did is told to the next session
        from pinman.autopilot.files import HookFiles
        from pinman.autopilot.notices import add, describe

        for line in filter(None, (describe(r, "periodic check") for r in reports)):
            add(HookFiles(paths), line)
    if as_json:
        docs = [r.to_json() for r in reports]
        _emit(docs[0] if len(docs) == 1 else docs)
    else:
        for r in reports:
            if not (quiet_ok and r.action == "ok"):
                _render_check(r)
    codes = {int(r.exit_code) for r in reports}
    return next((c for c in SEVERITY if c in codes), 0)


def _probe_meter() -> Any:
    """`probing 2.1.331 → 127.0.0.1:4000 … 12 s / 60 s`, rewritten in place on a terminal's stderr;
    nothing at all when stderr is not a terminal (logs, cron, pipes)."""
    if not sys.stderr.isatty():
        return None

    def show(w: Any) -> None:
        if w.done:
            sys.stderr.write("\r\033[K")
        else:
            host = w.endpoint.split("://", 1)[-1]
            sys.stderr.write(f"\r\033[Kprobing {w.version} → {host} … {w.elapsed:.0f} s / {w.timeout:.0f} s")
        sys.stderr.flush()

    return show


def _render_check(r: Any) -> None:
    o = r.outcome
    head = f"{r.profile} {r.version}  "
    if r.override_dropped:
        out(f"{r.profile}: {r.override_dropped}")
    if r.recovered:
        out(f"{head}ok  ({r.duration:.1f} s)")
        out(f"  recovered: {r.detail} (probed {r.recovered['to']} ok, override {r.recovered['from']} dropped)")
        return
    if o.kind.value == "ok":
        out(f"{head}ok  ({r.duration:.1f} s)  - {r.detail}")
        return
    label = "schema error" if o.kind.value == "schema" else o.kind.value.replace("_", " ")
    status = f"{o.status} " if o.status and not o.message.startswith(str(o.status)) else ""  # said once
    out(f"{head}{label}: {status}{o.message}")
    if r.rollback:
        age = f", checked {_age(r.known_good_checked_at)}" if r.known_good_checked_at else ""
        out(f"  rolled back: {r.profile} -> {r.rollback['to']} (last known-good for this endpoint{age}) - verified ok")
    else:
        out(f"  {r.detail}")


def _age(ts: float | None) -> str:
    from pinman.age import ago

    return ago(ts) if ts else "never"


def _registry_for(refresh: bool) -> Any:
    from pinman.runtime.resolution import fresh_registry, local_registry

    return fresh_registry(_paths()) if refresh else local_registry(_paths())


@app.command()
def status(as_json: bool = JSON, refresh: bool = REFRESH) -> None:
    """Every profile: pinned, running (override?), why, last check. Answers from this machine."""
    from pinman.views.inventory import status_rows

    rows = status_rows(_paths(), Path.cwd(), _registry_for(refresh))
    if as_json:
        _emit(rows)
        return
    for r in rows:
        running = r["version"] or "?"
        extra = f" ({r['why']})" if r["override"] or r["resolved_at"] else ""
        last = r["last_check"]
        seen = f"last check: {last['outcome']} {_age(last['ts'])}" if last else "never checked"
        mark = "*" if r["active"] else " "
        out(f"{mark} {r['name']}: {running}{extra}  pinned {r['spec']}  {seen}")
        if r.get("dropped"):
            out(f"    note: {r['dropped']}")
        if r["problem"]:
            out(f"    problem: {r['problem']}")
    from pinman.autopilot.files import HookFiles
    from pinman.autopilot.notices import unseen
    from pinman.cli.hooks import hooks_line

    out(hooks_line())
    for line in unseen(HookFiles(_paths())):
        out(f"notice: {line}")


@app.command()
def history(name: Optional[str] = typer.Argument(None, help="Profile (default: all)."),
            limit: int = typer.Option(50, "--limit", "-n", help="Show at most this many entries."),
            as_json: bool = JSON) -> None:
    """The journal, newest first."""
    from pinman.runtime import activation
    from pinman.state.journal import Journal

    key = None
    if name:
        p = _profile(name)
        key = activation.profile_key(p.name, p.project_root)
    entries = Journal(_paths()).history(key, limit)
    if as_json:
        _emit([e.to_json() for e in entries])
        return
    for e in entries:
        doc = e.to_json()
        bits = [doc["time"], e.event, e.profile, e.version]
        if e.outcome:
            bits.append(e.outcome)
        if e.previous:
            bits.append(f"(from {e.previous})")
        if e.endpoint:
            bits.append(e.endpoint)
        if e.message:
            bits.append(f"- {e.message}")
        out("  ".join(bits))
    if not entries:
        out("(no entries)")


@app.command()
def rollback(name: str = typer.Argument(..., help="Profile to roll back."),
             to: Optional[str] = typer.Option(None, "--to", help="Exact version (default: last known-good)."),
             as_json: bool = JSON) -> None:
    """Switch a profile to its last known-good (or --to VERSION) by hand; the profile file is untouched."""
    from pinman.health.rollback import manual_rollback

    before, after = manual_rollback(_paths(), _profile(name), to, progress=_progress(name))
    if as_json:
        _emit({"profile": name, "from": before, "to": after})
        return
    out(f"rolled back: {name} {before} -> {after}  (undo: pinman use {name} --reset)")


def _drop_pointers(paths: Paths, root: Path) -> None:
    """Drop the shim's pointers under this project so its next run applies the new trust decision."""
    from pinman.runtime.activation import pointer_path

    folder = pointer_path(paths, root, "x").parent
    if folder.is_dir():
        for ptr in folder.iterdir():
            if ptr.is_file():
                ptr.unlink(missing_ok=True)


@app.command()
def trust(
    list_all: bool = typer.Option(False, "--list", help="Show every trusted file and whether it changed since."),
    revoke: bool = typer.Option(False, "--revoke", help="Withdraw trust from this project."),
    as_json: bool = JSON,
) -> None:
    """Allow this project's profiles to set env (e.g. ANTHROPIC_BASE_URL), [sdk] and [health] prompt/model."""
    from pinman.profile import trust as trust_mod
    from pinman.profile.project import find_project_root

    paths = _paths()
    if list_all:
        if as_json:
            _emit([{"path": str(t.path), "current": t.current, "keys": list(t.keys)}
                   for t in trust_mod.list_trusted(paths)])
            return
        for t in trust_mod.list_trusted(paths):
            state = "trusted" if t.current else "CHANGED since trusted (withheld)"
            out(f"{t.path}  {state}  keys: {', '.join(t.keys)}")
        return
    root = find_project_root(Path.cwd())
    if root is None:
        raise UsageError("not inside a project (no .pinman.toml here or above)",
                          hint="run it in the project folder; user and built-in profiles need no trust")
    if revoke:
        gone = trust_mod.revoke_project(paths, root, lambda r: _drop_pointers(paths, r))
        if as_json:
            _emit({"revoked": [str(g) for g in gone], "project": str(root)})
            return
        out(f"revoked trust for {len(gone)} file(s) in {root}")
        return
    done = trust_mod.trust_project(paths, root, lambda r: _drop_pointers(paths, r))
    if as_json:
        _emit({"trusted": [{"path": str(t.path), "keys": list(t.keys)} for t in done], "project": str(root)})
        return
    if not done:
        out(f"nothing to trust: no profile in {root / 'profiles'} sets env, [sdk] or a [health] prompt/model")
    for t in done:
        out(f"trusted {t.path}: {', '.join(t.keys)}")


# ---------------------------------------------------------------- installs


@app.command()
def install(target: Optional[str] = typer.Argument(None, help="Profile name or exact version (default: active profile)."),
            force: bool = typer.Option(False, "--force", help="Install again even if present (repairs an install "
                                       "`pinman verify` finds changed)."),
            as_json: bool = JSON) -> None:
    """Install a profile's (or an exact) Claude Code version into the store."""
    from pinman.runtime.resolution import ensure_installed, fresh_registry, install_exact, target as resolve_target
    from pinman.npm.versions import is_exact

    paths = _paths()
    if target and is_exact(target):
        version = target.lstrip("v=")
        inst = install_exact(paths, version, progress=_progress(version), force=force)
        if as_json:
            _emit({"version": version, "prefix": str(inst.prefix)})
            return
        out(f"{version}: installed at {inst.prefix}")
        return
    from pinman.runtime import activation

    from pinman.runtime import sdk_env

    name = target or activation.choose(Path.cwd(), paths).name
    profile = _profile(name)
    tgt = resolve_target(paths, profile, registry=fresh_registry(paths))
    if force:
        _discard_installs(paths, profile, tgt.version)
    inst = ensure_installed(paths, tgt, progress=_progress(name))
    _notices(paths, profile)
    pinned = sdk_env.ensure_installed(paths, profile, refresh=True, progress=_progress(f"{name} sdk"))
    if as_json:
        _emit({"profile": name, "version": tgt.version, "prefix": str(inst.prefix),
               "sdk": {"label": pinned.label, "prefix": str(pinned.prefix)} if pinned is not None else None})
        return
    out(f"{name}: {tgt.version} installed at {inst.prefix}")
    if pinned is not None:
        out(f"{name}: {pinned.label} installed at {pinned.prefix}")


def _discard_installs(paths: Paths, profile: Any, version: str) -> None:
    """`install --force PROFILE`: drop its Claude Code and SDK installs, so both are built afresh."""
    from pinman.install import sdk
    from pinman.runtime import sdk_env
    from pinman.names import CLAUDE_CODE
    from pinman.install.store import Store

    Store(paths).remove(CLAUDE_CODE, version)
    pinned = sdk_env.installed_for(paths, profile)
    if pinned is not None:
        sdk.SdkStore(paths).remove(pinned.ecosystem, pinned.name, pinned.version)


@app.command()
def uninstall(version: str = typer.Argument(..., help="Exact version to remove."),
              force: bool = typer.Option(False, "--force", help="Remove even if a profile uses it."),
              as_json: bool = JSON) -> None:
    """Remove one installed version (refused while a profile uses it)."""
    from pinman.views.inventory import users_of
    from pinman.names import CLAUDE_CODE
    from pinman.install.store import Store

    paths = _paths()
    store = Store(paths)
    if store.get(CLAUDE_CODE, version) is None:
        raise InstallError(f"{version} is not installed", hint="see `pinman versions`")
    users = users_of(paths, Path.cwd(), version)
    if users and not force:
        raise UsageError(f"{version} is used by {', '.join(users)}", hint="switch those profiles first, or pass --force")
    store.remove(CLAUDE_CODE, version)
    if as_json:
        _emit({"removed": version})
        return
    out(f"{version}: removed")


@app.command()
def prune(dry_run: bool = typer.Option(False, "--dry-run", help="Only list what would go."),
          as_json: bool = JSON) -> None:
    """Remove installs no profile uses (never a last known-good)."""
    from pinman.views.inventory import prunable
    from pinman.names import CLAUDE_CODE
    from pinman.install.store import Store

    paths = _paths()
    victims = prunable(paths, Path.cwd())
    store = Store(paths)
    for version in victims:
        if not dry_run:
            store.remove(CLAUDE_CODE, version)
        if not as_json:
            out(f"{'would remove' if dry_run else 'removed'} {version}")
    if as_json:
        _emit({"dry_run": dry_run, "would_remove" if dry_run else "removed": list(victims)})
    elif not victims:
        out("nothing to prune")


# ---------------------------------------------------------------- reading


@app.command(name="list")
def list_cmd(as_json: bool = JSON, refresh: bool = REFRESH) -> None:
    """Profiles visible here: source, spec, resolved version (and when), installed?, active?"""
    from pinman.views.inventory import profile_rows

    rows = profile_rows(_paths(), Path.cwd(), _registry_for(refresh))
    if as_json:
        _emit(rows)
        return
    shown = [{**r, "resolved": _age(r["resolved_at"]) if r["resolved_at"] else None} for r in rows]
    _table(shown, ["active", "name", "source", "spec", "version", "resolved", "installed", "problem"])


@app.command()
def show(name: str = typer.Argument(..., help="Profile to describe."), as_json: bool = JSON,
         refresh: bool = REFRESH) -> None:
    """Everything about one profile."""
    from pinman.views.inventory import profile_detail

    data = profile_detail(_paths(), Path.cwd(), name, _registry_for(refresh))
    warning = (data.get("sdk") or {}).get("warning")
    if as_json:
        _emit(data)
    else:
        _render_show(data)
    if warning:
        err(f"warning: {warning}")


@app.command()
def outdated(all_rows: bool = typer.Option(False, "--all", help="List every profile, not only the outdated."),
             as_json: bool = JSON) -> None:
    """Profiles that run an older version than their spec resolves to (held by a lock or a rollback)."""
    from pinman.views.outdated import outdated_rows

    rows = outdated_rows(_paths(), Path.cwd())
    shown = rows if all_rows else [r for r in rows if r["outdated"] or r["problem"]]
    if as_json:
        _emit(shown)
        return
    if not shown:
        out("every profile runs the newest version its spec allows")
        return
    _table(shown, ["name", "spec", "runs", "newest", "outdated", "why", "problem"])


SHOWN = ("name", "description", "file", "source", "shadows", "version", "why", "installed", "withheld")


def _render_show(data: dict[str, Any]) -> None:
    """What pinman made of the profile, then the file's own values as written ("6h", not 21600.0)."""
    for key in SHOWN:
        value = data.get(key)
        if key == "installed" and value is None and data.get("version"):
            value = "no (`pinman install` or run claude once)"
        if key == "shadows" and value:
            value = f"{value} (hidden by this project's profile of the same name)"
        if key == "withheld" and value:
            value = ", ".join(value) + " (until `pinman trust`)"
        if value not in (None, ""):
            out(f"{key + ':':14} {value}")
    sdk = data.get("sdk")
    if sdk:
        out(f"{'sdk:':14} {json.dumps(sdk)}")
    out(f"in {Path(data['file']).name}:")
    from pinman.redact import secret_values
    from pinman.views.profile_file import file_values

    for line in file_values(Path(data["file"]), hide=secret_values(os.environ)):
        out(f"  {line}")


@app.command()
def versions(remote: bool = typer.Option(False, "--remote", help="List registry versions too (asks the registry)."),
             as_json: bool = JSON) -> None:
    """Installed versions (and with --remote, the registry's) with dist-tags."""
    from pinman.views.inventory import version_rows

    rows = version_rows(_paths(), Path.cwd(), remote=remote)
    if as_json:
        _emit(rows)
        return
    _table(rows, ["version", "tags", "installed", "used_by"])


@app.command()
def resolve(spec: str = typer.Argument(..., help="Version, tag or range, e.g. latest, ^2.1.0, 2.1.331."),
            profile: Optional[str] = typer.Option(None, "--profile", "-p", help="Skip this profile's known-bad "
                                                  "versions (default: the active profile's)."),
            as_json: bool = JSON) -> None:
    """The exact version a spec resolves to (as `npm install` would pick it), skipping known-bad ones."""
    from pinman.npm.registry import Registry
    from pinman.names import CLAUDE_CODE
    from pinman.team.team import skips_for_resolve
    from pinman.npm.versions import parse_spec

    try:
        kind = parse_spec(spec).kind
    except ValueError as e:
        raise UsageError(str(e), hint="e.g. 2.1.331, latest, ^2.1.0, ~2.1.300, 2.1.x, >=1.0.100 <2") from None
    # An exact version asked for by name is answered as asked; only tags and ranges skip.
    skips = skips_for_resolve(_paths(), Path.cwd(), profile) if kind != "exact" else {}
    res = Registry(_paths()).resolve(CLAUDE_CODE, spec, skip=skips)
    if as_json:
        _emit({"spec": spec, "version": res.version, "integrity": res.integrity,
               "stale": res.stale, "skipped": list(res.skipped),
               "skipped_why": {v: skips[v] for v in res.skipped}})
        return
    out(res.version)
    for v in res.skipped:
        err(f"skipped {v}: {skips[v]}")
    if res.stale:
        why = [res.problem] if res.problem else []
        why += [f"fetched {_age(res.fetched_at)}"] if res.fetched_at else []
        err("note: offline: answered from cached registry data" + (f" ({'; '.join(why)})" if why else ""))


@app.command()
def verify(name: Optional[str] = typer.Argument(None, help="Profile (default: the active one)."),
           every: bool = typer.Option(False, "--all", help="Every install in the store."),
           as_json: bool = JSON) -> None:
    """Compare installs with the files recorded at install time (sha256 of each); exit 5 if one changed."""
    from pinman.runtime import activation
    from pinman.errors import ExitCode
    from pinman.runtime import verify as checks

    paths, cwd = _paths(), Path.cwd()
    if every and name:
        raise UsageError("give a profile or --all, not both", hint="pinman verify --all")
    if every:
        results = checks.for_store(paths, cwd)
    else:
        results = checks.for_profiles(paths, cwd, [name or activation.choose(cwd, paths).name])
    code = int(ExitCode.INSTALL) if any(r.tampered for r in results) else 0
    if as_json:
        _emit({"installs": [r.to_json() for r in results], "exit_code": code})
        raise typer.Exit(code)
    for r in results:
        if r.tampered:
            err(f"pinman: {r.line()}")
            err(f"  hint: reinstall it: {r.repair}")
        elif r.check is not None and r.check.state == "unrecorded":
            out(r.line())
            err(f"  hint: {r.repair} installs it again with a manifest")
        else:
            out(r.line())
    if not results:
        out("no installs")
    raise typer.Exit(code)


@app.command()
def doctor(as_json: bool = JSON) -> None:
    """Find what would undo the pin: shadowing `claude` binaries, auto-update settings, missing tools."""
    from pinman.health.doctor import run_checks

    from pinman.cli.hooks import hook_findings

    findings = run_checks(_paths(), Path.cwd()) + hook_findings()
    if as_json:
        _emit([f.__dict__ for f in findings])
    else:
        for f in findings:
            out(f"[{f.level:5}] {f.message}")
            if f.fix:
                out(f"        fix: {f.fix}")
    if any(f.level == "error" for f in findings):
        raise typer.Exit(1)


def _table(rows: list[dict[str, Any]], columns: list[str]) -> None:
    if not rows:
        out("(none)")
        return
    cells = [[_cell(r.get(c)) for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    out("  ".join(c.upper().ljust(w) for c, w in zip(columns, widths)).rstrip())
    for row in cells:
        out("  ".join(v.ljust(w) for v, w in zip(row, widths)).rstrip())


def _cell(value: Any) -> str:
    if value is True:
        return "yes"
    if value in (None, False):
        return ""
    if isinstance(value, (list, tuple)):
        return ",".join(str(v) for v in value)
    return str(value)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())


from pinman.cli import team as commands_team  # noqa: E402,F401  (registers team commands)
from pinman.cli import bisect as commands_bisect  # noqa: E402,F401  (registers bisect commands)
from pinman.cli import hooks as commands_hooks  # noqa: E402,F401  (registers `hooks`)
