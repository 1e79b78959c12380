"""Verbs for the ways Claude Code starts outside a terminal: `ide install|uninstall|status` (the
Claude Code extension of VS Code-family editors, routed through pinman's shim) and `policy PROFILE`
(the managed-settings fragment that holds a machine to a profile). Parse, call
`pinman.runtime.ide` / `pinman.runtime.managed`, render through `cli.ui`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Optional

import typer

from pinman.cli.common import JSON, complete_profile, get_paths, get_profile
from pinman.cli.ui import emit, err, out

EDITOR = typer.Option(None, "--editor", help="Only this editor: code, code-insiders, code-server, cursor, "
                      "windsurf or vscodium (default: every editor with the Claude Code extension).")


def _home() -> Path:
    return Path(os.environ.get("HOME") or Path.home())


def install(editor: Optional[str] = EDITOR,
            force: bool = typer.Option(False, "--force", help="Replace a wrapper set to something else "
                                       "(`ide uninstall` puts it back)."),
            as_json: bool = JSON) -> None:
    """Route editors' Claude Code through pinman's shim: the pinned version of the folder they open."""
    from pinman.runtime.ide import install as run_install
    from pinman.runtime.shim import ensure_shim

    paths = get_paths()
    ensure_shim(paths)  # what the setting names must exist and be current
    _finish(run_install(paths, _home(), os.environ, editor=editor, force=force), as_json, "installed")


def uninstall(editor: Optional[str] = EDITOR, as_json: bool = JSON) -> None:
    """Remove pinman's wrapper from editors' settings: the file as it was, other changes since kept."""
    from pinman.runtime.ide import uninstall as run_uninstall

    _finish(run_uninstall(get_paths(), _home(), os.environ, editor=editor), as_json, "uninstalled")


def status(as_json: bool = JSON) -> None:
    """Per editor: does its Claude Code run the pin, through pinman's shim, with pinman's hooks."""
    from pinman.cli.hookinfo import hook_states
    from pinman.runtime.ide import global_version, status as run_status

    paths = get_paths()
    routes = run_status(paths, _home(), os.environ, hooks=hook_states()[0].state == "installed",
                        pinned=global_version(paths))
    if as_json:
        emit([r.to_json() for r in routes])
    elif not routes:
        out("no editor's Claude Code extension found (VS Code, Insiders, Server, Cursor, Windsurf, VSCodium)")
    for r in [] if as_json else routes:
        out(r.line())
        if r.pin_note:
            out(f"    note: {r.pin_note}")
    if any(not r.runs_pin for r in routes):
        raise typer.Exit(1)


def policy(name: str = typer.Argument(..., help="Profile whose range every machine should allow.",
                                      autocompletion=complete_profile),
           as_json: bool = JSON) -> None:
    """The managed-settings fragment that holds every machine to this profile (its known-good to its
    pin, updates off): JSON on stdout, what each key does on stderr."""
    from pinman.health.managed_guard import policy_range
    from pinman.runtime.managed import fragment, managed_file

    profile = get_profile(name)
    rng = policy_range(get_paths(), profile)
    doc, comments = fragment(rng.minimum, rng.maximum)
    if as_json:
        emit({"profile": profile.name, "pin": rng.pin, "known_good": rng.known_good, "endpoint": rng.endpoint,
              "fragment": doc, "comments": comments, "notes": list(rng.notes)})
        return
    out(json.dumps(doc, indent=2))
    target = managed_file()
    err(f"# deploy as {target.parent / 'managed-settings.d' / f'50-pinman-{profile.name}.json'} (read by "
        f"2.1.331 beside {target.name}), or merge into {target}; strict JSON, no comments in the file:")
    for line in [*comments, *rng.notes]:
        err(f"#   {line}")


def _finish(changes: list[Any], as_json: bool, verb: str) -> None:
    from pinman.cli.hookinfo import hook_states

    if as_json:
        emit([c.to_json() for c in changes])
    elif not changes:
        out("no editor's Claude Code extension found" if verb == "installed" else "no editor settings name pinman's shim")
    for c in [] if as_json else changes:
        out(f"{c.editor}: {c.action}: {c.detail}")
    if not as_json and verb == "installed" and any(c.action in ("installed", "replaced", "already") for c in changes):
        from pinman.runtime.choice import read_global

        if hook_states()[0].state != "installed":
            err("note: pinman's hooks are not installed: `pinman hooks install` lets a failure in the editor roll back")
        if not read_global(get_paths()):
            err("note: no global profile: an editor opened on a folder without .pinman.toml starts no Claude Code "
                "until `pinman use NAME`")
    code = next((c.code for c in changes if c.code), 0)
    if code:
        raise typer.Exit(code)
