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
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping
from pinman.names import CLAUDE_CODE

SETTING = "claudeCode.claudeProcessWrapper"
EXTENSION_PREFIX = "anthropic.claude-code-"


@dataclass(frozen=True)
class Editor:
    name: str
    extensions: str  # folder under HOME
    app: str | None  # the folder name of its user data (~/.config/APP/User/settings.json)
    extra_settings: tuple[str, ...] = ()  # more settings files under HOME (remote servers)


EDITORS = (
    Editor("VS Code", ".vscode/extensions", "Code"),
    Editor("VS Code Insiders", ".vscode-insiders/extensions", "Code - Insiders"),
    Editor("VS Code Server", ".vscode-server/extensions", None,
           (".vscode-server/data/Machine/settings.json", ".vscode-server/data/User/settings.json")),
    Editor("Cursor", ".cursor/extensions", "Cursor"),
    Editor("Windsurf", ".windsurf/extensions", "Windsurf"),
    Editor("VSCodium", ".vscode-oss/extensions", "VSCodium"),
)


@dataclass(frozen=True)
class BundledCli:
    """One editor's Claude Code extension and what it runs."""

    editor: str
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
        out.append(BundledCli(editor.name, folder, _version_of(folder / "package.json"), bundled_version(folder),
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
    package.json in the known places, else within a few levels, else None."""
    known = [folder / rel / "package.json" for rel in _KNOWN_PLACES]
    for manifest in [*known, *_package_jsons(folder, depth=5)]:
        doc = _read_jsonc(manifest)
        if isinstance(doc, dict) and doc.get("name") == CLAUDE_CODE and isinstance(doc.get("version"), str):
            return doc["version"]
    return None


def settings_files(editor: Editor, home: Path, environ: Mapping[str, str]) -> list[Path]:
    """Where this editor keeps its user settings (Linux, then macOS), then any extra ones."""
    out: list[Path] = []
    if editor.app:
        config = Path(environ.get("XDG_CONFIG_HOME") or home / ".config")
        out.append(config / editor.app / "User" / "settings.json")
        out.append(home / "Library" / "Application Support" / editor.app / "User" / "settings.json")
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
        doc = loads_jsonc(text)
    except ValueError as e:
        return None, f"{path}: not valid JSON: {e}"
    value = doc.get(SETTING) if isinstance(doc, dict) else None
    return (value if isinstance(value, str) else None), None


def setting_line(shim: Path) -> str:
    """The exact line to add to an editor's settings.json."""
    return f"{json.dumps(SETTING)}: {json.dumps(str(shim))}"


# -- JSON with comments (VS Code's settings format) -------------------------------------------------
_CLOSES = re.compile(r"\s*[}\]]")


def loads_jsonc(text: str) -> Any:
    """JSON that may carry // and /* */ comments and trailing commas; ValueError otherwise."""
    return json.loads(_drop_trailing_commas(strip_comments(text)))


def _drop_trailing_commas(text: str) -> str:
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == '"':
            j = _string_end(text, i)
            out.append(text[i:j])
            i = j
            continue
        if c == "," and _CLOSES.match(text, i + 1):
            out.append(" ")
            i += 1
            continue
        out.append(c)
        i += 1
    return "".join(out)


def _string_end(text: str, start: int) -> int:
    """The index just after the string literal that opens at `start`."""
    j = start + 1
    while j < len(text) and text[j] != '"':
        j += 2 if text[j] == "\\" else 1
    return j + 1


def strip_comments(text: str) -> str:
    """Comments become spaces (line numbers in errors stay right); strings are left alone."""
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == '"':
            j = _string_end(text, i)
            out.append(text[i:j])
            i = j
        elif text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j == -1 else j
            out.append(" " * (j - i))
            i = j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j == -1 else j + 2
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        else:
            out.append(c)
            i += 1
    return "".join(out)


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
        return loads_jsonc(path.read_text(encoding="utf-8-sig"))
    except (OSError, ValueError, RecursionError):
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
