"""The typer app and the one table of every verb: each verb function is registered here, by name,
in the order `pinman --help` lists them. No verb registers itself by being imported.

Verb modules import `cli.ui` and `cli.common`, never each other; core modules are imported inside
the verbs that need them, so `pinman --help` stays fast. `command_for` builds only the verb a
command line names (typer would build every parameter of every verb first), and `_Group` lists
verbs with their whole first paragraph and plain metavars (NAME, VERSION), not typer's `{name}`
and `<str>`.
"""

from __future__ import annotations

import copy
import os
from typing import Any

import typer
from typer.core import TyperArgument, TyperGroup

from pinman.cli import verbs_bisect, verbs_health, verbs_hooks, verbs_ide, verbs_profiles, verbs_store, verbs_team
from pinman.cli.ui import out


class _Group(TyperGroup):
    """A group whose help lists each command with the whole first paragraph of its help (click
    cuts it at ~45 characters, mid-phrase); `listing` lists them without building them."""

    listing: list[tuple[str, str]] | None = None

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        rows = self.listing
        if rows is None:
            found = [(n, self.get_command(ctx, n)) for n in self.list_commands(ctx)]
            rows = [(n, c.help or "") for n, c in found if c is not None and not c.hidden]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl([(name, _first_paragraph(text)) for name, text in rows])


def _first_paragraph(text: str | None) -> str:
    return " ".join((text or "").strip().split("\n\n")[0].split())


app = typer.Typer(
    cls=_Group,
    name="pinman",
    help="Pin Claude Code per profile, switch instantly, health-check and roll back.",
    no_args_is_help=True,
    # Plain help: rich's markup would eat literal brackets such as `[health]`, and importing rich
    # for every `--help` costs more than the rest of the start-up.
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        from pinman import __version__

        out(f"pinman {__version__}")
        raise typer.Exit(0)


@app.callback()
def _main(version: bool = typer.Option(False, "--version", "-V", is_eager=True, callback=_version,
                                       help="Print pinman's version and exit.")) -> None:
    """Pin Claude Code per profile, switch instantly, health-check and roll back."""


# ---------------------------------------------------------------- switching
app.command("use")(verbs_profiles.use)
app.command("current")(verbs_profiles.current)
app.command("which")(verbs_profiles.which)
app.command("env")(verbs_profiles.env_cmd)
app.command("activate")(verbs_profiles.activate)
app.command("exec", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})(
    verbs_profiles.exec_cmd)
# ---------------------------------------------------------------- health and rollback
app.command("check")(verbs_health.check)
app.command("status")(verbs_health.status)
app.command("history")(verbs_health.history)
app.command("rollback")(verbs_health.rollback)
app.command("trust")(verbs_store.trust)
# ---------------------------------------------------------------- installs
app.command("install")(verbs_store.install)
app.command("uninstall")(verbs_store.uninstall)
app.command("prune")(verbs_store.prune)
# ---------------------------------------------------------------- reading
app.command("list")(verbs_profiles.list_cmd)
app.command("show")(verbs_profiles.show)
app.command("outdated")(verbs_profiles.outdated)
app.command("versions")(verbs_profiles.versions)
app.command("resolve")(verbs_store.resolve)
app.command("verify")(verbs_store.verify)
app.command("doctor")(verbs_health.doctor)
# ---------------------------------------------------------------- team
app.command("init")(verbs_team.init)
app.command("pin")(verbs_team.pin)
app.command("lock")(verbs_team.lock)
app.command("sync")(verbs_team.sync)
app.command("upgrade")(verbs_team.upgrade)
app.command("mark-bad")(verbs_team.mark_bad)
# ---------------------------------------------------------------- what a version sends
app.command("fingerprint")(verbs_bisect.fingerprint)
app.command("diff")(verbs_bisect.diff)
app.command("bisect")(verbs_bisect.bisect_cmd)
# ---------------------------------------------------------------- Claude Code hooks
hooks_app = typer.Typer(cls=_Group, help="pinman's Claude Code hooks: roll back on the client's own schema "
                        "errors, tell the next session what pinman did.", no_args_is_help=True)
hooks_app.command("install")(verbs_hooks.install)
hooks_app.command("uninstall")(verbs_hooks.uninstall)
hooks_app.command("status")(verbs_hooks.status)
app.add_typer(hooks_app, name="hooks")
# ---------------------------------------------------------------- editors and managed policy
ide_app = typer.Typer(help="Route the Claude Code extension of VS Code-family editors through pinman's shim.",
                      no_args_is_help=True)
ide_app.command("install")(verbs_ide.install)
ide_app.command("uninstall")(verbs_ide.uninstall)
ide_app.command("status")(verbs_ide.status)
app.add_typer(ide_app, name="ide")
app.command("policy")(verbs_ide.policy)


# ---------------------------------------------------------------- building only what runs

_METAVARS = {"profile": "NAME", "to": "VERSION", "good": "VERSION", "bad": "VERSION"}  # else the name, upper-cased


def command_for(args: list[str], environ: Any = None) -> Any:
    """The click command that runs `args`: the verb `args` names alone, the group's listing for
    `pinman` and `pinman --help`, the whole app for anything else (completion, a misspelt verb)."""
    import typer.main

    env = os.environ if environ is None else environ
    verb = args[0] if args else None
    trimmed = copy.copy(app)
    trimmed.registered_commands = [c for c in app.registered_commands if c.name == verb]
    trimmed.registered_groups = [g for g in app.registered_groups if g.name == verb]
    named = bool(trimmed.registered_commands or trimmed.registered_groups)
    listing = not named and verb in (None, "-h", "--help") and not args[1:]
    if "_PINMAN_COMPLETE" in env or not (named or listing):
        trimmed = app  # completion walks every verb; a misspelt one gets click's "did you mean"
    command = typer.main.get_command(trimmed)
    if listing and trimmed is not app:
        command.listing = _listing()
    _plain_metavars(command)
    return command


def _listing() -> list[tuple[str, str]]:
    from typer.main import solve_typer_info_help

    rows = [(c.name or "", c.help or (c.callback.__doc__ if c.callback else "") or "")
            for c in app.registered_commands if not c.hidden]
    return rows + [(g.name or "", solve_typer_info_help(g)) for g in app.registered_groups]


class _Argument(TyperArgument):
    def make_metavar(self, ctx: Any, *, usage: bool = False) -> str:  # noqa: ARG002 - typer's signature
        var = self.metavar or (self.name or "").upper()
        var += "..." if self.nargs != 1 else ""
        return f"[{var}]" if usage and not self.required else var


def _plain_metavars(command: Any) -> None:
    """NAME and VERSION where typer 0.28 writes `{name}` and `<str>`: an argument is its name
    upper-cased (`[NAME]` when optional), an option's value its `_METAVARS` word or name."""
    for sub in getattr(command, "commands", {}).values():
        _plain_metavars(sub)
    for param in command.params:
        if type(param) is TyperArgument:
            param.__class__ = _Argument
        elif param.param_type_name == "option" and not param.is_flag and param.metavar is None:
            param.metavar = "N" if param.type.name in ("int", "integer") else _METAVARS.get(param.name, param.name.upper())
