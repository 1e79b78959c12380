"""Putting a finished build in its place in the store: a new install, or a rebuild of one present.

A new install: its marker is written last, then one rename moves the build dir into place, so a
folder without its marker is never an install. A rebuild (`install --force`) is built aside like
any install and checked; only then is the present install renamed into the store's temp folder
(`swap-<slug>-<version>-XXXXXXXX`) and the build renamed into its place. A process killed
between those two renames leaves the old install in the temp folder: the next install of that
version puts it back (`restore_swapped`), so a rebuild never leaves a version missing for longer
than two renames, and a failed or offline rebuild changes nothing.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from pinman.faults import point
from pinman.install.layout import MARKER, read_marker
from pinman.install.manifest import record as record_manifest
from pinman.state.fsutil import atomic_write, make_dirs

SWAP_PREFIX = "swap-"


def finish(tmp: Path, marker: Mapping[str, Any], label: str) -> None:
    """The build's own last steps: no write bits for others, the file manifest, the marker."""
    no_write_for_others(tmp)
    marker = {**marker, "files": record_manifest(tmp, exclude=(MARKER,))}  # what `verify` compares
    point("store.before_marker", label)
    atomic_write(tmp / MARKER, json.dumps(marker, indent=2) + "\n")
    point("store.after_marker", label)


def publish(tmp: Path, final: Path, marker: Mapping[str, Any], label: str, *, tmp_root: Path | None = None,
            accept: Callable[[Path], object] | None = None) -> None:
    """Marker last, then one rename: a folder without its marker is never an install. `accept`
    sees the finished build first and may refuse it (raise). With `tmp_root`, the install at
    `final` is replaced (`swap_in`) and the old one deleted."""
    finish(tmp, marker, label)
    if accept is not None:
        accept(tmp)
    if tmp_root is not None:
        shutil.rmtree(swap_in(tmp, final, tmp_root, label), ignore_errors=True)
        return
    make_dirs(final.parent)
    point("store.before_rename", label)
    os.rename(tmp, final)
    point("store.renamed", label)


def swap_in(tmp: Path, final: Path, tmp_root: Path, label: str) -> Path:
    """Replace the install at `final` by the finished build `tmp`; returns where the old one went
    (the caller deletes it). The caller holds the version's install lock."""
    aside = Path(tempfile.mkdtemp(prefix=f"{SWAP_PREFIX}{final.parent.name}-{final.name}-", dir=tmp_root))
    os.rename(final, aside / "old")
    point("store.swapped_aside", label)
    os.rename(tmp, final)
    point("store.swapped", label)
    return aside


def restore_swapped(entry: Path, path_for: Any) -> bool:
    """A swap dir whose owner died (the caller holds, or could take, its version's lock): put the
    old install back if its place is empty, else drop it. True when it was put back."""
    old = entry / "old"
    doc = read_marker(old) if old.is_dir() else {}
    package, version = doc.get("package"), doc.get("version")
    if isinstance(package, str) and isinstance(version, str):
        try:
            final = path_for(package, version)
        except Exception:  # noqa: BLE001 - a marker that names no valid install: dropped below
            final = None
        if final is not None and not os.path.lexists(final):
            os.rename(old, final)
            return True
    return False


def swap_stem(entry: Path) -> str | None:
    """`<slug>-<version>` of a swap dir's name (its lock's stem), or None for other entries."""
    if not entry.name.startswith(SWAP_PREFIX):
        return None
    return entry.name[len(SWAP_PREFIX):].rpartition("-")[0]  # mkdtemp's suffix has no "-"


def no_write_for_others(tree: Path) -> None:
    """Take group and world write off everything npm or pip wrote (they follow the umask: 0666 and
    0777 under umask 000). Read and execute bits stay as the package has them, the way a umask of
    022 installs it: the store is private anyway, below folders pinman makes 0700, and a second
    copy of ~380 MB per mode would buy nothing. Symlinks have no mode of their own on Linux."""
    for folder, dirs, files in os.walk(tree):
        for name in (".", *dirs, *files):
            path = os.path.join(folder, name)
            mode = os.lstat(path).st_mode
            if mode & 0o022 and not stat.S_ISLNK(mode):
                os.chmod(path, stat.S_IMODE(mode) & ~0o022)

