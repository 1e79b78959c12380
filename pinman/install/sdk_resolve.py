"""Which exact SDK version a pin means: PyPI specs resolved the way pip resolves them (the user's
pip configuration applies), npm ones through the registry client; exact pins need no network.

The last answer per PyPI spec is cached, so env and offline runs land where the last install did.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pinman.errors import InstallError
from pinman.install.piperrors import pip_error
from pinman.install.sdk import canonical_name, exact_pypi, pip_env
from pinman.paths import Paths
from pinman.state.fsutil import atomic_write
from pinman.install.npmfiles import read_json
from pinman.npm.semver import clean
from pinman.npm.spec import is_exact
from pinman.record import record

if TYPE_CHECKING:
    from pinman.npm.registry import Registry
    from pinman.profile.model import SdkPin

PYPI_CACHE_SCHEMA = 1


@record
class SdkTarget:
    pin: SdkPin
    version: str
    why: str
    integrity: str | None = None
    stale: bool = False  # answered from a cache because the index was not asked


def resolve(paths: Paths, pin: SdkPin, *, offline: bool = False, only_binary: bool = False,
            python: str | None = None, env: Mapping[str, str] | None = None,
            registry: Registry | None = None) -> SdkTarget:
    """The exact SDK version a pin means. Exact pins need no network; offline uses caches.

    `python` and `env` are the interpreter and extra environment pip runs with (SdkStore's).
    """
    if pin.ecosystem == "npm":
        return _resolve_npm(paths, pin, offline, registry)
    exact = exact_pypi(pin.version)
    if exact is not None:
        return SdkTarget(pin, exact, f"pinned {pin.version}")
    cache = _PypiCache(paths, canonical_name(pin.name))
    if offline:
        cached = cache.get(pin.version, only_binary)
        if cached is None:
            raise InstallError(f"{pin.name} {pin.version}: offline, and never resolved on this machine",
                               hint="run `pinman install PROFILE` once with network access")
        return SdkTarget(pin, cached, f"{pin.version} -> {cached} (cached)", stale=True)
    version = _pip_resolve(pin, only_binary, python or sys.executable, env or {})
    cache.put(pin.version, only_binary, version)
    return SdkTarget(pin, version, f"{pin.version} -> {version}")


def _resolve_npm(paths: Paths, pin: SdkPin, offline: bool, registry: Registry | None) -> SdkTarget:
    from pinman.npm.registry import Registry

    if offline and is_exact(pin.version):
        version = clean(pin.version) or pin.version
        return SdkTarget(pin, version, f"pinned {pin.version}")
    reg = registry or Registry(paths, offline=offline)
    res = reg.resolve(pin.name, pin.version)
    why = f"pinned {pin.version}" if is_exact(pin.version) else f"{pin.version} -> {res.version}"
    return SdkTarget(pin, res.version, why, res.integrity, res.stale)


def _pip_resolve(pin: SdkPin, only_binary: bool, python: str, env: Mapping[str, str]) -> str:
    """Ask pip which version it would install (its dry run honours the user's pip config)."""
    requirement = pin.name + pin.version  # a specifier: exact versions never get here
    cmd = [python, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--no-deps", "--quiet",
           "--report", "-", *(["--only-binary=:all:"] if only_binary else []), requirement]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=pip_env(env),
                              stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise InstallError(f"pip did not resolve {requirement} in 300 s",
                           hint="check the network and the index in your pip config") from None
    if done.returncode != 0:
        if "No module named pip" in done.stderr:
            raise InstallError(f"resolving {requirement} needs pip in pinman's Python ({python})",
                               hint="install pip there, or pin an exact version")
        raise pip_error(done.stdout + done.stderr, pin.name, pin.version, only_binary=only_binary,
                        what=f"resolving {requirement}")
    try:
        report = json.loads(done.stdout)
        return str(report["install"][0]["metadata"]["version"])
    except (ValueError, KeyError, IndexError, TypeError):
        raise InstallError(f"pip gave no version for {requirement}",
                           hint="pinman needs pip >= 22.2 (for --report)") from None


class _PypiCache:
    """Last resolution of each PyPI spec, so env and offline runs land where the last install did."""

    def __init__(self, paths: Paths, name: str) -> None:
        self.path = paths.cache / "pypi" / f"{name}.json"

    def _load(self) -> dict[str, Any]:

        doc = read_json(self.path) or {}
        specs = doc.get("specs") if doc.get("schema") == PYPI_CACHE_SCHEMA else None
        return specs if isinstance(specs, dict) else {}

    def get(self, spec: str, only_binary: bool) -> str | None:
        entry = self._load().get(f"{spec}|{'wheels' if only_binary else 'any'}")
        return entry.get("version") if isinstance(entry, dict) and isinstance(entry.get("version"), str) else None

    def put(self, spec: str, only_binary: bool, version: str) -> None:
        import time

        specs = self._load()
        specs[f"{spec}|{'wheels' if only_binary else 'any'}"] = {"version": version, "at": time.time()}
        try:
            atomic_write(self.path, json.dumps({"schema": PYPI_CACHE_SCHEMA, "specs": specs}, indent=1))
        except OSError:
            pass  # only costs the next offline run an answer
