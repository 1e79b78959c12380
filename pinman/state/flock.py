"""An exclusive lock on a file for the length of a block: `flock(2)`, the lock the `filelock`
package takes on POSIX (the two exclude each other on one file), without its import (~150 M
instructions, more than Python's own start-up). Every switch writes the overrides under it, and
a rollback by hand must stay quick.

The kernel drops the lock when its holder exits, however it exits: a killed process leaves a lock
file behind, never a held lock.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pinman.state.fsutil import make_dirs


@contextmanager
def exclusive(path: Path) -> Iterator[None]:
    """Hold `path`'s lock (waiting for another holder) while the block runs. The file is created
    0600 and never opened through a symlink planted in its place."""
    make_dirs(path.parent)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock
