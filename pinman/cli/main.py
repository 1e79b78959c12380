"""The `pinman` command: parse, call the core, render. Nothing else lives here.

Start-up matters (`pinman current` runs in shell prompts), so typer and every heavy module are
imported lazily: `main()` answers the shim's `_shim`, the hooks' `_hook` and the read commands
listed in `cli.fastpath` (current, which, status, list, show, history, rollback) without typer.
"""

from __future__ import annotations

import os
import sys
from typing import Any, NoReturn

from pinman.cli.ui import err
from pinman.errors import ExitCode, PinmanError, from_os_error


def main(argv: list[str] | None = None) -> NoReturn:
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["_shim"]:
        from pinman.runtime.slow_path import shim_main

        sys.exit(_guard(lambda: shim_main(args[1:], _first_choice)))
    if args[:1] == ["_hook"]:  # Claude Code hooks, started detached by pinman's sh hook scripts
        from pinman.autopilot.handler import main as hook_main

        sys.exit(hook_main(args[1:]))
    _follow_interpreter()
    from pinman.cli.fastpath import parse

    fast = parse(args)
    if fast is not None:
        verb, kwargs = fast
        sys.exit(_guard(lambda: verb(**kwargs)))
    sys.exit(_guard(lambda: _typer(args)))


def _first_choice(paths: Any, profile: Any, say: Any) -> None:
    """The shim's first run of a guarded profile: choose its version as `pinman use` does."""
    from pinman.policy.channel import first_choice

    report = first_choice(paths, profile, progress=say)
    if report.promoted:
        err(f"pinman: {report.promoted['message']}")


def _follow_interpreter() -> None:
    """The shim and the hook scripts name the Python that wrote them: if that is not this one (a
    moved venv, pinman reinstalled), rewrite them now. One small read when nothing changed."""
    from pinman.paths import Paths
    from pinman.state.interpreter import current

    paths = Paths.from_env()
    if current(paths):
        return
    from pinman.autopilot.interpreter import rewrite

    try:
        line = rewrite(paths)
    except (OSError, PinmanError):
        return  # never in the way of the command itself; `pinman doctor` and `hooks status` say it
    if line:
        err(line)


def _guard(fn: Any) -> int:
    """One handler: PinmanError -> one line + hint; Ctrl-C -> 130; a bug -> message + log path."""
    try:
        code = int(fn() or 0)
        _stop_progress()
        return code
    except PinmanError as e:
        return _report(e)
    except KeyboardInterrupt:
        _stop_progress()
        err("pinman: interrupted")
        return int(ExitCode.INTERRUPTED)
    except BrokenPipeError:
        return 0
    except OSError as e:  # disk full, read-only, permissions: the machine's problem, not a bug
        mapped = from_os_error(e)
        return _report(mapped) if mapped else _crash(e)
    except Exception as e:  # noqa: BLE001 - the last line of defence: never a raw traceback
        return _crash(e)


def _stop_progress() -> None:
    """End a live progress line before a message is printed under it (only if one was shown)."""
    progress = sys.modules.get("pinman.cli.progress")
    if progress is not None:
        progress.stop_all()


def _report(e: PinmanError) -> int:
    _stop_progress()
    err(f"pinman: {e.message}")
    if e.hint:
        err(f"  hint: {e.hint}")
    return int(e.exit_code)


def _crash(e: BaseException) -> int:
    import traceback

    _stop_progress()
    from pinman.paths import Paths

    from pinman.redact import scrub, secret_values

    secrets = secret_values(os.environ)  # an exception may quote what an endpoint echoed
    log = Paths.from_env().log
    try:
        from pinman.state.fsutil import make_dirs

        make_dirs(log.parent)
        # O_NOFOLLOW: a symlink planted at the log is refused, not appended through.
        fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "a") as f:
            f.write(scrub("".join(traceback.format_exception(e)), secrets))
        where = f" (details in {log})"
    except OSError:
        where = ""
    err(scrub(f"pinman: unexpected error: {e.__class__.__name__}: {e}{where}", secrets))
    return int(ExitCode.ERROR)


def _typer(args: list[str]) -> int:
    import typer

    from pinman.cli.app import command_for

    try:
        rv = command_for(args)(args=args, prog_name="pinman", standalone_mode=False)
    except typer.Exit as e:
        return e.exit_code
    except typer.Abort:
        err("pinman: aborted")
        return int(ExitCode.INTERRUPTED)
    except typer.TyperException as e:  # usage errors: bad option, missing argument
        show = getattr(e, "show", None)
        if callable(show):
            show()
        else:
            err(f"pinman: {e.message}")
        return int(ExitCode.USAGE)
    return rv if isinstance(rv, int) else 0
