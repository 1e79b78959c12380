"""Claude Code 2.x's native binary: which platform package fits this machine, and placing its
binary over the `bin/claude.exe` placeholder (what npm's skipped postinstall would have done).

Platform keys are the suffixes of `@anthropic-ai/claude-code-<key>` ("linux-x64", "darwin-arm64").
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from pinman.errors import InstallError
from pinman.faults import point
from pinman.install.npmfiles import locked_integrity, read_json
from pinman.names import CLAUDE_CODE

NATIVE_PREFIX = CLAUDE_CODE + "-"  # @anthropic-ai/claude-code-linux-x64


def native_keys(optional_dependencies: Mapping[str, str]) -> list[str]:
    """Platform keys a Claude Code version ships native packages for (none for 1.x)."""
    return [name[len(NATIVE_PREFIX):] for name in optional_dependencies if name.startswith(NATIVE_PREFIX)]


def this_platform(available: Iterable[str]) -> str | None:
    have = set(available)
    return next((k for k in native_platform_keys() if k in have), None)


def is_native_layout(prefix: Path) -> bool:
    manifest = read_json(prefix / "node_modules" / CLAUDE_CODE / "package.json") or {}
    bins = manifest.get("bin")
    return isinstance(bins, dict) and str(bins.get("claude", "")).endswith("claude.exe")


def native_platform_keys() -> list[str]:
    """Platform package suffixes for this machine, best first (as install.cjs picks them)."""
    machine = platform.machine().lower()
    cpu = {"x86_64": "x64", "amd64": "x64", "aarch64": "arm64"}.get(machine, machine)
    if sys.platform.startswith("linux"):
        return [f"linux-{cpu}-musl" if _is_musl() else f"linux-{cpu}"]
    if sys.platform == "darwin":
        # An x64 Python under Rosetta: the arm64 binary is the one that runs well.
        return ["darwin-arm64", "darwin-x64"] if cpu == "x64" and _rosetta() else [f"darwin-{cpu}"]
    if sys.platform == "win32":
        return [f"win32-{cpu}"]
    return []


def _is_musl() -> bool:
    if platform.libc_ver()[0] == "glibc":
        return False
    try:
        return not os.confstr("CS_GNU_LIBC_VERSION")
    except (ValueError, OSError):
        return True


def _rosetta() -> bool:
    try:
        done = subprocess.run(
            ["sysctl", "-n", "sysctl.proc_translated"], capture_output=True, text=True
        )
    except OSError:
        return False
    return done.stdout.strip() == "1"


def place_native_binary(prefix: Path, version: str) -> dict[str, Any]:
    """Put the platform package's binary at `bin/claude.exe`: hard link, else copy; one rename."""
    wrapper = prefix / "node_modules" / CLAUDE_CODE
    for key in native_platform_keys():
        name = f"{CLAUDE_CODE}-{key}"
        manifest = read_json(prefix / "node_modules" / name / "package.json")
        if manifest is not None and manifest.get("version") == version:
            break
    else:
        raise InstallError(
            f"{CLAUDE_CODE}@{version} has no native binary for "
            f"{'/'.join(native_platform_keys()) or sys.platform}",
            hint="npm did not install the platform package: the platform is not supported, "
            "or npm config omits optional dependencies",
        )
    src = prefix / "node_modules" / name / ("claude.exe" if sys.platform == "win32" else "claude")
    dest = wrapper / "bin" / "claude.exe"
    if not (dest.exists() and os.path.samefile(src, dest)):  # already placed if a postinstall ran
        tmp = dest.with_name(f".claude.exe.{os.getpid()}.tmp")
        try:
            os.link(src, tmp)  # no second copy of ~380 MB
        except OSError:
            shutil.copy2(src, tmp)
        os.chmod(tmp, 0o755)
        point("store.native_before_replace", version)
        os.replace(tmp, dest)
    return {"package": name, "integrity": locked_integrity(prefix, name)}
