"""Switches a person asks for: `pinman rollback NAME [--to V]`, `use --reset`, and the switch itself.

A switch writes the local override (with the pin it replaces), repoints every shim context and
journals the event; it never edits a profile file. A rollback by hand stays until `use --reset`.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Callable, Mapping

from pinman.errors import PinmanError, UsageError
from pinman.health.prober import offline_registry, run_env
from pinman.install.layout import validate_version
from pinman.paths import Paths
from pinman.state.journal import Entry, Journal, endpoint_of
from pinman.state.overrides import Override, get_override, get_remedies, profile_key, set_override, set_remedy
from pinman.names import clean_version
from pinman.faults import point
from pinman.npm.spec import is_exact
from pinman.runtime.resolution import install_exact, installed, local_registry, override_for, repoint, target

if TYPE_CHECKING:
    from pinman.profile.model import Profile


BY_HAND = "rolled back by hand"


def switch_to(paths: Paths, profile: Profile, version: str, *, previous: str | None, reason: str,
              env: Mapping[str, str] | None = None, event: str = "rollback", sdk: str | None = None) -> None:
    """Write the local override, repoint every shim context, record it. Offline when installed."""


    spec, pinned = replaced_pin(paths, profile)
    set_override(paths, profile.name, profile.project_root,
                 Override(version, previous, reason, time.time(), sdk, spec, pinned))
    point("rollback.override_set", profile.name)
    repoint(paths, profile.name)
    point("rollback.repointed", profile.name)
    key = profile_key(profile.name, profile.project_root)
    Journal(paths).append(Entry(event, key, version, previous=previous, message=reason, sdk_version=sdk), env)


def replaced_pin(paths: Paths, profile: Profile) -> tuple[str, str | None]:
    """The pin an override written now replaces: that of the override in place (a second rollback
    still replaces the same pin), else the profile's spec and the version it runs (offline)."""

    ov = override_for(paths, profile)
    if ov is not None and ov.pin_spec is not None:
        return ov.pin_spec, ov.pin_version
    pin = profile.claude_code
    if pin.exact:
        return pin.version, pin.exact
    try:
        return pin.version, target(paths, profile, registry=offline_registry(paths), use_override=False).version
    except PinmanError:
        return pin.version, None


def manual_rollback(paths: Paths, profile: Profile, to: str | None, *,
                    environ: Mapping[str, str] | None = None,
                    progress: Callable[[str], None] | None = None) -> tuple[str, str]:
    """`pinman rollback NAME [--to V]`: returns (from, to). Installs `to` if it is missing, as
    `pinman install VERSION` does: an unknown version is a registry error naming the nearest ones."""

    env = run_env(paths, profile, environ)
    current = _running(paths, profile)
    key = profile_key(profile.name, profile.project_root)
    if to is None:
        endpoint = endpoint_of(env.get("ANTHROPIC_BASE_URL"))
        kg = Journal(paths).last_known_good(key, endpoint, exclude=[current])
        if kg is None:
            where = endpoint.split("://", 1)[-1]  # host:port, as the checks' lines name it
            raise UsageError(f"no known-good version recorded for {profile.name} at {where}",
                              hint=f"name one: `pinman rollback {profile.name} --to VERSION`")
        to = kg.version

    if not is_exact(to):
        raise UsageError(f"--to needs an exact version, not {to!r}", hint="e.g. --to 2.1.331")
    to = clean_version(to) or to
    if installed(paths, to) is None:  # a cached version needs neither the store's machinery nor the network
        install_exact(paths, to, progress=progress)
    switch_to(paths, profile, to, previous=current, reason=BY_HAND, env=env)
    return current, to


def _running(paths: Paths, profile: Profile) -> str:
    """The version the profile runs now: from this machine, the registry only if never resolved here."""
    try:
        return target(paths, profile, registry=local_registry(paths)).version
    except PinmanError as e:
        from pinman.npm.registry import NotCached  # only now: an exact pin never loads the registry client

        if not isinstance(e, NotCached):
            raise
        return target(paths, profile).version


def reset(paths: Paths, profile: Profile) -> str | None:
    """Drop the local override and every remedy: back to the plain pin. Returns the dropped
    override's version."""

    ov = get_override(paths, profile.name, profile.project_root)
    set_override(paths, profile.name, profile.project_root, None)
    remedies = get_remedies(paths, profile.name, profile.project_root)
    for endpoint in remedies:
        set_remedy(paths, profile.name, profile.project_root, endpoint, None)
    repoint(paths, profile.name)
    key = profile_key(profile.name, profile.project_root)
    if ov:
        Journal(paths).append(Entry("reset", key, ov.version, message="override dropped"))
    for r in remedies.values():
        Journal(paths).append(Entry("reset", key, r.version, endpoint=r.endpoint,
                                    message=f"remedy {r.switches} dropped", extra={"remedy": dict(r.env)}))
    return ov.version if ov else None
