"""Which of pinman's Claude Code hook files a client version is handed, by the shim and the slow path.

Measured: a Claude Code version that meets a hook event it does not know in a settings source
ignores that whole source (1.0.100 and StopFailure: the user's env, permissions and hooks too).
So pinman writes no hook into the user's settings: the shim hands the version it runs the file of
pinman's hooks that version knows, with `--settings` (merged with the user's own settings, its
hooks included). The sh patterns here and `hook_args` say the same thing, once for the shim and
once for Python.

A caller's own `--settings` (a user's, an SDK's; a path or inline JSON, `--settings X` or
`--settings=X`) must mean what it means without pinman, and with two the versions disagree:
up to 2.1.168 the client takes the first (1.0.100: the first exact `--settings`), from 2.1.169
the last (read in the published packages: the eager argv parse of `--settings`). So a run that
carries one gets no `--settings` of pinman's at all; from 2.1.78 (StopFailure) pinman's hooks come
as a plugin folder instead (`--plugin-dir`, which adds to settings rather than competing; measured
with 2.1.78, 2.1.168, 2.1.169 and 2.1.331), earlier versions get none for that run.
"""

from __future__ import annotations

import re
from pathlib import Path

from pinman.paths import Paths

SESSION_START_FROM = (1, 0, 62)  # first version with SessionStart
STOP_FAILURE_FROM = (2, 1, 78)  # first version with StopFailure
HOOKS_ALL = "settings.json"  # StopFailure and SessionStart
HOOKS_SESSION = "settings-session-start.json"  # SessionStart only
# The same three ranges as sh patterns, for the shim.
SH_NO_HOOKS = "0.*|1.0.[0-9]|1.0.[1-5][0-9]|1.0.6[01]"
SH_SESSION_ONLY = "1.*|2.0.*|2.1.[0-9]|2.1.[1-6][0-9]|2.1.7[0-7]"
# The client's own fast path (a lone `--version`, maybe with `--verbose`) starts no session and
# runs no hook; any other argument before it makes the client start up in full (measured: x12).
VERSION_ARGS = ("--version", "-v", "-V")
SH_FAST_PATH = "1:-[vV]:|1:--version:|2:-[vV]:--verbose|2:--version:--verbose"
SH_CALLER_SETTINGS = "--settings|--settings=*"  # an argument that is the caller's own --settings


# A `claude -p` run: a systemMessage is not shown there, so the shim prints pinman's notice on stderr.
SH_PRINT_ARGS = "-p|--print"


def print_mode(argv: list[str]) -> bool:
    return any(a in ("-p", "--print") for a in argv)


def caller_settings(argv: list[str]) -> bool:
    """True when the caller passes `--settings` of its own (the shim's `SH_CALLER_SETTINGS`)."""
    return any(a == "--settings" or a.startswith("--settings=") for a in argv)


def hook_settings(paths: Paths, version: str) -> Path | None:
    """pinman's hook settings file for Claude Code `version` (None: a version without these hooks)."""
    m = re.match(r"(\d+)\.(\d+)\.(\d+)", version)
    if m is None:
        return None
    v = tuple(int(x) for x in m.groups())
    if v < SESSION_START_FROM:
        return None
    return paths.claude_hooks / (HOOKS_SESSION if v < STOP_FAILURE_FROM else HOOKS_ALL)


def hook_args(paths: Paths, version: str, argv: list[str]) -> list[str]:
    """What the shim puts before the user's arguments `argv`: `--settings FILE` when pinman's hooks
    are installed (the file exists) and `version` knows them; with a caller's own `--settings`,
    `--plugin-dir` from 2.1.78, else nothing."""
    if argv[:1] and argv[0] in VERSION_ARGS and argv[1:] in ([], ["--verbose"]):
        return []
    f = hook_settings(paths, version)
    if f is None:
        return []
    if caller_settings(argv):
        plugin = paths.claude_plugin
        all_events = f.name == HOOKS_ALL
        return ["--plugin-dir", str(plugin)] if all_events and (plugin / "hooks" / "hooks.json").is_file() else []
    return ["--settings", str(f)] if f.is_file() else []
