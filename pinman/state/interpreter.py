"""The interpreter record: which Python pinman last wrote into its generated files.

The `claude` shim's slow path and pinman's hook scripts name the Python that wrote them. This
one-line file (`Paths.interpreter`) holds that path, so a `pinman` command can tell with one
small read whether they name the Python it runs on (pinman.autopilot.interpreter rewrites them
when not).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from pinman.paths import Paths

_NAMED = r"^(?:_pm_py=('(?:[^']|'\\'')*')|exec ('[^']*') -m pinman)"


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


def current(paths: Paths) -> bool:
    """True when pinman's files were last written for the Python running now (one small read)."""
    last = recorded(paths)
    return last == sys.executable or (last is not None and _alias(last, sys.executable))


def _alias(a: str, b: str) -> bool:
    """`venv/bin/python` and `venv/bin/python3`: one interpreter in one environment (not the
    system Python a venv's link resolves to, which lacks pinman)."""
    return os.path.dirname(a) == os.path.dirname(b) and os.path.realpath(a) == os.path.realpath(b)


def stamp(paths: Paths) -> None:
    from pinman.state.fsutil import atomic_write  # only when writing: `current` runs before every command

    atomic_write(paths.interpreter, sys.executable + "\n", mode=0o600)


def named_python(path: Path) -> str | None:
    """The interpreter a shim or hook script names (this pinman's layout or an earlier one's)."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    import re

    m = re.search(_NAMED, text, re.M)
    if m is None:
        return None
    quoted = m.group(1) or m.group(2)
    return quoted[1:-1].replace("'\\''", "'")
