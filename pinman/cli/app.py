"""The typer app and the one table of every verb: each verb function is registered here, by name,
in the order `pinman --help` lists them. No verb registers itself by being imported.

Verb modules import `cli.ui` and `cli.common`, never each other; core modules are imported inside
the verbs that need them, so `pinman --help` stays fast.
"""

from __future__ import annotations

import typer

from pinman.cli import verbs_bisect, verbs_health, verbs_hooks, verbs_ide, verbs_profiles, verbs_store, verbs_team
from pinman.cli.ui import out

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
hooks_app = typer.Typer(help="pinman's Claude Code hooks: roll back on the client's own schema errors, "
                        "tell the next session what pinman did.", no_args_is_help=True)
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
