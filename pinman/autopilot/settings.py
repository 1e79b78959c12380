"""pinman's hooks for Claude Code: its own settings files, and none in the user's.

A Claude Code version that meets a hook event it does not know in a settings file ignores that
whole file (measured: 1.0.100 and `StopFailure`), so an entry of pinman's in the user's settings
would silently switch off the user's env, permissions and hooks in a version pinman rolled back
to. pinman therefore writes its hooks into two files of its own (`HookFiles.settings_all`,
`settings_session`) and the `claude` shim passes the one a version knows with `--settings`
(`pinman.runtime.client_hooks.hook_settings`); Claude Code merges it with the user's settings.
A run that brings its own `--settings` gets the same hooks as a plugin folder (`--plugin-dir`)
instead, so the caller's file is the only `--settings` the client sees.

The user's settings file is only read, to find entries an earlier pinman wrote there: `install`
and `uninstall` remove exactly those (the hook commands that contain `files.MARKER`), keeping
every other key and hook as it was (order included); a file that is not a JSON object is never
touched (one-line error), and writes are atomic (through a symlink to its target, as editors do).
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pinman.runtime.sh import sh_quote
from pinman.runtime.shim import ensure_shim, shim_text
from pinman.autopilot.files import MARKER, HookFiles
from pinman.errors import PinmanError
from pinman.state.fsutil import atomic_write
from pinman.state.interpreter import stamp as stamp_interpreter
from pinman.autopilot.notices import carry_old
from pinman.autopilot.scripts import scripts_current, write_scripts
from pinman.record import record

EVENTS = ("StopFailure", "SessionStart", "SessionEnd")  # all known from 2.1.78 (SessionEnd from 1.0.85)
PLUGIN = {"name": "pinman", "version": "1.0.0",
          "description": "pinman's hooks, for a claude run that brings its own --settings"}


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
            "SessionStart": sh_quote(str(files.session_start)),
            "SessionEnd": sh_quote(str(files.session_end))}


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


def hooks_doc(files: HookFiles, events: tuple[str, ...]) -> dict[str, Any]:
    """One of pinman's settings files: only `hooks`, one entry per event."""
    cmds = commands(files)
    return {"hooks": {e: [{"hooks": [{"type": "command", "command": cmds[e]}]}] for e in events}}


def expected_files(files: HookFiles) -> dict[Path, str]:
    """pinman's settings files (and the plugin's) -> the text each must have."""
    docs = {files.settings_all: hooks_doc(files, EVENTS), files.settings_session: hooks_doc(files, ("SessionStart",)),
            files.plugin_manifest: PLUGIN, files.plugin_hooks: hooks_doc(files, EVENTS)}
    return {p: json.dumps(d, indent=2) + "\n" for p, d in docs.items()}


def write_files(files: HookFiles) -> bool:
    """Write what is missing or differs of pinman's settings and plugin files; True if anything did."""
    changed = False
    for target, text in expected_files(files).items():
        if _read(target) != text:
            files.private(target.parent)
            atomic_write(target, text, mode=0o600)
            changed = True
    return changed


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
    """Write pinman's hook scripts and settings files, and remove pinman entries an earlier pinman
    wrote into the settings file at `path`; True when anything changed."""

    doc = _load(path) if path.exists() else {}  # before writing anything: a bad file stops here
    changed = not scripts_current(files) or not _shim_current(files)
    for folder in (*files.paths.owned(), files.folder, files.paths.locks):
        if folder.is_dir():
            files.private(folder)  # folders an earlier pinman made under the umask
    write_scripts(files)
    ensure_shim(files.paths)  # a shim from before this pinman would not pass the hooks
    changed = write_files(files) or changed
    carry_old(files)
    stamp_interpreter(files.paths)
    after, removed = _without_ours(doc)
    if removed:
        _write(path, doc, after)
    return changed or bool(removed)


def uninstall(path: Path, files: HookFiles) -> int:
    """Remove pinman's settings files (the shim stops passing them) and any pinman entry in the
    settings file at `path`; returns how many went. A missing file stays missing."""
    removed = 0
    for target in expected_files(files):
        if target.exists():
            target.unlink()
            removed += 1
    for folder in (files.plugin_hooks.parent, files.plugin_manifest.parent, files.plugin):
        with contextlib.suppress(OSError):
            folder.rmdir()
    if path.exists():
        doc = _load(path)
        after, entries = _without_ours(doc)
        if entries:
            _write(path, doc, after)
        removed += entries
    return removed


def _shim_current(files: HookFiles) -> bool:
    return _read(files.paths.shim) == shim_text(files.paths)


def _read(path: Path) -> str | None:
    try:
        return path.read_text()
    except (OSError, UnicodeDecodeError):
        return None


@record
class HookStatus:
    path: Path
    state: str  # installed | partial | stale | absent | unreadable
    detail: str

    def to_json(self) -> dict[str, str]:
        return {"settings": str(self.path), "state": self.state, "detail": self.detail}


def status(files: HookFiles) -> HookStatus:
    """Whether pinman's own hook files are in place (what the shim passes to the client)."""

    want = expected_files(files)
    present = [p for p in want if p.exists()]
    if not present:
        return HookStatus(files.settings_all, "absent", "pinman's hooks are not installed")
    if len(present) < len(want) or any(_read(p) != t for p, t in want.items()):
        return HookStatus(files.settings_all, "stale", "pinman's hook settings are incomplete or from another pinman")
    if not scripts_current(files):
        return HookStatus(files.settings_all, "stale",
                          f"the hook scripts in {files.scripts} are missing or out of date{_names_gone(files)}")
    if not _shim_current(files):
        return HookStatus(files.settings_all, "stale", f"the claude shim {files.paths.shim} is missing or out of "
                          "date: it does not pass pinman's hooks")
    return HookStatus(files.settings_all, "installed",
                      f"{', '.join(EVENTS)} installed: the claude shim passes them to the versions that know them")


def _names_gone(files: HookFiles) -> str:
    """`: they name the Python …, which is gone` when a hook script names a missing interpreter."""
    from pinman.state.interpreter import named_python

    python = named_python(files.stop_failure)
    return f": they name the Python {python}, which is gone" if python and not os.access(python, os.X_OK) else ""


def leftovers(path: Path) -> HookStatus | None:
    """pinman entries an earlier pinman wrote into a Claude Code settings file, if any."""
    try:
        doc = _load(path)
    except PinmanError as e:
        return HookStatus(path, "unreadable", e.message) if path.exists() else None
    found = [c for cmds in _commands_in(doc).values() for c in cmds if MARKER in c]
    if not found:
        return None
    return HookStatus(path, "stale", "pinman hook entries there make Claude Code 1.x ignore the whole file: "
                      "`pinman hooks install` (or `uninstall`) removes them")


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
