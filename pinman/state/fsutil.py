"""Small filesystem helpers: every state file is written atomically, privately.

Modes do not follow the umask: under `umask 000` a folder would be world-writable, and another
local user could plant a pointer file the shim sources as sh. Folders pinman creates are 0700,
files it writes 0600 unless the caller says otherwise (the shim, files in a user's project).
"""

from __future__ import annotations

import os
from pathlib import Path

from pinman.faults import point


def make_dirs(folder: Path) -> None:
    """`mkdir -p` whose new folders are 0700 whatever the umask; existing ones are left alone."""
    missing = []
    for f in (folder, *folder.parents):
        if f.is_dir():
            break
        missing.append(f)
    for f in reversed(missing):
        try:
            os.mkdir(f, 0o700)
        except FileExistsError:
            if not f.is_dir():
                raise
            continue  # made by a concurrent process: its mode is its business, as for any existing folder
        os.chmod(f, 0o700)  # a umask like 0o277 would also take bits from the owner


def atomic_write(path: Path, data: str | bytes, mode: int = 0o600) -> None:
    """Write `data` to `path` so that readers see the old or the new content, never a mix.

    temp file in the same folder, fsync, rename. A symlink planted at `path` is replaced, not
    followed, because rename swaps the directory entry.
    """
    import tempfile  # not on the read path: it pulls in shutil, random and the compressors

    make_dirs(path.parent)
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
    make_dirs(link.parent)
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
