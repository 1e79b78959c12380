"""The Python that the `claude` shim's slow path and pinman's hook scripts name, kept current.

Those files name the interpreter that wrote them (`sys.executable`). When it goes (the venv
moved, pinman was uninstalled or reinstalled elsewhere) the shim says so on stderr with its own
exit code, and the hooks say so (SessionStart) or log it; and every `pinman` command run by
another Python rewrites them. The comparison is one small file (`Paths.interpreter`, the path
as last written) against `sys.executable`, so a read command pays one read of a few bytes.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

from pinman.paths import Paths

_NAMED = re.compile(r"^(?:_pm_py=('(?:[^']|'\\'')*')|exec ('[^']*') -m pinman)", re.M)


def recorded(paths: Paths) -> str | None:
    """The interpreter pinman last wrote into its files (None: no record)."""
    try:
        fd = os.open(paths.interpreter, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None
    try:
        return os.read(fd, 4096).decode("utf-8", "surrogateescape").rstrip("\n")
    except OSError:
        return None
    finally:
        os.close(fd)


def stamp_interpreter(paths: Paths) -> None:
    from pinman.state.fsutil import atomic_write

    atomic_write(paths.interpreter, sys.executable + "\n", mode=0o600)


def named_python(path: Path) -> str | None:
    """The interpreter a shim or hook script names (this pinman's or an earlier one's layout)."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    m = _NAMED.search(text)
    if m is None:
        return None
    quoted = m.group(1) or m.group(2)
    return quoted[1:-1].replace("'\\''", "'")


def refresh(paths: Paths) -> str | None:
    """Before a command: if pinman's files name another Python than this one, rewrite them (the
    shim if there is one; the hook scripts if the hooks are installed). Returns the one line to
    tell the user, or None when nothing changed."""
    if recorded(paths) == sys.executable:
        return None
    return _rewrite(paths)


def _rewrite(paths: Paths) -> str | None:
    from pinman.autopilot.files import HookFiles
    from pinman.autopilot.scripts import write_scripts
    from pinman.autopilot.settings import write_files
    from pinman.runtime.shim import ensure_shim

    files = HookFiles(paths)
    shim, hooks = paths.shim.exists(), files.settings_all.exists() or files.settings_session.exists()
    if not (shim or hooks):
        return None  # nothing names an interpreter yet: a read command writes nothing
    before = {named_python(p) for p in (paths.shim, files.stop_failure) if p.exists()} - {None, sys.executable}
    if shim:
        ensure_shim(paths)
    if hooks:
        write_scripts(files)
        write_files(files)
    stamp_interpreter(paths)
    if not before:
        return None
    old = sorted(p for p in before if p)[0]
    why = "is gone" if not os.access(old, os.X_OK) else "is not the one running pinman now"
    return f"pinman: the claude shim and pinman's hooks named {old}, which {why}; they now use {sys.executable}"
