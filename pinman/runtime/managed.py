"""Claude Code's managed settings on this machine, as far as the pin is concerned; and the fragment
an administrator deploys so that every machine agrees with a team's profile.

Read as Claude Code 2.1.331 reads them (measured, and read in its code): the file
`/etc/claude-code/managed-settings.json` (macOS: `/Library/Application Support/ClaudeCode/`), then
every `*.json` of the `managed-settings.d/` folder beside it (not those starting with a dot) in name
order, each merged over the ones before. Strict JSON: a file with a comment or a trailing comma is
ignored whole by Claude Code ("could not be parsed as a JSON object; none of its settings are in
effect"), so it is ignored here too and reported.

`requiredMinimumVersion` / `requiredMaximumVersion` (from 2.1.163; inclusive; an invalid version
is ignored) make a client outside the range refuse to start (`--version`, `update`, `install` and
`doctor` still run). A version before 2.1.163 does not know the keys and starts whatever they say:
measured, 1.0.100 runs under a floor of 2.1.400. `PINMAN_MANAGED_SETTINGS=FILE` reads FILE (and
the `managed-settings.d/` beside it) instead, for tests and for checking a file before deploying it.
"""

from __future__ import annotations

import json
import os
import re
import sys
from dataclasses import field
from pathlib import Path
from typing import Any, Mapping

from pinman.record import record

ENV = "PINMAN_MANAGED_SETTINGS"
RANGE_FROM = (2, 1, 163)  # first version that enforces requiredMinimum/MaximumVersion
WRAPPER_VAR = "CLAUDE_CODE_PROCESS_WRAPPER"
_SEMVER = re.compile(r"(\d+)\.(\d+)\.(\d+)(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?")
_LINUX = Path("/etc/claude-code/managed-settings.json")
_MACOS = Path("/Library/Application Support/ClaudeCode/managed-settings.json")


def managed_file(environ: Mapping[str, str] | None = None, platform: str | None = None) -> Path:
    env = os.environ if environ is None else environ
    if env.get(ENV):
        return Path(env[ENV]).expanduser()
    return _MACOS if (platform or sys.platform) == "darwin" else _LINUX


@record
class Managed:
    files: tuple[Path, ...] = ()  # the files that were read, in merge order
    settings: dict[str, Any] = field(default_factory=dict)
    problems: tuple[str, ...] = ()  # files Claude Code ignores too (unreadable, not a JSON object)

    @property
    def minimum(self) -> str | None:
        return _version_setting(self.settings.get("requiredMinimumVersion"))

    @property
    def maximum(self) -> str | None:
        return _version_setting(self.settings.get("requiredMaximumVersion"))

    @property
    def where(self) -> str:
        return ", ".join(str(f) for f in self.files) or "managed settings"

    def describe(self) -> str:
        """`2.1.300 … 2.1.331`, `≥ 2.1.300`, `≤ 2.1.331` or '' (no range)."""
        lo, hi = self.minimum, self.maximum
        if lo and hi:
            return f"{lo} … {hi}"
        return f"≥ {lo}" if lo else f"≤ {hi}" if hi else ""

    def refuses(self, version: str) -> str | None:
        """Why Claude Code `version` would refuse to start on this machine, or None."""
        v = version_key(version)
        if v is None or v < RANGE_FROM:
            return None  # it does not read the range (or is no version at all)
        lo, hi = self.minimum, self.maximum
        if lo and v < (version_key(lo) or ()):
            return f"Claude Code {version} is older than the minimum {lo} set in {self.where}"
        if hi and v > (version_key(hi) or ()):
            return f"Claude Code {version} is newer than the maximum {hi} set in {self.where}"
        return None

    @property
    def launcher(self) -> str | None:
        """A launcher the administrator set for Claude Code's self-spawns, if any."""
        env = self.settings.get("env")
        value = env.get(WRAPPER_VAR) if isinstance(env, dict) else None
        value = value or self.settings.get("processWrapper")
        return value if isinstance(value, str) and value.strip() else None


def read(environ: Mapping[str, str] | None = None, platform: str | None = None) -> Managed:
    """This machine's managed settings (files only: MDM and server-managed settings are not seen here)."""
    base = managed_file(environ, platform)
    merged: dict[str, Any] = {}
    files: list[Path] = []
    problems: list[str] = []
    for path in [base, *_drop_ins(base.parent / "managed-settings.d")]:
        doc, problem = _load(path)
        if problem:
            problems.append(problem)
        if doc is not None:
            files.append(path)
            _merge(merged, doc)
    return Managed(tuple(files), merged, tuple(problems))


def version_key(text: str) -> tuple[int, int, int] | None:
    m = _SEMVER.fullmatch(text.strip()) if isinstance(text, str) else None
    return (int(m.group(1)), int(m.group(2)), int(m.group(3))) if m else None


def fragment(minimum: str, maximum: str) -> tuple[dict[str, Any], list[str]]:
    """The managed-settings document that holds every machine to `minimum … maximum` with updates
    off, and one comment line per key (managed settings must be strict JSON: no comments inside)."""
    doc = {
        "requiredMinimumVersion": minimum,
        "requiredMaximumVersion": maximum,
        "env": {"DISABLE_AUTOUPDATER": "1", "DISABLE_UPDATES": "1"},
    }
    comments = [
        f"requiredMinimumVersion {minimum}: Claude Code older than this refuses to start (from 2.1.163; "
        "earlier versions do not read it) — the oldest version this team's rollback may use",
        f"requiredMaximumVersion {maximum}: Claude Code newer than this refuses to start — nothing "
        "past the team's pin runs, however it was installed",
        "env.DISABLE_AUTOUPDATER 1: no background auto-update moves a machine off the pin",
        "env.DISABLE_UPDATES 1: `claude update` and `claude install` are refused too (2.x): versions "
        "change only through the team's pin",
    ]
    return doc, comments


def _drop_ins(folder: Path) -> list[Path]:
    try:
        names = sorted(p.name for p in folder.iterdir())
    except OSError:
        return []
    return [folder / n for n in names if n.endswith(".json") and not n.startswith(".")
            and (folder / n).is_file()]


def _load(path: Path) -> tuple[dict[str, Any] | None, str | None]:
    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None, None
    except (OSError, UnicodeDecodeError) as e:
        return None, f"{path}: cannot read: {getattr(e, 'strerror', None) or e}"
    if not raw.strip():
        return {}, None
    try:
        doc = json.loads(raw)
    except json.JSONDecodeError as e:
        return None, (f"{path}:{e.lineno}: not strict JSON ({e.msg}): Claude Code ignores the whole file")
    except (ValueError, RecursionError):
        return None, f"{path}: not strict JSON: Claude Code ignores the whole file"
    if not isinstance(doc, dict):
        return None, f"{path}: not a JSON object: Claude Code ignores the whole file"
    return doc, None


def _merge(into: dict[str, Any], doc: dict[str, Any]) -> None:
    for key, value in doc.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = value


def _version_setting(value: Any) -> str | None:
    return value.strip() if isinstance(value, str) and version_key(value) else None
