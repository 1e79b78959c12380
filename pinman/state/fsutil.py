"""Small filesystem helpers: every state file is written atomically, privately.

Modes do not follow the umask: under `umask 000` a folder would be world-writable, and another
local user could plant a pointer file the shim sources as sh. Folders pinman creates are 0700,
files it writes 0600 unless the caller says otherwise (the shim, files in a user's project).
Nothing here writes through a symbolic link: whole files are replaced by rename, appends open
with O_NOFOLLOW. Reads of a path someone else names (a hook payload's transcript) take only a
regular file, never block, and stop at a bound.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from pathlib import Path

from pinman.errors import SystemProblem
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


def private_dirs(folder: Path, owned: Iterable[Path]) -> None:
    """`make_dirs(folder)`, then hold every folder of pinman's own on the way (`owned`: pinman's
    roots, e.g. `~/.local/state/pinman`, and what is below them) to 0700: one found looser is
    tightened (an earlier pinman made folders under the umask), one owned by another user is
    refused with one line. Folders above the roots (`~/.local/state`) are never changed."""
    make_dirs(folder)
    roots = [Path(r) for r in owned]
    for f in (folder, *folder.parents):
        if not any(f == r or r in f.parents for r in roots):
            continue
        st = os.stat(f)
        if st.st_uid != os.geteuid():
            raise SystemProblem(f"{f}: owned by another user (uid {st.st_uid}); pinman does not use it",
                                hint="remove that folder, or set PINMAN_HOME to a folder of your own")
        if stat.S_IMODE(st.st_mode) & 0o077:
            os.chmod(f, 0o700)


def append_line(path: Path, line: str) -> None:
    """Append one line to a log, never through a symbolic link planted at `path` (O_NOFOLLOW
    refuses it with ELOOP), creating the file 0600. One write: lines of concurrent writers do
    not interleave."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    try:
        os.write(fd, (line.rstrip("\n") + "\n").encode("utf-8", "backslashreplace"))
    finally:
        os.close(fd)


def printable(text: str) -> str:
    """`text` with control characters (newlines included) written as escapes, for a log line:
    nothing from a payload can start a line of its own or steer a terminal."""
    return "".join(c if c.isprintable() or c == " " else c.encode("unicode_escape").decode("ascii")
                   for c in text)


def read_regular(path: str | Path, limit: int, *, tail: bool = False) -> bytes:
    """At most `limit` bytes of the regular file `path` (its last ones with `tail`), read
    without blocking and without following a symbolic link at `path`: a FIFO, a device
    (`/dev/zero`), a folder or a link raises OSError instead of hanging or growing without end."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise OSError(f"{path}: not a regular file")
        if tail and st.st_size > limit:
            os.lseek(fd, st.st_size - limit, os.SEEK_SET)
        chunks: list[bytes] = []
        left = limit
        while left > 0:
            chunk = os.read(fd, min(left, 1 << 16))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


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
