"""Are the installs a profile runs still what was installed? (`verify`, `doctor`, `sync`)

Each install is compared file by file with the manifest written when it was published
(`pinman.install.manifest`). Offline and read-only: tags and ranges resolve from the registry
cache, a profile that resolves to nothing installed is reported as such, and nothing is
repaired here; each result names the command that does. The shim never comes here: it trusts
the store, and this is where a user asks whether that trust still holds.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pinman.errors import PinmanError
from pinman.install.manifest import FileCheck
from pinman.paths import Paths
from pinman.names import CLAUDE_CODE
from pinman.install.store import check_files
from pinman.install.sdk import SdkStore
from pinman.install.store import Store
from pinman.profile.discovery import find_profile, list_profiles
from pinman.runtime import sdk_env
from pinman.record import record


@record
class Verified:
    label: str  # "Claude Code 1.0.100", "anthropic==0.40.0"
    prefix: Path | None  # None: not installed
    check: FileCheck | None  # None: not installed, nothing to compare
    repair: str
    profiles: tuple[str, ...] = ()

    @property
    def tampered(self) -> bool:
        return self.check is not None and self.check.state == "changed"

    def line(self) -> str:
        who = f" ({', '.join(self.profiles)})" if self.profiles else ""
        said = "not installed" if self.check is None else self.check.summary()
        return f"{self.label}{who}: {said}"

    def to_json(self) -> dict[str, Any]:
        c = self.check
        return {"install": self.label, "prefix": str(self.prefix) if self.prefix else None,
                "profiles": list(self.profiles), "state": c.state if c else "not-installed",
                "problems": list(c.problems) if c else [], "repair": None if c and c.ok else self.repair}


def claude_code_repair(version: str) -> str:
    return f"pinman install --force {version}"


def for_profiles(paths: Paths, cwd: Path, names: Iterable[str], *, skip_broken: bool = False) -> list[Verified]:
    """The Claude Code and SDK installs of each named profile (each install once).
    `skip_broken`: leave out a profile that does not load or resolve offline, instead of failing."""

    found: dict[str, Verified] = {}
    for name in names:
        try:
            items = _profile_installs(paths, find_profile(name, cwd, paths))
        except PinmanError:
            if skip_broken:
                continue
            raise
        for item in items:
            key = str(item.prefix) if item.prefix else f"{item.label}:{name}"
            seen = found.get(key)
            found[key] = item if seen is None else _with_profile(seen, name)
    return list(found.values())


def for_visible(paths: Paths, cwd: Path) -> list[Verified]:
    """Every profile visible here whose installs are in the store (doctor's view)."""

    names = [p.name for p, shadowed in list_profiles(cwd, paths) if not shadowed]
    return [v for v in for_profiles(paths, cwd, names, skip_broken=True) if v.check is not None]


def for_store(paths: Paths, cwd: Path) -> list[Verified]:
    """Every install in the store: those of profiles visible here named with their profiles."""

    out = for_visible(paths, cwd)
    done = {v.prefix for v in out}
    for inst in Store(paths).list():
        if inst.prefix not in done:
            cli = inst.package == CLAUDE_CODE
            label = f"Claude Code {inst.version}" if cli else f"{inst.package}@{inst.version}"
            repair = claude_code_repair(inst.version) if cli else _sdk_repair(inst.prefix)
            out.append(Verified(label, inst.prefix, check_files(inst.prefix), repair))
    for sdk in SdkStore(paths).list():
        if sdk.prefix not in done:
            out.append(Verified(sdk.label, sdk.prefix, check_files(sdk.prefix), _sdk_repair(sdk.prefix)))
    return out


def _profile_installs(paths: Paths, profile: Any) -> list[Verified]:
    from pinman.npm.registry import Registry
    from pinman.runtime.resolution import installed, target

    out: list[Verified] = []
    try:
        version = target(paths, profile, registry=Registry(paths, offline=True)).version
    except PinmanError as e:
        raise PinmanError(f"{profile.name}: {e.message}", e.hint) from None
    inst = installed(paths, version)
    label = f"Claude Code {version}"
    if inst is None:
        out.append(Verified(label, None, None, f"pinman install {profile.name}", (profile.name,)))
    else:
        out.append(Verified(label, inst.prefix, check_files(inst.prefix), claude_code_repair(version),
                            (profile.name,)))
    pinned = sdk_env.installed_for(paths, profile)
    if pinned is not None:
        out.append(Verified(pinned.label, pinned.prefix, check_files(pinned.prefix),
                            f"pinman install --force {profile.name}", (profile.name,)))
    return out


def _with_profile(v: Verified, name: str) -> Verified:
    return Verified(v.label, v.prefix, v.check, v.repair, (*v.profiles, name))


def _sdk_repair(prefix: Path) -> str:
    return f"rm -rf {prefix} (pinman installs it again when a profile needs it)"
