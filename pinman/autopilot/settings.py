"""pinman's entries in a Claude Code settings file: install, uninstall, status.

The file belongs to the user: every other key and every other hook is kept as it was (order
included), a file that is not a JSON object is never touched (one-line error), and writes are
atomic (through a symlinked settings file to its target, as editors do). pinman's entries are the
hook commands that contain `files.MARKER`, so `uninstall` removes exactly those.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pinman.runtime.sh import sh_quote
from pinman.autopilot.files import MARKER, HookFiles
from pinman.errors import PinmanError
from pinman.state.fsutil import atomic_write

EVENTS = ("StopFailure", "SessionStart")


def user_settings(environ: Mapping[str, str] | None = None) -> Path:
    """`$CLAUDE_CONFIG_DIR/settings.json`, else `~/.claude/settings.json` (as Claude Code)."""
    env = os.environ if environ is None else environ
    if env.get("CLAUDE_CONFIG_DIR"):
        return Path(env["CLAUDE_CONFIG_DIR"]).expanduser() / "settings.json"
    return Path(env.get("HOME") or Path.home()) / ".claude" / "settings.json"


def project_settings(root: Path) -> Path:
    return root / ".claude" / "settings.json"


def commands(files: HookFiles) -> dict[str, str]:
    """event -> the command pinman installs for it (an absolute path, quoted for sh)."""
    return {"StopFailure": sh_quote(str(files.stop_failure)),
            "SessionStart": sh_quote(str(files.session_start))}


def _load(path: Path) -> dict[str, Any]:
    hint = f"fix or move {path}; pinman leaves it untouched"
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return {}
    except OSError as e:
        raise PinmanError(f"{path}: cannot read: {e.strerror or e}", hint=hint) from None
    if not raw.strip():
        return {}
    try:
        doc = json.loads(raw)
    except json.JSONDecodeError as e:
        raise PinmanError(f"{path}:{e.lineno}: not valid JSON: {e.msg}", hint=hint) from None
    except (ValueError, RecursionError):
        raise PinmanError(f"{path}: not valid JSON", hint=hint) from None
    if not isinstance(doc, dict):
        raise PinmanError(f"{path}: not a JSON object", hint=hint)
    if "hooks" in doc and not isinstance(doc["hooks"], dict):
        raise PinmanError(f"{path}: `hooks` is not an object", hint=hint)
    return doc


def _is_ours(hook: Any) -> bool:
    return isinstance(hook, dict) and MARKER in str(hook.get("command", ""))


def _without_ours(doc: dict[str, Any]) -> tuple[dict[str, Any], int]:
    """The document without pinman's hook entries; empty groups/events pinman emptied go too."""
    hooks = doc.get("hooks")
    if not isinstance(hooks, dict):
        return doc, 0
    removed = 0
    new_hooks: dict[str, Any] = {}
    for event, groups in hooks.items():
        if not isinstance(groups, list):
            new_hooks[event] = groups
            continue
        kept_groups = []
        for group in groups:
            inner = group.get("hooks") if isinstance(group, dict) else None
            if not isinstance(inner, list) or not any(_is_ours(h) for h in inner):
                kept_groups.append(group)
                continue
            rest = [h for h in inner if not _is_ours(h)]
            removed += len(inner) - len(rest)
            if rest:
                kept_groups.append({**group, "hooks": rest})
        if kept_groups or not groups:
            new_hooks[event] = kept_groups
    out = dict(doc)
    if new_hooks or not hooks:
        out["hooks"] = new_hooks
    else:
        out.pop("hooks")
    return out, removed


def _with_ours(doc: dict[str, Any], files: HookFiles) -> dict[str, Any]:
    out, _ = _without_ours(doc)
    hooks = dict(out.get("hooks") or {})
    for event, command in commands(files).items():
        groups = list(hooks.get(event) or []) if isinstance(hooks.get(event), list) else []
        groups.append({"hooks": [{"type": "command", "command": command}]})
        hooks[event] = groups
    out["hooks"] = hooks
    return out


def _write(path: Path, before: dict[str, Any], after: dict[str, Any]) -> bool:
    if after == before and path.exists():
        return False
    target = path.resolve() if path.is_symlink() else path
    try:
        mode = target.stat().st_mode & 0o777
    except OSError:
        mode = 0o600
    atomic_write(target, json.dumps(after, indent=2, ensure_ascii=False) + "\n", mode=mode)
    return True


def install(path: Path, files: HookFiles) -> bool:
    """Add pinman's hooks (replacing older pinman entries); True when the file changed."""
    from pinman.autopilot.scripts import write_scripts

    doc = _load(path)
    write_scripts(files)
    return _write(path, doc, _with_ours(doc, files))


def uninstall(path: Path) -> int:
    """Remove pinman's entries; returns how many went. A missing file stays missing."""
    if not path.exists():
        return 0
    doc = _load(path)
    after, removed = _without_ours(doc)
    if removed:
        _write(path, doc, after)
    return removed


@dataclass(frozen=True)
class HookStatus:
    path: Path
    state: str  # installed | partial | stale | absent | unreadable
    detail: str

    def to_json(self) -> dict[str, str]:
        return {"settings": str(self.path), "state": self.state, "detail": self.detail}


def status(path: Path, files: HookFiles) -> HookStatus:
    from pinman.autopilot.scripts import scripts_current

    try:
        doc = _load(path)
    except PinmanError as e:
        return HookStatus(path, "unreadable", e.message)
    found = _commands_in(doc)
    want = commands(files)
    ours = {event: [c for c in cmds if MARKER in c] for event, cmds in found.items()}
    present = [e for e in EVENTS if want[e] in ours.get(e, [])]
    if not any(ours.values()):
        return HookStatus(path, "absent", "pinman's hooks are not installed")
    if len(present) < len(EVENTS) or any(c not in want.values() for cs in ours.values() for c in cs):
        return HookStatus(path, "stale", "pinman's hooks there are incomplete or from another pinman folder")
    if not scripts_current(files):
        return HookStatus(path, "stale", f"the hook scripts in {files.scripts} are missing or out of date")
    return HookStatus(path, "installed", f"{', '.join(EVENTS)} installed")


def _commands_in(doc: dict[str, Any]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    hooks = doc.get("hooks")
    for event, groups in (hooks.items() if isinstance(hooks, dict) else []):
        for group in groups if isinstance(groups, list) else []:
            inner = group.get("hooks") if isinstance(group, dict) else None
            for h in inner if isinstance(inner, list) else []:
                if isinstance(h, dict) and isinstance(h.get("command"), str):
                    out.setdefault(event, []).append(h["command"])
    return out
