"""`pinman upgrade` through the ladder: a candidate that the endpoint rejects may still pass with a
cheap client switch (measured, then verified); the pin then moves and the switch is kept as the
remedy of the new pin at this endpoint, with the `[env]` line that would share it.

The decision lives here, above `team.upgrade` (which chooses, installs and edits the file): it
needs the remedy search, which sits above `team/` (`fingerprint/`, `policy/`). Costly switches
never let a candidate pass, whatever `[health] remedies` says: an upgrade is optional, and the
version it would replace works without them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pinman.paths import Paths
from pinman.policy.verify import Verdict, keep, verify
from pinman.runtime.remedies import describe

if TYPE_CHECKING:
    from pinman.health.outcome import Outcome
    from pinman.health.prober import Prober
    from pinman.profile.model import Profile
    from pinman.team.upgrade import UpgradeReport


def upgrade(paths: Paths, cwd: Path, name: str, *, isolated_home: bool = False,
            prober_for: Callable[[Mapping[str, str]], Prober] | None = None, **kw: Any) -> UpgradeReport:
    """`team.upgrade.upgrade` with the candidate verified by `policy.verify` (cheap switches allowed)."""
    from pinman.profile.discovery import find_profile
    from pinman.profile.trust import applied_health
    from pinman.team.upgrade import upgrade as run

    found: dict[str, Verdict] = {}

    def check(profile: Profile, candidate: str, env: Mapping[str, str]) -> Outcome:
        level = "off" if applied_health(paths, profile).remedies == "off" else "cheap"
        found["v"] = verify(paths, profile, candidate, env, level=level, prober_for=prober_for,
                            isolated_home=isolated_home)
        return found["v"].outcome

    report = run(paths, cwd, name, isolated_home=isolated_home, verify=check, **kw)
    v = found.get("v")
    if report.action == "moved" and v is not None and v.switches:
        kept = keep(paths, find_profile(name, cwd, paths), v)  # the profile as it is now: the new pin
        if kept is not None:
            report.remedy = describe(kept)
            report.detail += (f"; with {kept.switches} ({kept.reason}): for everyone, add "
                              f"{' and '.join(report.remedy['env_lines'])} to [env]")
    return report
