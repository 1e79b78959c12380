"""The notice file: what pinman did unattended, kept until a surface the user reads has shown it.

One line per event, at most `MAX_LINES`, plain UTF-8 with no control character, no `"` and no
backslash: `pinman.autopilot.notices.add` writes it (under a lock, atomically, 0600). Two sh
readers show it and remove it, whoever renames it first: the SessionStart hook of an
interactive session builds `{"systemMessage": "…"}` from the lines (a JSON string that cannot
be broken out of, because no line holds a quote, a backslash or a control character), and the
`claude` shim prints the lines on stderr for a `claude -p` run. Both check what they read
(`SH_BAD_LINE`) and show nothing of a file pinman could not have written: a symbolic link, a
file of another user, a line with a forbidden character. `pinman status` shows the lines and
leaves them.
"""

from __future__ import annotations

import os
from pathlib import Path

from pinman.state.fsutil import atomic_write, read_regular

MAX_LINES = 5
MAX_LINE = 600  # characters; a line is one event, said in one line
_MAX_BYTES = 1 << 16
# A line the sh readers refuse (sh `case` pattern): a control character, a quote or a backslash.
SH_BAD_LINE = r'*[[:cntrl:]\"\\]*'
_SWAP = {'"': "'", "\\": "/"}


def clean(line: str) -> str:
    """`line` as the notice file can hold it: quotes become apostrophes, backslashes slashes,
    control characters (newlines included) spaces; cut to MAX_LINE."""
    out = "".join(_SWAP.get(c, c) if c.isprintable() else " " for c in line)
    return out.strip()[:MAX_LINE]


def valid(line: str) -> bool:
    return bool(line) and all(c.isprintable() and c not in _SWAP for c in line)


def pending(path: Path) -> list[str]:
    """The lines not yet shown (none when the file is missing, not a regular file or damaged)."""
    try:
        raw = read_regular(path, _MAX_BYTES)
    except OSError:
        return []
    lines = raw.decode("utf-8", "replace").split("\n")
    return [ln for ln in lines if valid(ln)][-MAX_LINES:]


def write(path: Path, lines: list[str]) -> None:
    """Replace the notice with `lines` (cleaned; identical lines kept once; the newest MAX_LINES)."""
    kept: list[str] = []
    for ln in map(clean, lines):
        if ln and ln not in kept:
            kept.append(ln)
    atomic_write(path, "".join(f"{ln}\n" for ln in kept[-MAX_LINES:]), mode=0o600)


def take(path: Path) -> list[str]:
    """Claim the notice (rename, as the sh readers do: one reader shows it) and return its lines."""
    claimed = path.with_name(f"{path.name}.{os.getpid()}")
    try:
        os.rename(path, claimed)
    except OSError:
        return []
    try:
        return pending(claimed)
    finally:
        try:
            os.unlink(claimed)
        except OSError:
            pass
