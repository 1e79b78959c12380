"""npm-pick-manifest 11.0, ported: which version `npm install name@spec` installs.

Given a packument, the node version and the known-bad versions to skip, the answer is the one npm
would give (the `latest` tag first when it fits, then engines, deprecation and semver order), so
`pinman` and `npm install` never disagree. Also the semver ordering and "did you mean" hints used
wherever versions are listed.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from functools import cmp_to_key, lru_cache
from typing import Protocol

from pinman.errors import VersionNotFound
from pinman.npm.semver import SemVer, clean, compare, parse_version, satisfies
from pinman.npm.spec import Spec, parse_spec
from pinman.record import record


# --- ordering and hints ---------------------------------------------------------------------


_semver_key = cmp_to_key(compare)


def sort_versions(versions: Iterable[str], *, reverse: bool = False) -> list[str]:
    """Versions in semver order (lowest first); strings that are not versions are left out."""
    parsed = [(p, s) for s in versions if (p := parse_version(s, loose=True)) is not None]
    parsed.sort(key=lambda ps: _semver_key(ps[0]), reverse=reverse)
    return [s for _, s in parsed]


def nearest(version: str, candidates: Iterable[str], n: int = 3) -> list[str]:
    """The `n` candidates next to `version` in release order, for "did you mean" hints (lowest
    first): its neighbours, the next newer one first; the newest releases when it is newer than
    all (9.9.9 suggests the latest, not 2.1.8–2.1.10). Prereleases only for a prerelease."""
    candidates = list(candidates)
    target = parse_version(clean(version, loose=True) or version, loose=True)
    if target is None:
        import difflib  # only for hints on a typo

        return difflib.get_close_matches(version, candidates, n=n, cutoff=0.5)
    pool = sort_versions(candidates)
    releases = [v for v in pool if not _v(v).prerelease]
    if releases and not target.prerelease:
        pool = releases
    below = [v for v in pool if compare(_v(v), target) < 0]
    above = [v for v in pool if compare(_v(v), target) > 0]
    picked: list[str] = []
    while len(picked) < n and (below or above):
        if above:
            picked.append(above.pop(0))
        if below and len(picked) < n:
            picked.append(below.pop())
    return sort_versions(picked)


# --- npm-pick-manifest ----------------------------------------------------------------------


class VersionMeta(Protocol):
    @property
    def engines_node(self) -> str | None: ...

    @property
    def deprecated(self) -> bool: ...


class PackumentLike(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def dist_tags(self) -> Mapping[str, str]: ...

    @property
    def versions(self) -> Mapping[str, VersionMeta]: ...


@record
class Picked:
    version: str
    skipped: tuple[str, ...] = ()  # versions from `skip` that npm would have chosen first
    # newer versions the range matches that npm passed over because their engines.node excludes
    # this node (lowest first): the answer is npm's, but nobody should learn it by surprise
    engine_skipped: tuple[str, ...] = ()


DEFAULT_TAG = "latest"


def pick(
    spec: str | Spec,
    packument: PackumentLike,
    node_version: str | None,
    skip: Collection[str] = (),
) -> str:
    """The version `npm install name@spec` installs under `node_version` (None: ignore engines)."""
    return pick_manifest(spec, packument, node_version, skip).version


def weighs_engines(spec: Spec, packument: PackumentLike, skip: Collection[str] = ()) -> bool:
    """Whether the node version can change what `pick_manifest` answers: only a range, or a
    dist-tag whose version is skipped, is picked among versions (an exact version or a tag is
    taken as it is, engines or not, as npm does)."""
    return spec.kind == "range" or (spec.kind == "tag" and packument.dist_tags.get(spec.raw) in skip)


def pick_manifest(
    spec: str | Spec,
    packument: PackumentLike,
    node_version: str | None,
    skip: Collection[str] = (),
) -> Picked:
    """Like `pick`, also reporting which known-bad versions (`skip`) were passed over.

    Skipping a version gives the answer npm would give if that version were not published.
    A dist-tag that points at a skipped version falls back to the best version below it, as
    npm-pick-manifest does for a tag published after `--before`.
    """
    spec = spec if isinstance(spec, Spec) else parse_spec(spec)
    name, versions = packument.name, packument.versions
    if not versions:
        raise VersionNotFound(f"no versions of {name} are published")
    if spec.kind == "exact":
        return _pick_exact(spec.raw, packument, skip)
    if spec.kind == "tag":
        ver = packument.dist_tags.get(spec.raw)
        if ver is None:
            raise VersionNotFound(
                f"{name} has no dist-tag {spec.raw!r}", hint=_tags_hint(packument)
            )
        if ver not in skip:
            if ver not in versions:
                raise VersionNotFound(f"{name}@{spec.raw} points at {ver}, which is not published")
            return Picked(ver)
        found = _pick_range(f"<={ver}", packument, node_version, skip)
        return Picked(found.version, (ver, *(s for s in found.skipped if s != ver)))
    return _pick_range(spec.raw, packument, node_version, skip)


def _pick_exact(raw: str, packument: PackumentLike, skip: Collection[str]) -> Picked:
    ver = clean(raw, loose=True) or raw
    if ver in skip:
        raise VersionNotFound(
            f"{packument.name}@{ver} is marked known bad",
            hint="pin another version, or remove it from the known-bad list",
        )
    if ver not in packument.versions:
        near = nearest(ver, packument.versions)
        newest = bool(near) and all(compare(_v(v), _v(ver)) < 0 for v in near)  # it is newer than all
        raise VersionNotFound(
            f"{packument.name}@{ver} does not exist",
            hint=f"{'newest' if newest else 'nearest'} published versions: {', '.join(near)}" if near else None,
        )
    return Picked(ver)


def _pick_range(
    range_: str, packument: PackumentLike, node_version: str | None, skip: Collection[str]
) -> Picked:
    versions = packument.versions
    skipped: list[str] = []
    # npm prefers the `latest` tag whenever it fits the range and is usable here
    default = packument.dist_tags.get(DEFAULT_TAG)
    if default and (range_ == "*" or satisfies(default, range_, loose=True)):
        info = versions.get(default)
        if info is not None and _engine_ok(info, node_version) and not info.deprecated:
            if default not in skip:
                return Picked(default)
            skipped.append(default)

    def rank(ver: str) -> tuple[bool, bool, bool]:
        usable, current = _engine_ok(versions[ver], node_version), not versions[ver].deprecated
        return not (usable and current), not usable, not current

    # npm's order: usable here and not deprecated, then usable, then not deprecated; newest first
    # within each. Both sorts are stable like V8's Array.prototype.sort, so equal versions keep
    # registry order.
    matching = [v for v in versions if satisfies(v, range_, loose=True)]
    newest_first = sorted(matching, key=cmp_to_key(lambda a, b: compare(_v(a), _v(b))), reverse=True)
    for ver in sorted(newest_first, key=rank):
        if ver not in skip:
            return Picked(ver, tuple(skipped), _passed_over(ver, newest_first, versions, node_version, skip))
        if ver not in skipped:
            skipped.append(ver)
    if skipped:
        raise VersionNotFound(
            f"every version of {packument.name} matching {range_!r} is marked known bad",
            hint=f"known bad: {', '.join(sort_versions(skipped))}",
        )
    raise VersionNotFound(
        f"no version of {packument.name} matches {range_!r}", hint=_tags_hint(packument)
    )


def _passed_over(picked: str, newest_first: list[str], versions: Mapping[str, VersionMeta],
                 node_version: str | None, skip: Collection[str]) -> tuple[str, ...]:
    """The versions newer than `picked` that engines.node kept out (lowest first)."""
    newer = newest_first[:newest_first.index(picked)]
    return tuple(reversed([v for v in newer if v not in skip and not _engine_ok(versions[v], node_version)]))


def _v(raw: str) -> SemVer:
    v = parse_version(raw, loose=True)
    if v is None:  # satisfies() already rejected these, so this is a bug
        raise ValueError(f"not a version: {raw}")
    return v


@lru_cache(maxsize=256)  # a few distinct `engines.node` ranges, asked for each version
def engine_ok(engines_node: str | None, node_version: str | None) -> bool:
    """npm-install-checks: strict parse, prereleases included; no node or no constraint is ok."""
    if not node_version or not engines_node:
        return True
    return satisfies(node_version, engines_node, include_prerelease=True)


def _engine_ok(info: VersionMeta, node_version: str | None) -> bool:
    return engine_ok(info.engines_node, node_version)


def _tags_hint(packument: PackumentLike) -> str | None:
    tags = ", ".join(f"{t} ({v})" for t, v in sorted(packument.dist_tags.items()))
    newest = sort_versions(packument.versions, reverse=True)[:1]
    parts = ([f"dist-tags: {tags}"] if tags else []) + (
        [f"newest version: {newest[0]}"] if newest else []
    )
    return "; ".join(parts) or None
