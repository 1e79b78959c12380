"""What a guarded profile runs on this machine, and which releases are its candidates here.

A profile whose `[claude-code] version` is a dist-tag or range, with `[update] policy = "guarded"`
(trusted, when it comes from a project), runs what the channels file (`state.channels`) says: the
release its last promotion verified against this machine's endpoint. Nothing is resolved from the
registry for it, so what `claude` runs moves only through a promotion (`pinman.policy`). An exact
or locked pin makes the policy inert: the lock holds, for everyone who shares the file.

A channel record applies while the profile still names the spec it was chosen for, or a range its
version still satisfies, and the profile file does not mark that version bad; otherwise the
profile has no version here yet, and `pinman use`, `pinman check` or the shim's first run chooses.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING

from pinman.errors import HealthError
from pinman.names import CLAUDE_CODE
from pinman.paths import Paths
from pinman.state.channels import ChannelState, get_channel

if TYPE_CHECKING:
    from pinman.npm.channel import Channel
    from pinman.npm.registry import Registry
    from pinman.profile.model import Profile


class ChannelUnset(HealthError):
    """A guarded profile that has no verified version on this machine yet."""


def is_guarded(paths: Paths, profile: Profile) -> bool:
    """Whether `profile` runs as a guarded channel here (a trusted, unlocked tag or range)."""
    from pinman.npm.spec import is_exact
    from pinman.profile.trust import applied_update

    pin = profile.claude_code
    if not profile.update.guarded or pin.locked is not None or is_exact(pin.version):
        return False
    return applied_update(paths, profile).guarded


def applies(state: ChannelState, profile: Profile) -> bool:
    """Whether a channel record still belongs to the profile (see the module docstring)."""
    from pinman.npm.semver import satisfies
    from pinman.npm.spec import parse_spec

    pin = profile.claude_code
    if pin.is_bad(state.version) is not None:
        return False
    if state.spec.strip() == pin.version.strip():
        return True
    try:
        spec = parse_spec(pin.version)
    except ValueError:
        return False
    return spec.kind == "range" and satisfies(state.version, spec.raw, loose=True)


def channel_state(paths: Paths, profile: Profile) -> ChannelState | None:
    """The record of what this guarded profile runs here; None when it has none that applies."""
    state = get_channel(paths, profile.name, profile.project_root)
    return state if state is not None and applies(state, profile) else None


def running(paths: Paths, profile: Profile) -> ChannelState:
    """What the guarded `profile` runs here, or ChannelUnset."""
    state = channel_state(paths, profile)
    if state is None:
        raise ChannelUnset(
            f"{profile.name}: the guarded channel {profile.claude_code.version} has no version chosen on this "
            "machine yet",
            hint=f"`pinman use {profile.name}` chooses one: the newest candidate that passes a probe against your endpoint")
    return state


def why_running(profile: Profile, state: ChannelState, now: float | None = None) -> str:
    """`latest, guarded: 2.1.331 promoted 3 days ago, verified at gw.internal:443`."""
    from pinman.age import ago

    when = f"promoted {ago(state.since, now)}" if state.since else "promoted"
    where = (f"verified at {state.endpoint.split('://', 1)[-1]}" if state.verified and state.endpoint
             else "not verified yet: the next check that can probe verifies it")
    return f"{profile.claude_code.version}, guarded: {state.version} {when}, {where}"


def endpoint_for(paths: Paths, profile: Profile, environ: Mapping[str, str] | None = None) -> str:
    """The endpoint this profile's probes reach: its [env] (when trusted) over the environment."""
    from pinman.profile.trust import is_trusted
    from pinman.state.journal import endpoint_of

    env = dict(os.environ if environ is None else environ)
    if is_trusted(paths, profile):
        env.update(profile.env)
    return endpoint_of(env.get("ANTHROPIC_BASE_URL"))


def refused_here(paths: Paths, profile: Profile, endpoint: str) -> dict[str, str]:
    """version -> why, for every version whose latest verdict for this profile at `endpoint` is a
    rejection (a refused candidate, a failed check, a bisect's or an upgrade's bad verdict)."""
    from pinman.state.journal import Journal
    from pinman.state.overrides import profile_key

    bad = Journal(paths).known_bad(profile_key(profile.name, profile.project_root), endpoint)
    return {v: f"{e.rejected or 'the request'} rejected by {endpoint}" for v, e in bad.items()}


def bad_in_file(profile: Profile) -> dict[str, str]:
    return {b.version: f"marked bad in {profile.path.name}" + (f": {b.reason}" if b.reason else "")
            for b in profile.claude_code.bad}


def candidates(paths: Paths, profile: Profile, registry: Registry, endpoint: str,
               now: float | None = None) -> tuple[Channel, str | None]:
    """The channel's members split into eligible, soaking and excluded, from `registry` (which
    decides whether that asks the network), with why publish times are missing, if they are."""
    from pinman.npm.channel import channel
    from pinman.profile.trust import applied_update

    doc = registry.packument(CLAUDE_CODE)
    times, problem = registry.publish_times(CLAUDE_CODE)
    found = channel(profile.claude_code.version, doc.versions, doc.dist_tags, times,
                    soak=applied_update(paths, profile).soak, now=time.time() if now is None else now,
                    bad=bad_in_file(profile), refused=refused_here(paths, profile, endpoint))
    return found, problem or doc.problem
