"""The on-disk cache of registry documents: one file per (registry, package), with ETag and time.

A cached document is the registry's answer in its own shape plus the validators to revalidate it
(`If-None-Match`, `If-Modified-Since`). When the registry last confirmed it is the later of the
recorded time and the file's mtime, so a 304 only touches the file instead of rewriting it. A cache
that cannot be read, written or touched is as good as none: it only costs a download.
"""

from __future__ import annotations

import json
import os
from collections.abc import Collection
from pathlib import Path
from urllib.parse import quote

from pinman.digest import sha256_hex
from pinman.npm.packument import Packument, dump_version, format_time, packument_from, str_or_none, times_from
from pinman.state.fsutil import atomic_write

CACHE_SCHEMA = 1


def cache_path(root: Path, registry: str, name: str) -> Path:
    # one file per (registry, package): a scoped registry must not answer for another
    tag = sha256_hex(registry.encode())[:10]
    return root / f"{quote(name, safe='@')}.{tag}.json"


def write_cache(path: Path, shown_registry: str, doc: Packument, etag: str | None, modified: str | None) -> None:
    data = {
        "schema": CACHE_SCHEMA,
        "registry": shown_registry,
        "etag": etag,
        "last_modified": modified,
        "fetched_at": doc.fetched_at,
        "dist-tags": doc.dist_tags,
        "versions": {v: dump_version(i) for v, i in doc.versions.items()},
        "time": {v: format_time(t) for v, t in doc.times.items()},
    }
    try:
        atomic_write(path, json.dumps(data, separators=(",", ":")))
        os.utime(path, (doc.fetched_at, doc.fetched_at), follow_symlinks=False)  # see read_cache
    except OSError:
        pass  # a cache that cannot be written only costs the next run a download


def touch(path: Path) -> float | None:
    """Mark a cached document as confirmed now; its new mtime, or None if that failed."""
    try:
        os.utime(path, follow_symlinks=False)
        return path.stat(follow_symlinks=False).st_mtime
    except (OSError, NotImplementedError):
        return None  # a cache that cannot be touched only costs the next run a revalidation


def read_cache(path: Path, name: str) -> tuple[Packument, str | None, str | None] | None:
    """The cached document with its ETag and Last-Modified; None if missing or unreadable."""
    try:
        data = path.read_bytes()
        touched = path.stat().st_mtime  # a 304 only touches the file (see Registry._fetch)
        raw = json.loads(data)
    except (OSError, ValueError, RecursionError):
        return None  # a corrupt cache is as good as none: fetch again
    if not isinstance(raw, dict) or raw.get("schema") != CACHE_SCHEMA:
        return None
    fetched_at = raw.get("fetched_at")
    recorded = float(fetched_at) if isinstance(fetched_at, (int, float)) else 0.0
    doc = packument_from(name, raw, fetched_at=max(recorded, touched) if recorded else 0.0)
    if doc is None:
        return None
    return doc, str_or_none(raw.get("etag")), str_or_none(raw.get("last_modified"))


def times_path(root: Path, registry: str, name: str) -> Path:
    """Publish times taken from the full document, beside the abbreviated one's cache file."""
    return cache_path(root, registry, name).with_suffix(".time.json")


def read_times(path: Path, versions: Collection[str]) -> dict[str, float]:
    """Cached publish times of `versions` ({} when missing or unreadable: it only costs a fetch)."""
    try:
        raw = json.loads(path.read_bytes())
    except (OSError, ValueError, RecursionError):
        return {}
    if not isinstance(raw, dict) or raw.get("schema") != CACHE_SCHEMA:
        return {}
    return times_from(raw.get("time"), versions)


def write_times(path: Path, shown_registry: str, times: dict[str, float]) -> None:
    data = {"schema": CACHE_SCHEMA, "registry": shown_registry,
            "time": {v: format_time(t) for v, t in times.items()}}
    try:
        atomic_write(path, json.dumps(data, separators=(",", ":")))
    except OSError:
        pass  # a cache that cannot be written only costs the next run a download
