"""Which published versions are candidates of a guarded channel: pure, no I/O.

A channel is a profile's dist-tag or range under `[update] policy = "guarded"`. A version is a
candidate when (a) it belongs to the channel: it satisfies the range (prereleases only when the
range asks for them, as node-semver decides), or it is not newer than the version the tag points
at (prereleases only when the tag itself points at one, a `next`-style channel); (b) it was
published at least `soak` seconds ago (registry time; without a known time it cannot be judged
and waits); and (c) it is neither marked bad in the profile file nor refused at this endpoint.

Candidates are ordered newest first by semver, never by publish time: publish times are not
monotonic in version (a fix for an older line can be published after a newer release). Whether a
candidate runs on this machine's node (`engines`) is not judged here: the probe is the judge.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from pinman.errors import VersionNotFound
from pinman.npm.pick import sort_versions
from pinman.npm.semver import SemVer, compare, parse_version, satisfies
from pinman.npm.spec import parse_spec
from pinman.record import record


@record
class Soaking:
    version: str
    ready_at: float | None  # when it is `soak` old; None: its publish time is not known


@record
class Excluded:
    version: str
    why: str  # "marked bad in stable.toml: …", "thinking rejected by http://gw:443"


@record
class Channel:
    """A channel's members, split three ways; each list newest first."""

    eligible: tuple[str, ...]  # meet (a)-(c): what promotion may try
    soaking: tuple[Soaking, ...]  # members not `soak` old yet
    excluded: tuple[Excluded, ...]  # members marked bad or refused here

    def newer_than(self, version: str | None) -> tuple[str, ...]:
        """Eligible versions newer than `version` (all of them for None), newest first."""
        if version is None:
            return self.eligible
        floor = parse_version(version, loose=True)
        if floor is None:
            return self.eligible
        return tuple(v for v in self.eligible if _newer(v, floor))

    def waiting(self, version: str | None) -> tuple[Soaking, ...]:
        """Members still soaking that are newer than `version`."""
        floor = parse_version(version, loose=True) if version else None
        return tuple(s for s in self.soaking if floor is None or _newer(s.version, floor))


def members(spec: str, versions: Iterable[str], tags: Mapping[str, str]) -> list[str]:
    """(a): the published versions that belong to the channel `spec` (a dist-tag or range), newest first."""
    parsed = parse_spec(spec)
    published = sort_versions(set(versions), reverse=True)
    if parsed.kind == "range":
        return [v for v in published if satisfies(v, parsed.raw, loose=True)]
    if parsed.kind == "exact":
        raise ValueError(f"{spec!r} is an exact version, not a channel")
    target = tags.get(parsed.raw)
    top = parse_version(target, loose=True) if target else None
    if target is None or top is None or target not in published:
        raise VersionNotFound(f"the dist-tag {parsed.raw!r} points at no published version",
                              hint=f"dist-tags: {', '.join(sorted(tags)) or 'none'}")
    out = []
    for v in published:
        p = parse_version(v, loose=True)
        assert p is not None  # sort_versions kept only versions
        if compare(p, top) <= 0 and (not p.prerelease or top.prerelease):
            out.append(v)
    return out


def channel(spec: str, versions: Iterable[str], tags: Mapping[str, str], times: Mapping[str, float], *,
            soak: float, now: float, bad: Mapping[str, str] | None = None,
            refused: Mapping[str, str] | None = None) -> Channel:
    """Split the channel's members into eligible, soaking and excluded (see the module docstring).

    `bad` and `refused` map a version to why; a version exactly `soak` old is eligible."""
    eligible: list[str] = []
    soaking: list[Soaking] = []
    excluded: list[Excluded] = []
    for v in members(spec, versions, tags):
        why = (bad or {}).get(v) or (refused or {}).get(v)
        if why is not None:
            excluded.append(Excluded(v, why))
            continue
        published = times.get(v)
        if soak <= 0 or (published is not None and now - published >= soak):
            eligible.append(v)
        else:
            soaking.append(Soaking(v, None if published is None else published + soak))
    return Channel(tuple(eligible), tuple(soaking), tuple(excluded))


def _newer(version: str, floor: SemVer) -> bool:
    p = parse_version(version, loose=True)
    return p is not None and compare(p, floor) > 0

