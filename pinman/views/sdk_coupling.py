"""How a profile's Agent SDK and its pinned Claude Code fit: the CLI version each Agent SDK release
is built for, a warning with the pair that would match, and the SDK part of `pinman show`.

Both Agent SDKs start the Claude Code they bundle unless told otherwise, so a mismatch means a
script runs another CLI than the pin. Answers come from local state only (installs, caches).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pinman.errors import PinmanError
from pinman.install.sdk import AGENT_SDK_NPM, AGENT_SDK_PYPI, canonical_name, ts_agent_cli, ts_agent_for_cli
from pinman.install.sdk_resolve import resolve
from pinman.paths import Paths
from pinman.runtime.sdk_env import installed_for, untrusted_project
from pinman.record import record

if TYPE_CHECKING:
    from pinman.profile.model import Profile


@record
class Coupling:
    sdk: str  # "claude-agent-sdk 0.1.5"
    expects: str  # the CLI version the SDK bundles or is built for
    runs: str  # the CLI version the profile runs
    fix: str  # which pair would match

    @property
    def matches(self) -> bool:
        return self.expects == self.runs

    def message(self, profile: str) -> str:
        return f"{profile}: {self.sdk} is built for Claude Code {self.expects}, but {profile} runs {self.runs}"


def coupling(paths: Paths, profile: Profile, cli_version: str | None) -> Coupling | None:
    """How the pinned Agent SDK and the pinned CLI fit; None when there is nothing to compare."""
    pin = profile.sdk
    if pin is None or cli_version is None:
        return None
    is_ts = pin.ecosystem == "npm" and pin.name == AGENT_SDK_NPM
    is_py = pin.ecosystem == "pypi" and canonical_name(pin.name) == AGENT_SDK_PYPI
    if not (is_ts or is_py):
        return None  # the plain API SDKs are versioned on their own
    inst = installed_for(paths, profile)
    version = inst.version if inst else _offline_version(paths, profile)
    expects = inst.cli_version if inst else (ts_agent_cli(version) if is_ts and version else None)
    if version is None or expects is None:
        return None  # the Python SDK's bundled version is only known once it is installed
    name = pin.name
    fix = f'pin [claude-code] version = "{expects}"'
    other = ts_agent_for_cli(cli_version) if is_ts else None
    if other and other != version and _npm_release_exists(paths, other):
        fix += f', or [sdk] version = "{other}" (built for {cli_version})'
    return Coupling(f"{name} {version}", expects, cli_version, fix)


def _npm_release_exists(paths: Paths, version: str) -> bool:
    """Whether the cached registry data lists this Agent SDK release; without data, assume so."""
    from pinman.npm.registry import Registry

    try:
        return version in Registry(paths, offline=True).packument(AGENT_SDK_NPM).versions
    except PinmanError:
        return True


def _offline_version(paths: Paths, profile: Profile) -> str | None:
    assert profile.sdk is not None
    try:
        return resolve(paths, profile.sdk, offline=True).version
    except PinmanError:
        return None


def describe(paths: Paths, profile: Profile, cli_version: str | None) -> dict[str, Any] | None:
    """For `pinman show`: the pin, what it resolves to here, the install, the CLI it expects."""
    pin = profile.sdk
    if pin is None:
        return None
    if untrusted_project(paths, profile):
        return {"package": pin.package, "version": pin.version, "resolved": None, "installed": None,
                "expects_cli": None, "withheld": True, "warning": None}
    inst = installed_for(paths, profile)
    couple = coupling(paths, profile, cli_version)
    return {
        "package": pin.package,
        "version": pin.version,
        "resolved": inst.version if inst else _offline_version(paths, profile),
        "installed": str(inst.prefix) if inst else None,
        "expects_cli": couple.expects if couple else (inst.cli_version if inst else None),
        "withheld": False,
        "warning": couple.message(profile.name) + f"; {couple.fix}" if couple and not couple.matches else None,
    }
