"""Remedies at run time: which client switches a profile's pinned version runs with, and where.

A remedy (`state.overrides.Remedy`) belongs to one profile, the pin it was found for, the version
that pin ran and one endpoint. Every way pinman runs that version applies it at that endpoint only:
the shim's pointer carries a `case` on ANTHROPIC_BASE_URL (no process started, so the fast path
keeps its speed), `pinman exec`/`env`, the slow path and probes merge `applied()`. A user who
points ANTHROPIC_BASE_URL elsewhere in a shell runs the plain version there: the remedy was verified
against one endpoint only.

The user's own value wins: a switch whose variable is already set (in the user's environment or
the profile's `[env]`) is not replaced; the check that would pick such a switch says it cannot
apply (see `policy.search`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from pinman.paths import Paths
from pinman.runtime.sh import sh_quote
from pinman.state.journal import DEFAULT_ENDPOINT, endpoint_of
from pinman.state.overrides import Remedy, get_remedies

if TYPE_CHECKING:
    from pinman.profile.model import ClaudeCodePin, Profile

BASE_URL = "ANTHROPIC_BASE_URL"


def remedies_for(paths: Paths, profile: Profile, version: str) -> dict[str, Remedy]:
    """endpoint -> the remedy `profile` runs `version` with there (none when `[health] remedies` is
    "off", for a remedy made for another pin or version, or one the profile's own [env] now holds)."""
    from pinman.profile.trust import applied_health

    if applied_health(paths, profile).remedies == "off":
        return {}
    mine = get_remedies(paths, profile.name, profile.project_root)
    return {e: r for e, r in mine.items() if stale_remedy(r, profile, version) is None}


def stale_remedy(remedy: Remedy, profile: Profile, version: str | None) -> str | None:
    """Why `remedy` no longer applies to `profile` running `version` (None: it does)."""
    why = pin_changed(remedy.pin_spec, remedy.pin_version, profile.claude_code)
    if why:
        return why
    if version is not None and version != remedy.version:
        return f"the pin moved from {remedy.version} to {version}"
    if all(profile.env.get(k) == v for k, v in remedy.env):
        return f"the profile's [env] sets {remedy.switches} itself now"
    return None


def pin_changed(pin_spec: str | None, pin_version: str | None, pin: ClaudeCodePin,
                promoted: str | None = None) -> str | None:
    """Why a record made for the pin (`pin_spec`, which ran `pin_version`) no longer belongs to the
    profile's pin `pin` (for a guarded channel: its promoted version `promoted`); None while it
    does (or when the record names no pin: older files)."""
    if pin_spec is None:
        return None
    if spec_key(pin_spec) != spec_key(pin.version):
        return f"the pin changed from {pin_spec} to {pin.version}"
    now = pin.exact or promoted
    if now and pin_version and now != pin_version:
        return f"the pin moved from {pin_version} to {now}"
    return None


def spec_key(spec: str) -> str:
    """A spec as compared: `v2.1.0` and `2.1.0` are one exact pin."""
    from pinman.names import clean_version
    from pinman.npm.spec import is_exact

    spec = spec.strip()
    return (clean_version(spec) or spec) if is_exact(spec) else spec


def applied(env: Mapping[str, str], remedies: Mapping[str, Remedy]) -> dict[str, str]:
    """The switches to add to `env` (the complete environment a run gets): those of the remedy for
    the endpoint `env` names, except variables `env` sets already (the user's value wins)."""
    remedy = remedies.get(endpoint_of(env.get(BASE_URL)))
    return {k: v for k, v in remedy.env if k not in env} if remedy is not None else {}


def sh_case(remedies: Mapping[str, Remedy]) -> list[str]:
    """The lines of the pointer's `_pm_env` that apply `remedies`: one `case` on the endpoint."""
    if not remedies:
        return []
    lines = [f"  case ${{{BASE_URL}-}} in"]
    for endpoint, remedy in sorted(remedies.items()):
        patterns = url_patterns(endpoint)
        if patterns:
            sets = "; ".join(f'[ -n "${{{k}+x}}" ] || export {k}={sh_quote(v)}' for k, v in remedy.env)
            lines.append(f"    {'|'.join(patterns)}) {sets} ;;")
    lines.append("  esac")
    return lines


def url_patterns(endpoint: str) -> list[str]:
    """`case` patterns for every ANTHROPIC_BASE_URL that `endpoint_of` maps to `endpoint`: with or
    without the default port, a path, or credentials; '' (unset) for the default endpoint. Literal
    parts are single-quoted, so nothing in an endpoint is a pattern character to sh (an endpoint
    read from the overrides file is `scheme://host:port`, checked; one with a quote matches nothing)."""
    if "'" in endpoint:
        return []
    scheme, _, hostport = endpoint.partition("://")
    host, _, port = hostport.rpartition(":")
    default = {"https": "443", "http": "80"}.get(scheme) == port
    out = ["''"] if endpoint == endpoint_of(DEFAULT_ENDPOINT) else []
    for where in [hostport, *([host] if default else [])]:
        for lead in (f"{scheme}://", f"{scheme}://'*'@"):
            out += [f"'{lead}{where}'", f"'{lead}{where}/'*"]
    return out


def env_lines(remedy: Remedy) -> list[str]:
    """The profile `[env]` lines that would make the remedy part of the shared profile."""
    return [f'{k} = "{v}"' for k, v in remedy.env]  # switch values are [A-Za-z0-9._-]: no escaping


def describe(remedy: Remedy) -> dict[str, object]:
    """A remedy as `current`, `status`, `show` and check reports show it (`--json`)."""
    host = remedy.endpoint.split("://", 1)[-1]
    return {**remedy.to_json(), "switches": remedy.switches, "host": host, "env_lines": env_lines(remedy),
            "summary": f"{remedy.switches} at {host} ({', '.join(remedy.rejected) or 'a field'} rejected there)"}


def shown(paths: Paths, profile: Profile, version: str | None, environ: Mapping[str, str]) -> list[dict[str, object]]:
    """The remedies `profile` runs `version` with, for read views: each `describe`d, with `here`
    true for the one the endpoint of `environ` (or of the profile's own [env]) gets."""
    if version is None:
        return []
    from pinman.profile.trust import is_trusted

    base = profile.env.get(BASE_URL) if BASE_URL in profile.env and is_trusted(paths, profile) else None
    here = endpoint_of(base if base is not None else environ.get(BASE_URL))
    return [{**describe(r), "here": e == here} for e, r in sorted(remedies_for(paths, profile, version).items())]
