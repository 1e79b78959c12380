"""What npm leaves in a prefix, read leniently: package.json, the integrity its package-lock
records, the package's executable; and comparing npm's SRI integrity strings.

A package's own JSON is its author's: any shape reads as "nothing there", never as an exception.
The package-lock hash is read here only, for the store and the team checks alike.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pinman.names import CLAUDE_CODE


def read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):  # a package's own JSON is its author's: any shape
        return None
    return data if isinstance(data, dict) else None


def locked_integrity(prefix: Path, package: str) -> str | None:
    # package-lock.json unless the user's npm config disables it; the hidden lock is always written.
    for lock in (prefix / "package-lock.json", prefix / "node_modules" / ".package-lock.json"):
        packages = (read_json(lock) or {}).get("packages")
        entry = packages.get(f"node_modules/{package}") if isinstance(packages, dict) else None
        if isinstance(entry, dict) and isinstance(entry.get("integrity"), str):
            return str(entry["integrity"])
    return None


def bin_entry(package: str, manifest: dict[str, Any]) -> str | None:
    """The package's executable, relative to its folder, if it stays inside it."""
    bins = manifest.get("bin")
    name = package.rsplit("/", 1)[-1]
    rel: Any = None
    if isinstance(bins, str):
        rel = bins
    elif isinstance(bins, dict) and bins:
        key = "claude" if package == CLAUDE_CODE else name
        rel = bins.get(key) or (next(iter(bins.values())) if len(bins) == 1 else None)
    if not isinstance(rel, str):
        return None
    parts = [p for p in rel.replace("\\", "/").split("/") if p not in ("", ".")]
    return "/".join(parts) if parts and ".." not in parts else None


def integrity_matches(expected: str, actual: str | None) -> bool:
    """SRI strings match when they share a hash of the strongest algorithm `expected` names."""
    if not actual:
        return False

    def hashes(sri: str) -> dict[str, set[str]]:
        out: dict[str, set[str]] = {}
        for token in sri.split():
            alg, _, digest = token.split("?", 1)[0].partition("-")
            out.setdefault(alg, set()).add(digest)
        return out

    want, have = hashes(expected), hashes(actual)
    for alg in ("sha512", "sha384", "sha256", "sha1"):
        if alg in want:
            return bool(want[alg] & have.get(alg, set()))
    return False
