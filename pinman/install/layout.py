"""The store's on-disk layout: one folder per (package, version), and the marker that makes a
folder an install.

`store/<slug>/<version>/` is an install only while `.pinman-install.json` in it is complete and
names that very folder; anything else is a leftover to remove, never to run. Versions are exact
semver and package names npm names: both become folder names and npm arguments.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from pinman.errors import InstallError
from pinman.install.npmfiles import read_json
from pinman.names import CLAUDE_CODE, is_exact_version, is_package_name
from pinman.record import record

MARKER = ".pinman-install.json"
SCHEMA = 1


@record
class Install:
    package: str
    version: str
    prefix: Path
    integrity: str | None  # sha512 SRI that npm recorded in its lock for the package
    installed_at: str  # ISO 8601, UTC
    bin: str | None = None  # executable, relative to package_dir (from the package's `bin`)

    @property
    def package_dir(self) -> Path:
        return self.prefix / "node_modules" / self.package

    @property
    def binary(self) -> Path:
        """The real executable: 2.x `bin/claude.exe` (native), 1.x `cli.js` (node script)."""
        if self.bin is None:
            raise InstallError(f"{self.package}@{self.version} has no executable")
        return self.package_dir / self.bin


def validate_package(package: str) -> None:
    if not is_package_name(package):
        raise InstallError(f"not an npm package name: {package!r}")


def validate_version(version: str) -> None:
    """Exact semver only: it becomes a folder name and an npm argument."""
    if not is_exact_version(version):
        raise InstallError(
            f"not an exact version: {version!r}", hint="use a version like 2.1.331"
        )


def slug(package: str) -> str:
    """Folder name for a package. Injective: `+` cannot occur in an npm name, `__` can."""
    validate_package(package)
    if package == CLAUDE_CODE:
        return "claude-code"
    if package.startswith("@"):
        scope, name = package[1:].split("/", 1)
        return f"{scope}+{name}"
    return "+claude-code" if package == "claude-code" else package


def semver_key(version: str) -> tuple[Any, ...]:
    """Sort key in semver order: a release sorts after its prereleases."""
    core, _, pre = version.partition("-")
    nums = tuple(int(p) if p.isdigit() else 0 for p in core.split("."))
    if not pre:
        return (nums, 1, ())
    ids = tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in pre.split("."))
    return (nums, 0, ids)


def read_install(
    prefix: Path, package: str | None = None, version: str | None = None
) -> Install | None:
    """The install at `prefix` if its marker is complete and names this very folder."""
    data = read_json(prefix / MARKER)
    if data is None or not isinstance(data.get("schema"), int) or data["schema"] < 1:
        return None
    pkg, ver = data.get("package"), data.get("version")
    if not isinstance(pkg, str) or not isinstance(ver, str):
        return None
    if (package is not None and pkg != package) or (version is not None and ver != version):
        return None
    try:
        if prefix.parent.name != slug(pkg) or prefix.name != ver:
            return None
        validate_version(ver)
    except InstallError:
        return None
    integrity, bin_path = data.get("integrity"), data.get("bin")
    return Install(
        package=pkg,
        version=ver,
        prefix=prefix,
        integrity=integrity if isinstance(integrity, str) else None,
        installed_at=str(data.get("installed_at", "")),
        bin=bin_path if isinstance(bin_path, str) else None,
    )


def find_install(store: Path, package: str, version: str) -> Install | None:
    """The complete install of `package` `version` in the store folder `store`, if there is one.
    What `Store.get` answers, without importing what building an install needs."""
    validate_version(version)
    return read_install(store / slug(package) / version, package, version)


def read_marker(prefix: Path) -> dict[str, Any]:
    """The marker of the install at `prefix` as written ({} when missing or unreadable)."""
    return read_json(prefix / MARKER) or {}


def tree_bytes(root: Path) -> int:
    """Bytes of the regular files under `root`, each inode counted once (what removing it frees
    when nothing else links to it); 0 for a folder that is gone."""
    import os
    import stat

    seen: set[tuple[int, int]] = set()
    total = 0
    for folder, _dirs, files in os.walk(root):
        for name in files:
            try:
                st = os.lstat(os.path.join(folder, name))
            except OSError:
                continue
            if stat.S_ISREG(st.st_mode) and (st.st_dev, st.st_ino) not in seen:
                seen.add((st.st_dev, st.st_ino))
                total += st.st_size
    return total
