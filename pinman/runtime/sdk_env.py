"""A profile's SDK at run time: the install it uses here (a rollback's restored version first), and
the env a script under the profile gets (the pinned binary as CLAUDE_CODE_EXECUTABLE, the venv or
npm prefix of a trusted [sdk]).

A project profile's [sdk] the user has not trusted is never resolved, installed, run or put on
PATH; its [claude-code] pin still applies.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from pinman.errors import PinmanError
from pinman.names import PATH_PREPEND, Progress
from pinman.paths import Paths
from pinman.state.overrides import get_override

if TYPE_CHECKING:
    from pinman.install.sdk import SdkInstall, SdkStore
    from pinman.profile.model import Profile


def untrusted_project(paths: Paths, profile: Profile) -> bool:
    """A project's profile whose parsed content the user has not approved (`pinman trust`): its
    [sdk] is withheld."""
    from pinman.profile.trust import is_trusted

    return not is_trusted(paths, profile)


def ensure_installed(paths: Paths, profile: Profile, *, refresh: bool = False,
                     progress: Progress | None = None, store: SdkStore | None = None) -> SdkInstall | None:
    """The profile's SDK install, installing it if missing; None for a profile without [sdk], and
    for an untrusted project's profile (nothing of its [sdk] is fetched or run before trust).

    Without `refresh` an install matching the last resolution is used as is (no network), which
    is what env and exec need; `refresh` asks the index again (`pinman use`, `install`).
    """
    pin = profile.sdk
    if pin is None or untrusted_project(paths, profile):
        return None
    from pinman.install.sdk import SdkStore  # only for a profile with an [sdk]
    from pinman.install.sdk_resolve import resolve

    store = store or SdkStore(paths)
    rolled_back = override_version(paths, profile)
    if rolled_back is not None:  # a rollback restored the SDK that was known-good with the CLI
        return store.install(pin.ecosystem, pin.name, rolled_back, progress=progress)
    if not refresh:
        try:
            tgt = resolve(paths, pin, offline=True)
            found = store.get(pin.ecosystem, pin.name, tgt.version)
            if found is not None:
                return found
        except PinmanError:
            pass  # not resolved or not installed yet: ask the index
    tgt = resolve(paths, pin, python=store.python, env=store.env)
    return store.install(pin.ecosystem, pin.name, tgt.version, integrity=tgt.integrity, progress=progress)


def installed_for(paths: Paths, profile: Profile) -> SdkInstall | None:
    """The profile's SDK if it is installed for the last resolution; never touches the network."""
    pin = profile.sdk
    if pin is None or untrusted_project(paths, profile):
        return None
    from pinman.install.sdk import SdkStore
    from pinman.install.sdk_resolve import resolve

    try:
        version = override_version(paths, profile)
        if version is None:
            version = resolve(paths, pin, offline=True).version
        return SdkStore(paths).get(pin.ecosystem, pin.name, version)
    except PinmanError:
        return None


def override_version(paths: Paths, profile: Profile) -> str | None:
    """The SDK version a rollback override restored for this profile, if any."""

    ov = get_override(paths, profile.name, profile.project_root)
    return ov.sdk_version if ov is not None else None


def profile_sdk_env(paths: Paths, profile: Profile, binary: Path | None) -> dict[str, str]:
    """CLAUDE_CODE_EXECUTABLE (`binary`, the pinned one, else the shim that resolves it) and the SDK env.

    The executable comes from the [claude-code] pin, which applies untrusted like for a profile
    without [sdk]; VIRTUAL_ENV, NODE_PATH and the venv's bin come only from a trusted [sdk].
    """
    env = {"CLAUDE_CODE_EXECUTABLE": str(binary or paths.shim)}
    inst = ensure_installed(paths, profile)
    if inst is not None:
        env.update(inst.env())
    return env


def merge_env(base: Mapping[str, str], overlay: Mapping[str, str]) -> dict[str, str]:
    """`overlay` over `base`, with PINMAN_PATH_PREPEND put in front of base's PATH instead."""
    env = dict(base)
    extra = dict(overlay)
    prepend = extra.pop(PATH_PREPEND, "")
    env.update(extra)
    if prepend:
        env["PATH"] = prepend + (os.pathsep + base["PATH"] if base.get("PATH") else "")
    return env
