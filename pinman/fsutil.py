"""Small filesystem helpers: every state file is written atomically."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from pinman.faults import point


def atomic_write(path: Path, data: str | bytes, mode: int = 0o644) -> None:
    """Write `data` to `path` so that readers see the old or the new content, never a mix.

    temp file in the same folder, fsync, rename. A symlink planted at `path` is replaced, not
    followed, because rename swaps the directory entry.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    raw = data.encode() if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(raw)
            f.flush()
            point("write.temp_written", path.name)
            os.fsync(f.fileno())
        point("write.fsynced", path.name)
        os.chmod(tmp, mode)
        point("write.before_replace", path.name)
        os.replace(tmp, path)
    except BaseException as e:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        if isinstance(e, OSError) and e.filename is None:
            e.filename = str(path)  # a write or fsync names no file: "No space left" where?
        raise
    _fsync_dir(path.parent)
    point("write.replaced", path.name)


def atomic_symlink(target: str | Path, link: Path) -> None:
    """Point `link` at `target` with one rename (never a moment with no link)."""
    link.parent.mkdir(parents=True, exist_ok=True)
    tmp = link.parent / f".{link.name}.{os.getpid()}.tmp"
    try:
        tmp.unlink()
    except FileNotFoundError:
        pass
    os.symlink(str(target), tmp)
    point("symlink.before_replace", link.name)
    os.replace(tmp, link)
    _fsync_dir(link.parent)


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
