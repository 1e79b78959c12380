"""The interpreter record: which Python pinman last wrote into its generated files.

The `claude` shim's slow path and pinman's hook scripts name the Python that wrote them. This
one-line file (`Paths.interpreter`) holds that path, so a `pinman` command can tell with one
small read whether they name the Python it runs on (pinman.autopilot.interpreter rewrites them
when not).
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

from pinman.paths import Paths
from pinman.state.fsutil import atomic_write

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


def stamp(paths: Paths) -> None:
    atomic_write(paths.interpreter, sys.executable + "\n", mode=0o600)


def named_python(path: Path) -> str | None:
    """The interpreter a shim or hook script names (this pinman's layout or an earlier one's)."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    m = _NAMED.search(text)
    if m is None:
        return None
    quoted = m.group(1) or m.group(2)
    return quoted[1:-1].replace("'\\''", "'")
