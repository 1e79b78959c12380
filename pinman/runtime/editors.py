"""Claude Code inside VS Code-family editors: the CLI each extension bundles, and its route.

The Claude Code extension ships its own CLI, updated with the extension, so it runs whatever
version the extension brought unless the editor's `claudeCode.claudeProcessWrapper` setting names
another executable (pinman's shim). This module only reads: extension folders under HOME and the
editors' user settings (JSON with comments). Unknown layouts give "version unknown", never an error.
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path
from typing import Any, Mapping

from pinman.names import CLAUDE_CODE
from pinman.state import jsonc
from pinman.record import record

SETTING = "claudeCode.claudeProcessWrapper"
EXTENSION_PREFIX = "anthropic.claude-code-"


@record
class Editor:
    name: str
    key: str  # what `pinman ide install --editor KEY` takes
    extensions: str  # folder under HOME
    app: str | None  # the folder name of its user data (~/.config/APP/User/settings.json)
    extra_settings: tuple[str, ...] = ()  # more settings files under HOME (remote servers)


# The extension declares `claudeProcessWrapper` with "scope": "machine": VS Code reads it from the
# user settings of the machine the extension runs on, never from a workspace. A remote window (SSH,
# WSL, containers: VS Code Server) reads it only from the remote's Machine settings.
EDITORS = (
    Editor("VS Code", "code", ".vscode/extensions", "Code"),
    Editor("VS Code Insiders", "code-insiders", ".vscode-insiders/extensions", "Code - Insiders"),
    Editor("VS Code Server", "code-server", ".vscode-server/extensions", None,
           (".vscode-server/data/Machine/settings.json",)),
    Editor("Cursor", "cursor", ".cursor/extensions", "Cursor"),
    Editor("Windsurf", "windsurf", ".windsurf/extensions", "Windsurf"),
    Editor("VSCodium", "vscodium", ".vscode-oss/extensions", "VSCodium"),
)


@record
class BundledCli:
    """One editor's Claude Code extension and what it runs."""

    editor: str
    key: str
    folder: Path  # the extension's folder
    extension_version: str | None
    cli_version: str | None  # the bundled CLI's version, when its files say
    settings: Path  # the settings file to route it (the first that exists, else where it would be)
    wrapper: str | None  # the setting's value, when set
    routed: bool  # the wrapper is pinman's shim
    problem: str | None = None  # the settings file could not be read


def find(home: Path, shim: Path, environ: Mapping[str, str] | None = None) -> list[BundledCli]:
    """The newest Claude Code extension of every editor found under `home`."""
    env = os.environ if environ is None else environ
    out: list[BundledCli] = []
    for editor in EDITORS:
        folder = newest_extension(home / editor.extensions)
        if folder is None:
            continue
        settings = settings_files(editor, home, env)
        where = next((p for p in settings if p.is_file()), settings[0])
        wrapper, problem = read_setting(where)
        out.append(BundledCli(editor.name, editor.key, folder, _version_of(folder / "package.json"), bundled_version(folder),
                              where, wrapper, _is_shim(wrapper, shim), problem))
    return out


def newest_extension(extensions: Path) -> Path | None:
    """The newest `anthropic.claude-code-VERSION[-PLATFORM]` folder, skipping those the editor
    has marked obsolete (left on disk after an update until it cleans up)."""
    try:
        found = [p for p in extensions.iterdir() if p.name.startswith(EXTENSION_PREFIX) and p.is_dir()]
    except OSError:
        return None
    obsolete = _read_jsonc(extensions / ".obsolete")
    gone = set(obsolete) if isinstance(obsolete, dict) else set()
    live = [p for p in found if p.name not in gone] or found
    return max(live, key=lambda p: _version_key(p.name[len(EXTENSION_PREFIX):]), default=None)


