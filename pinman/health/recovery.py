"""The way back from a rollback: while a profile runs on an override, probe the pin too and return
to it once the endpoint accepts it; drop an override whose pin the profile no longer has.

Only an override pinman made because the endpoint rejected the pin, judged by the real client, is
recovered on its own; each return is a `recovered` (or `dropped`) event in the journal.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Mapping

from pinman.errors import PinmanError
from pinman.health.manual import BY_HAND
from pinman.health.prober import Prober, have, offline_registry, probe_and_record, sdk_version
from pinman.install.layout import validate_version
from pinman.paths import Paths
from pinman.state.journal import Entry, Journal
from pinman.state.overrides import Override, profile_key, set_override
from pinman.faults import point
from pinman.runtime.resolution import dropped_note, dropped_override, repoint, target

if TYPE_CHECKING:
    from pinman.health.report import CheckReport
    from pinman.profile.model import Profile


def recoverable(paths: Paths, profile: Profile, ov: Override) -> bool:
    """An override pinman made because the endpoint rejected the pin, judged by the real client.

    A rollback by hand is the user's decision, for reasons a probe cannot see: it stays until
    `use --reset`. The http probe sends the same request whatever the version, and the sdk probe
    tests the SDK, so neither can say the pinned CLI is accepted again."""
    from pinman.profile.trust import applied_health

    return ov.reason != BY_HAND and applied_health(paths, profile).probe == "cli"


def try_recover(paths: Paths, profile: Profile, report: CheckReport, journal: Journal, probe: Prober, key: str,
             env: Mapping[str, str], ov: Override, may_install: bool) -> bool:
    """Probe the pinned version; when the endpoint accepts it, drop the override. True if it did."""

    try:
        pin = target(paths, profile, registry=None if may_install else offline_registry(paths), use_override=False)
        if pin.version == ov.version:
            return False
        have(paths, pin, None, may_install)
        outcome = probe_and_record(journal, probe, key, pin.version, report.endpoint, env,
                                    sdk_version(paths, profile))
    except PinmanError as e:
        report.pin_probe = {"version": "", "outcome": "unavailable", "message": e.message}
        return False
    report.extra.append(outcome)
    report.pin_probe = {"version": pin.version, "outcome": outcome.kind.value, "message": outcome.message}
    if outcome.kind.value != "ok":
        if report.outcome.kind.value == "ok":
            report.detail += f"; the pin {pin.version} still fails here ({outcome.kind.value}: {outcome.message})"
        return False
    report.recovered = recovered(paths, profile, ov, pin.version, report.endpoint, env)
    report.action = "recovered"
    report.detail = report.recovered["message"]
    return True


def recovered(paths: Paths, profile: Profile, ov: Override, version: str, endpoint: str,
              env: Mapping[str, str] | None = None) -> dict[str, str]:
    """Drop the override, let the shim follow the pin again, record a `recovered` event.

    The event carries what a notice needs: profile key, the pin's version, the override it left
    (`previous`), the endpoint and a message ("stable is back on 2.1.331: the endpoint accepts it
    again"). Returns the same as a dict for the check report.
    """


    message = f"{profile.name} is back on {version}: the endpoint accepts it again"
    set_override(paths, profile.name, profile.project_root, None)
    point("recover.override_dropped", profile.name)
    repoint(paths, profile.name)
    key = profile_key(profile.name, profile.project_root)
    Journal(paths).append(Entry("recovered", key, version, endpoint=endpoint, previous=ov.version,
                                message=message), env)
    return {"from": ov.version, "to": version, "message": message}


def drop_stale_override(paths: Paths, profile: Profile, env: Mapping[str, str] | None = None) -> str | None:
    """Drop an override whose pin the profile no longer has; record a `dropped` event. Returns the
    note saying so ("local override 1.0.100 dropped: the pin changed from 2.1.331 to 2.1.45")."""

    found = dropped_override(paths, profile)
    if found is None:
        return None
    ov, why = found
    set_override(paths, profile.name, profile.project_root, None)
    repoint(paths, profile.name)
    note = dropped_note(ov, why)
    key = profile_key(profile.name, profile.project_root)
    Journal(paths).append(Entry("dropped", key, ov.version, previous=ov.pin_version, message=note), env)
    return note
