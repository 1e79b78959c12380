"""A package's registry document (packument) reduced to what picking and installing need.

The one reader of the registry's JSON, used for fresh answers and for the cache alike (the cache
is written back in the registry's own shape). Only plain semver versions and printable dist-tags
survive it: versions become folder names in the store and both end up in messages, so a registry
cannot smuggle in a path or a terminal escape.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator, Mapping
from dataclasses import field
from typing import Any

from pinman.names import is_exact_version
from pinman.record import record


@record
class VersionInfo:
    version: str
    integrity: str | None = None
    tarball: str | None = None
    engines_node: str | None = None
    deprecated: bool = False
    optional_dependencies: dict[str, str] = field(default_factory=dict)


class Versions(Mapping[str, VersionInfo]):
    """version -> VersionInfo, each made from the registry's entry when it is first asked for.

    A document holds hundreds of versions; resolving a dist-tag (what `pinman status` does for
    `latest` on every run) looks at one. Which versions there are is settled at once (only plain
    semver names of object entries), so membership, length and order never depend on what was read.
    """

    def __init__(self, raw: Mapping[str, Any]) -> None:
        self._raw = {v: m for v, m in raw.items() if isinstance(m, dict) and is_exact_version(v)}
        self._made: dict[str, VersionInfo] = {}

    def __getitem__(self, version: str) -> VersionInfo:
        made = self._made.get(version)
        if made is None:
            made = self._made[version] = version_from(version, self._raw[version])
        return made

    def __iter__(self) -> Iterator[str]:
        return iter(self._raw)

    def __len__(self) -> int:
        return len(self._raw)

    def __contains__(self, version: object) -> bool:
        return version in self._raw

    def __repr__(self) -> str:
        return f"Versions({len(self)} versions)"


@record
class Packument:
    name: str
    dist_tags: dict[str, str]
    versions: Mapping[str, VersionInfo]  # a `Versions` when read from a document
    stale: bool = False  # served from the cache because the registry could not be reached
    fetched_at: float = 0.0  # when the registry last confirmed this document (epoch seconds)
    problem: str | None = None  # why the registry was not used although it was asked (one line)
    # version -> publish time (epoch seconds), from the document's `time` field when it has one
    # (registry.npmjs.org leaves it out of the abbreviated document: see Registry.publish_times)
    times: dict[str, float] = field(default_factory=dict)


def packument_from(name: str, raw: object, *, fetched_at: float) -> Packument | None:
    """The document's usable parts. A version that is not plain semver, or a dist-tag that is not
    a printable name pointing at one, is left out: versions become folder names in the store and
    both end up in messages, so a registry cannot smuggle in a path or a terminal escape."""
    if not isinstance(raw, dict) or not isinstance(raw.get("versions"), dict):
        return None
    tags = raw.get("dist-tags")
    dist_tags = {
        k: v for k, v in (tags.items() if isinstance(tags, dict) else ())
        if _TAG.fullmatch(k) and isinstance(v, str) and is_exact_version(v)
    }
    versions = Versions(raw["versions"])
    return Packument(name, dist_tags, versions, False, fetched_at, times=times_from(raw.get("time"), versions))


def times_from(raw: object, versions: Collection[str]) -> dict[str, float]:
    """Publish times of `versions` from a registry's `time` object ({"2.1.331": "2026-11-23T18:36:26.123Z",
    "created": …, "modified": …}); entries that are not a time of a known version are left out."""
    if not isinstance(raw, dict):
        return {}
    out: dict[str, float] = {}
    for version, stamp in raw.items():
        if version in versions and isinstance(stamp, str):
            ts = parse_time(stamp)
            if ts is not None:
                out[version] = ts
    return out


_LAST_SECOND = 253402300799.0  # 9999-12-31T23:59:59Z


def parse_time(stamp: str) -> float | None:
    """An ISO 8601 time as epoch seconds ("Z" or an offset; none means UTC), or None."""
    from datetime import datetime, timezone

    if len(stamp) > 40:
        return None
    try:
        when = datetime.fromisoformat(stamp)
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    try:
        ts = when.timestamp()
    except (OverflowError, ValueError, OSError):
        return None
    return ts if 0 <= ts <= _LAST_SECOND else None


def format_time(ts: float) -> str:
    """Epoch seconds as the registry writes times: `2026-11-23T18:36:26.123Z`."""
    from datetime import datetime, timezone

    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


_TAG = re.compile(r"[!-~]{1,214}")  # printable ASCII, no spaces


def version_from(version: str, m: Mapping[str, Any]) -> VersionInfo:
    dist = m.get("dist")
    dist = dist if isinstance(dist, dict) else {}
    engines = m.get("engines")
    node = engines.get("node") if isinstance(engines, dict) else None
    opt = m.get("optionalDependencies")
    return VersionInfo(
        version=version,
        integrity=str_or_none(dist.get("integrity")),
        tarball=str_or_none(dist.get("tarball")),
        engines_node=node if isinstance(node, str) else None,
        deprecated=bool(m.get("deprecated")),  # npm tests truthiness: "" is not deprecated
        optional_dependencies={
            str(k): str(v) for k, v in (opt.items() if isinstance(opt, dict) else ())
        },
    )


def str_or_none(value: object) -> str | None:
    return value if isinstance(value, str) else None


def dump_version(info: VersionInfo) -> dict[str, Any]:
    # written in the registry's own shape so one reader handles both
    out: dict[str, Any] = {"dist": {"integrity": info.integrity, "tarball": info.tarball}}
    if info.engines_node is not None:
        out["engines"] = {"node": info.engines_node}
    if info.deprecated:
        out["deprecated"] = True
    if info.optional_dependencies:
        out["optionalDependencies"] = info.optional_dependencies
    return out
