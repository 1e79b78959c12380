"""The verbs `main` answers without typer, and the small grammar it reads them with.

Read commands run in shell prompts and scripts: importing typer and building every command costs
more than answering them. Each verb here names a typer-free function (its typer verb in `app`'s
table calls the same one, so the answer is the same either way) and the options it takes. Only
a command line this grammar reads completely takes the fast path; anything else (`--help`, a
misspelt option, a missing argument, `--to=V`) goes to typer, which answers or explains it as
usual. `tests/test_cli_conventions.py` checks each entry against its typer verb, so the two
cannot drift apart; a verb that is not listed here simply runs through typer.
"""

from __future__ import annotations

import os
from importlib import import_module
from typing import Any, Callable, NamedTuple

COMPLETION_VAR = "_PINMAN_COMPLETE"  # typer's shell completion runs through typer


class Verb(NamedTuple):
    target: str  # "module:function", a module that never imports typer
    flags: dict[str, str] = {}  # boolean options: "--json" -> parameter name
    options: dict[str, tuple[str, Callable[[str], Any]]] = {}  # valued options: "--to" -> (name, type)
    args: tuple[str, ...] = ()  # positional parameters, in order
    required: int = 0  # how many of `args` typer requires


_JSON = {"--json": "as_json"}
_READ = {"--json": "as_json", "--refresh": "refresh"}

FAST: dict[str, Verb] = {
    "current": Verb("pinman.cli.current:current", _READ),
    "which": Verb("pinman.cli.current:which", _READ),
    "status": Verb("pinman.cli.reads:status", _READ),
    "list": Verb("pinman.cli.reads:list_profiles", _READ),
    "show": Verb("pinman.cli.reads:show", _READ, args=("name",), required=1),
    "history": Verb("pinman.cli.reads:history", _JSON, {"--limit": ("limit", int), "-n": ("limit", int)},
                    args=("name",)),
    "rollback": Verb("pinman.cli.reads:rollback", _JSON, {"--to": ("to", str)}, args=("name",)),
}


def parse(argv: list[str], environ: dict[str, str] | None = None) -> tuple[Callable[..., Any], dict[str, Any]] | None:
    """The function and keyword arguments for `argv`, or None: typer should answer it."""
    env = os.environ if environ is None else environ
    verb = FAST.get(argv[0]) if argv else None
    if verb is None or COMPLETION_VAR in env:
        return None
    kwargs = _read(verb, argv[1:])
    if kwargs is None:
        return None
    module, name = verb.target.split(":")
    return getattr(import_module(module), name), kwargs


def _read(verb: Verb, tokens: list[str]) -> dict[str, Any] | None:
    kwargs: dict[str, Any] = {}
    positional: list[str] = []
    rest = iter(tokens)
    for token in rest:
        if token in verb.flags:
            kwargs[verb.flags[token]] = True
        elif token in verb.options:
            value = next(rest, None)
            if value is None or value.startswith("-"):
                return None
            name, kind = verb.options[token]
            try:
                kwargs[name] = kind(value)
            except ValueError:
                return None
        elif token.startswith("-"):  # --help, `--`, `--to=V`, an unknown option: typer's to answer
            return None
        else:
            positional.append(token)
    if not verb.required <= len(positional) <= len(verb.args):
        return None
    kwargs.update(zip(verb.args, positional))
    return kwargs
