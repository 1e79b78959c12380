"""File manifests: what an install held when it was published, and what differs now.

`record` runs on a finished build, just before its marker: it hashes every regular file (sha256
and size), notes every symlink's target, writes `.pinman-files.json` and returns the reference
the marker keeps (the manifest's own sha256), so the marker, written last, vouches for the
manifest and the manifest for the files. `check` walks the install again and names each file
that was changed, removed, replaced or added.

A file linked at two paths (2.x's native binary sits in its platform package and at
`bin/claude.exe`) is hashed once. Python writes `__pycache__` entries beside the modules an SDK
venv imports, so new files there are not reported; recorded ones still are.

This catches a replaced `cli.js` or binary, a half-copied store and a tool that rewrote files.
Whoever can write to the store can rewrite a manifest and its marker as well: the repair is a
fresh install from the registry, checked against the pinned integrity.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

from pinman.state.fsutil import atomic_write
from pinman.record import record

MANIFEST = ".pinman-files.json"
SCHEMA = 1
_CHUNK = 1 << 20


@record
class FileCheck:
    """`state`: "ok", "changed" (see `problems`) or "unrecorded" (published without a manifest)."""

    state: str
    problems: tuple[str, ...] = ()
    files: int = 0  # files compared

    @property
    def ok(self) -> bool:
        return self.state == "ok"

    def summary(self) -> str:
        if self.state == "unrecorded":
            return "no manifest (installed by an older pinman)"
        if self.ok:
            return f"{self.files} files as installed"
        more = len(self.problems) - 1
        return self.problems[0] + (f" (and {more} more)" if more else "")


@record(frozen=False)
class _Tree:
    files: dict[str, os.stat_result]
    links: dict[str, str]


def record(root: Path, *, exclude: Collection[str] = ()) -> dict[str, Any]:
    """Write the manifest of `root` (minus top-level `exclude`); the marker's reference to it."""
    tree = _scan(root, exclude)
    hashes = _Hasher()
    files = {rel: {"sha256": hashes(root / rel, st), "size": st.st_size} for rel, st in tree.files.items()}
    doc = {"schema": SCHEMA, "files": files, "links": tree.links}
    data = json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()
    atomic_write(root / MANIFEST, data)
    return {"manifest": MANIFEST, "sha256": hashlib.sha256(data).hexdigest(), "files": len(files)}


def check(root: Path, ref: Any, *, exclude: Collection[str] = ()) -> FileCheck:
    """Compare `root` with the manifest its marker's `ref` names."""
    if not isinstance(ref, Mapping) or not isinstance(ref.get("sha256"), str):
        return FileCheck("unrecorded")
    doc = _read_manifest(root, ref["sha256"])
    if doc is None:
        return FileCheck("changed", (f"{MANIFEST}: missing or changed",))
    files, links = doc["files"], doc["links"]
    tree = _scan(root, exclude)
    hashes = _Hasher()
    problems = [p for rel, want in files.items() if (p := _compare_file(root, rel, want, tree, hashes))]
    for rel, target in links.items():
        if tree.links.get(rel) != target:
            problems.append(f"{rel}: symlink {'changed' if rel in tree.links else 'missing'}")
    problems += [f"{rel}: added" for rel in [*tree.files, *tree.links]
                 if rel not in files and rel not in links and "__pycache__" not in rel.split("/")]
    return FileCheck("changed" if problems else "ok", tuple(sorted(problems)), len(files))


def _compare_file(root: Path, rel: str, want: Any, tree: _Tree, hashes: _Hasher) -> str | None:
    st = tree.files.get(rel)
    if st is None:
        return f"{rel}: {'replaced by a symlink' if rel in tree.links else 'missing'}"
    if not isinstance(want, Mapping) or st.st_size != want.get("size"):
        return f"{rel}: changed (size {st.st_size}, installed {want.get('size') if isinstance(want, Mapping) else '?'})"
    try:
        digest = hashes(root / rel, st)
    except OSError as e:
        return f"{rel}: unreadable ({e.strerror or e})"
    return None if digest == want.get("sha256") else f"{rel}: changed (content)"


def _read_manifest(root: Path, sha256: str) -> dict[str, Any] | None:
    try:
        data = (root / MANIFEST).read_bytes()
    except OSError:
        return None
    if hashlib.sha256(data).hexdigest() != sha256:
        return None
    try:
        doc = json.loads(data)
    except ValueError:
        return None
    ok = isinstance(doc, dict) and isinstance(doc.get("files"), dict) and isinstance(doc.get("links"), dict)
    return doc if ok else None


def _scan(root: Path, exclude: Collection[str]) -> _Tree:
    """Every regular file and symlink under `root`, by `/`-separated relative path."""
    tree = _Tree({}, {})
    skip = {MANIFEST, *exclude}
    stack = [""]
    while stack:
        rel_dir = stack.pop()
        with os.scandir(root / rel_dir if rel_dir else root) as entries:
            for entry in entries:
                rel = f"{rel_dir}/{entry.name}" if rel_dir else entry.name
                if not rel_dir and entry.name in skip:
                    continue
                st = entry.stat(follow_symlinks=False)
                if stat.S_ISLNK(st.st_mode):
                    tree.links[rel] = os.readlink(entry.path)
                elif stat.S_ISDIR(st.st_mode):
                    stack.append(rel)
                elif stat.S_ISREG(st.st_mode):
                    tree.files[rel] = st
    return tree


class _Hasher:
    """sha256 of a file, once per inode: hard links share their content."""

    def __init__(self) -> None:
        self._seen: dict[tuple[int, int], str] = {}

    def __call__(self, path: Path, st: os.stat_result) -> str:
        key = (st.st_dev, st.st_ino)
        if key not in self._seen:
            h = hashlib.sha256()
            with open(path, "rb") as f:
                while chunk := f.read(_CHUNK):
                    h.update(chunk)
            self._seen[key] = h.hexdigest()
        return self._seen[key]
