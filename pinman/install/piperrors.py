"""pip's answers in one line: a failed pip run becomes an InstallError naming the nearest released
versions for an unknown one, else pip's last error lines, with where the full output is.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from pinman.errors import InstallError


def pip_error(output: str, name: str, version: str, *, log: Path | None = None, only_binary: bool = False,
              what: str | None = None) -> InstallError:
    """One line for a failed pip run: nearest versions for an unknown one, else pip's last lines."""
    where = f"full pip output: {log}" if log else ""
    available = _available_versions(output)
    if available is not None and "No matching distribution found" in output:
        if not available:
            hint = "no version at all: check the name, the network, and the index in your pip config"
            if only_binary:
                hint = "only wheels were allowed, and none matches; " + hint
            return InstallError(f"{name} {version}: no matching distribution on the package index",
                                hint="; ".join(h for h in (hint, where) if h))
        near = nearest_pypi(version, available)
        hint = f"see all: pip index versions {name}"
        if only_binary:
            hint = "only wheels were allowed; " + hint
        return InstallError(f"{name} {version} does not exist on the package index (nearest: {', '.join(near)})",
                            hint="; ".join(h for h in (hint, where) if h))
    tail = _last_lines(output)
    if "no such option: --python" in output:
        where = "pinman needs pip >= 22.3 in the Python it runs on (python -m pip install -U pip); " + where
    return InstallError(f"{what or 'pip'} failed: {tail}", hint=where.strip("; ") or None)


def _available_versions(output: str) -> list[str] | None:
    m = re.search(r"\(from versions: ([^)]*)\)", output)
    if m is None:
        return None
    listed = m.group(1).strip()
    return [] if listed in ("", "none") else [v.strip() for v in listed.split(",") if v.strip()]


def _last_lines(output: str, n: int = 3) -> str:
    noise = re.compile(r"^(WARNING: Location .* is ignored|\[notice\]|\s*$)")
    lines = [ln.strip() for ln in output.splitlines() if not noise.match(ln)]
    errors = [ln for ln in lines if ln.startswith("ERROR:")]
    picked = errors[-n:] if errors else lines[-n:]
    return " | ".join(picked) or "no output"


def nearest_pypi(version: str, candidates: list[str], n: int = 3) -> list[str]:
    """The `n` released versions closest to `version` (by release numbers), newest first."""
    from packaging.version import InvalidVersion, Version

    parsed = []
    for c in candidates:
        try:
            parsed.append(Version(c))
        except InvalidVersion:
            continue
    try:
        want = Version(version).release
    except InvalidVersion:
        import difflib

        return difflib.get_close_matches(version, candidates, n=n, cutoff=0.5)

    def distance(v: Any) -> tuple[int, ...]:
        rel = v.release + (0,) * (len(want) - len(v.release))
        return tuple(abs(a - b) for a, b in zip(rel, want))

    best = sorted(sorted(parsed, reverse=True), key=distance)[:n]
    return [str(v) for v in sorted(best, reverse=True)]