def bundled_version(folder: Path) -> str | None:
    """The version of the CLI an extension bundles: the first `@anthropic-ai/claude-code`
    package.json in the known places, else within a few levels, else the extension's own version
    beside a native binary, else None."""
    known = [folder / rel / "package.json" for rel in _KNOWN_PLACES]
    for manifest in [*known, *_package_jsons(folder, depth=5)]:
        doc = _read_jsonc(manifest)
        if isinstance(doc, dict) and doc.get("name") == CLAUDE_CODE and isinstance(doc.get("version"), str):
            return doc["version"]
    if any((folder / "resources" / "native-binary" / exe).is_file() for exe in ("claude", "claude.exe")):
        # 2.x extensions ship `resources/native-binary/claude` and no CLI package.json: the binary is
        # built with the extension and reports its version (`claude --version`).
        return _version_of(folder / "package.json")
    return None


def settings_files(editor: Editor, home: Path, environ: Mapping[str, str],
                   platform: str | None = None) -> list[Path]:
    """Where this editor keeps its user settings, this platform's place first (Linux: XDG config;
    macOS: ~/Library/Application Support), then the other's, then any extra ones."""
    out: list[Path] = []
    if editor.app:
        config = Path(environ.get("XDG_CONFIG_HOME") or home / ".config")
        linux = config / editor.app / "User" / "settings.json"
        mac = home / "Library" / "Application Support" / editor.app / "User" / "settings.json"
        out += [mac, linux] if (platform or sys.platform) == "darwin" else [linux, mac]
    out += [home / rel for rel in editor.extra_settings]
    return out


def read_setting(path: Path) -> tuple[str | None, str | None]:
    """(`claudeCode.claudeProcessWrapper` or None, a problem reading the file or None)."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        return None, None
    except (OSError, UnicodeDecodeError) as e:
        return None, f"cannot read {path}: {getattr(e, 'strerror', None) or e}"
    try:
        doc = jsonc.loads(text)
    except jsonc.JsoncError as e:
        return None, f"{path}:{e.line}: not valid JSON with comments: {e.message}"
    value = doc.get(SETTING) if isinstance(doc, dict) else None
    return (value if isinstance(value, str) else None), None


def setting_line(shim: Path) -> str:
    """The exact line to add to an editor's settings.json."""
    return f"{json.dumps(SETTING)}: {json.dumps(str(shim))}"


def loads_jsonc(text: str) -> Any:
    """JSON that may carry // and /* */ comments and trailing commas; ValueError (JsoncError) otherwise."""
    return jsonc.loads(text)


# -- helpers -----------------------------------------------------------------------------------------
_KNOWN_PLACES = ("resources/claude-code", "node_modules/@anthropic-ai/claude-code",
                 "dist/node_modules/@anthropic-ai/claude-code")
_MAX_FOLDERS = 2000  # a guess at an unknown layout never walks a whole node_modules tree


def _package_jsons(folder: Path, depth: int) -> list[Path]:
    """package.json files under `folder`, shallowest first, at most `depth` levels down."""
    out: list[Path] = []
    level = [folder]
    seen = 0
    for _ in range(depth):
        seen += len(level)
        if seen > _MAX_FOLDERS:
            break
        nxt: list[Path] = []
        for d in level:
            try:
                children = sorted(d.iterdir())
            except OSError:
                continue
            for child in children:
                if child.is_symlink():
                    continue
                if child.is_dir():
                    nxt.append(child)
                elif child.name == "package.json" and d != folder:
                    out.append(child)
        level = nxt
    return out


def _version_of(manifest: Path) -> str | None:
    doc = _read_jsonc(manifest)
    value = doc.get("version") if isinstance(doc, dict) else None
    return value if isinstance(value, str) else None


def _read_jsonc(path: Path) -> Any:
    try:
        return jsonc.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, ValueError):
        return None


def _version_key(text: str) -> tuple[int, ...]:
    """`2.0.10-linux-x64` -> (2, 0, 10): numbers first, a platform suffix ignored."""
    m = re.match(r"(\d+(?:\.\d+)*)", text)
    return tuple(int(p) for p in m.group(1).split(".")) if m else ()


def _is_shim(value: str | None, shim: Path) -> bool:
    if not value:
        return False
    try:
        return Path(value).expanduser().resolve() == shim.resolve()
    except (OSError, RuntimeError):
        return False
