"""This machine's managed version range against what pinman would run: the pinned version, and the
known-good a rollback would switch to.

A client outside `requiredMinimumVersion … requiredMaximumVersion` refuses to start (2.1.163 and
later; `runtime.managed`), so a rollback to such a known-good would leave the user with a `claude`
that does not start: it is no rollback target. `check` and `doctor` say so before a rollback would
pick it, and `policy_range` gives the range an administrator deploys so that every machine agrees
with a team's profile (from the known-good a rollback would use to the pin).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Mapping

from pinman.paths import Paths
from pinman.runtime.managed import Managed, read, version_key
from pinman.state.journal import Entry, Journal
from pinman.state.overrides import profile_key
from pinman.record import record

if TYPE_CHECKING:
    from pinman.profile.model import Profile

MAX_SKIPPED = 50  # known-goods refused by the policy that a rollback looks past


def known_good_within(journal: Journal, key: str, endpoint: str, version: str,
                      managed: Managed) -> tuple[Entry | None, list[str]]:
    """The newest known-good (other than `version`) that this machine's policy lets start, and why
    the newer ones it passed over would not start."""
    exclude, skipped = [version], []
    for _ in range(MAX_SKIPPED):
        kg = journal.last_known_good(key, endpoint, exclude=exclude)
        why = managed.refuses(kg.version) if kg is not None else None
        if why is None:
            return kg, skipped
        skipped.append(why)
        exclude.append(kg.version)
    return None, skipped


def warnings(paths: Paths, profile: Profile, version: str, endpoint: str,
             environ: Mapping[str, str] | None = None) -> list[str]:
    """What this machine's managed settings would stop: `version` (what the profile runs) starting,
    or a rollback reaching the known-good it would use. Plus managed files Claude Code ignores."""
    managed = read(environ)
    out = list(managed.problems)
    name = profile.name
    why = managed.refuses(version)
    if why:
        out.append(f"{why}: `claude` of profile {name} will refuse to start on this machine")
    key = profile_key(name, profile.project_root)
    kg = Journal(paths).last_known_good(key, endpoint, exclude=[version])
    why = managed.refuses(kg.version) if kg is not None else None
    if kg is not None and why:
        out.append(f"{why}: a rollback of {name} will not switch to its known-good {kg.version}")
    return out


@record
class PolicyRange:
    minimum: str
    maximum: str
    pin: str
    known_good: str | None
    endpoint: str
    notes: tuple[str, ...]


def policy_range(paths: Paths, profile: Profile, environ: Mapping[str, str] | None = None) -> PolicyRange:
    """From the known-good a rollback of `profile` would use (for its endpoint) to its pin."""
    from pinman.health.prober import offline_registry, run_env
    from pinman.npm.spec import is_exact
    from pinman.runtime.resolution import target
    from pinman.state.journal import endpoint_of

    env = run_env(paths, profile, environ)
    endpoint = endpoint_of(env.get("ANTHROPIC_BASE_URL"))
    pin = target(paths, profile, registry=offline_registry(paths), use_override=False).version
    kg = Journal(paths).last_known_good(profile_key(profile.name, profile.project_root), endpoint, exclude=[pin])
    notes: list[str] = []
    if kg is None:
        notes.append(f"no known-good other than the pin is recorded for {endpoint}: the range is the pin "
                     "alone, so a rollback to a version from 2.1.163 on would not start")
    if not is_exact(profile.claude_code.version) and profile.claude_code.locked is None:
        notes.append(f"{profile.name} follows {profile.claude_code.version!r}: the maximum is what it "
                     "resolves to today; `pinman lock` fixes it")
    versions = sorted({pin, *([kg.version] if kg else [])}, key=lambda v: version_key(v) or (0, 0, 0))
    return PolicyRange(versions[0], versions[-1], pin, kg.version if kg else None, endpoint, tuple(notes))
