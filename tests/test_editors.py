"""IDE-bundled CLIs: `doctor` finds the Claude Code extension of VS Code-family editors, the CLI
version it bundles, and whether the editor's settings route it through pinman's shim."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from cli_support import claude, pinman

from pinman.health.doctor import check_editors
from pinman.paths import Paths
from pinman.runtime.editors import bundled_version, find, loads_jsonc, newest_extension, setting_line
from pinman.names import CLAUDE_CODE
from pinman.install.store import Store
from pinman.runtime.shim import ensure_shim


def extension(home: Path, where: str, version: str, *, layout: str = "js", cli: str | None = None) -> Path:
    """A Claude Code extension folder shaped like the real ones (or an unknown layout)."""
    folder = home / where / f"anthropic.claude-code-{version}"
    folder.mkdir(parents=True)
    (folder / "package.json").write_text(json.dumps({"name": "claude-code", "publisher": "Anthropic",
                                                     "version": version}))
    if layout == "js":  # resources/claude-code/{cli.js,package.json}
        bundled = folder / "resources" / "claude-code"
        bundled.mkdir(parents=True)
        (bundled / "cli.js").write_text("// cli\n")
        (bundled / "package.json").write_text(json.dumps({"name": CLAUDE_CODE, "version": cli or version}))
    elif layout == "node_modules":
        bundled = folder / "dist" / "node_modules" / "@anthropic-ai" / "claude-code"
        bundled.mkdir(parents=True)
        (bundled / "package.json").write_text(json.dumps({"name": CLAUDE_CODE, "version": cli or version}))
    elif layout == "native":  # 2.x: resources/native-binary/claude, built with the extension
        (folder / "resources" / "native-binary").mkdir(parents=True)
        (folder / "resources" / "native-binary" / "claude").write_bytes(b"\x7fELF")
    else:  # an unknown layout: nothing says which CLI it is
        (folder / "dist").mkdir(parents=True)
    return folder


def settings(home: Path, app: str, text: str) -> Path:
    path = home / ".config" / app / "User" / "settings.json"
    path.parent.mkdir(parents=True)
    path.write_text(text)
    return path


@pytest.fixture
def home(tmp_path: Path) -> Path:
    h = tmp_path / "home"
    h.mkdir()
    return h


ENV = {"PATH": "/usr/bin"}  # no XDG_CONFIG_HOME: ~/.config


def test_every_editor_family_is_found_with_the_cli_it_bundles(pinman_home: Paths, home: Path) -> None:
    extension(home, ".vscode/extensions", "2.0.14", cli="2.0.14")
    extension(home, ".vscode-insiders/extensions", "2.1.3", layout="node_modules")
    extension(home, ".vscode-server/extensions", "2.0.9")
    extension(home, ".cursor/extensions", "1.0.100-linux-x64", cli="1.0.100")
    extension(home, ".windsurf/extensions", "2.0.1", layout="native")
    extension(home, ".vscode-oss/extensions", "1.9.9", layout="unknown")
    extension(home, ".vscode-oss/extensions", "2.0.2")
    found = {b.editor: b for b in find(home, pinman_home.shim, ENV)}
    assert found["VSCodium"].extension_version == "2.0.2"  # the newest, not the unknown 1.9.9
    assert sorted(found) == sorted(["VS Code", "VS Code Insiders", "VS Code Server", "Cursor", "Windsurf",
                                    "VSCodium"])
    assert found["VS Code"].cli_version == "2.0.14"
    assert found["VS Code Insiders"].cli_version == "2.1.3"
    assert found["Cursor"].cli_version == "1.0.100"
    assert (found["Windsurf"].cli_version, found["Windsurf"].extension_version) == ("2.0.1", "2.0.1")
    assert found["VSCodium"].settings == home / ".config" / "VSCodium" / "User" / "settings.json"
    assert found["VS Code Server"].settings == home / ".vscode-server" / "data" / "Machine" / "settings.json"
    assert not any(b.routed for b in found.values())


def test_the_newest_live_extension_counts(home: Path) -> None:
    extension(home, ".vscode/extensions", "2.0.9")
    extension(home, ".vscode/extensions", "2.0.10")
    extension(home, ".vscode/extensions", "2.0.11")
    (home / ".vscode/extensions/.obsolete").write_text('{"anthropic.claude-code-2.0.11": true}')
    folder = newest_extension(home / ".vscode/extensions")
    assert folder is not None and folder.name == "anthropic.claude-code-2.0.10"  # numeric, not text order
    assert bundled_version(folder) == "2.0.10"


def test_doctor_prints_the_exact_setting_to_add(pinman_home: Paths, home: Path) -> None:
    extension(home, ".vscode/extensions", "2.0.14")
    path = settings(home, "Code", '{\n  // mine\n  "editor.fontSize": 13,\n}\n')
    (finding,) = check_editors(pinman_home, home, ENV)
    assert finding.level == "warn"
    assert "VS Code" in finding.message and "bundles Claude Code 2.0.14" in finding.message
    line = f'"claudeCode.claudeProcessWrapper": {json.dumps(str(pinman_home.shim))}'
    assert finding.fix == f"pinman ide install --editor code   (or add to {path}: {line})"
    # the line printed is the line that works: pasted in, the next doctor sees it routed
    path.write_text('{\n  // mine\n  "editor.fontSize": 13,\n  ' + setting_line(pinman_home.shim) + ",\n}\n")
    (finding,) = check_editors(pinman_home, home, ENV)
    assert "names pinman's shim, which is missing or out of date" in finding.message  # not written yet
    ensure_shim(pinman_home)
    (finding,) = check_editors(pinman_home, home, ENV)
    assert "runs the pin through pinman's shim, without pinman's hooks" in finding.message
    assert (finding.level, finding.fix) == ("warn", "pinman hooks install")


def test_another_wrapper_is_named(pinman_home: Paths, home: Path) -> None:
    extension(home, ".cursor/extensions", "2.0.14")
    settings(home, "Cursor", '{"claudeCode.claudeProcessWrapper": "/usr/local/bin/claude"}')
    (finding,) = check_editors(pinman_home, home, ENV)
    assert finding.level == "warn" and "runs /usr/local/bin/claude instead" in finding.message


def test_a_broken_settings_file_is_reported_not_fatal(pinman_home: Paths, home: Path) -> None:
    extension(home, ".vscode/extensions", "2.0.14")
    path = settings(home, "Code", '{"a": 1,,}')
    (finding,) = check_editors(pinman_home, home, ENV)
    assert finding.level == "warn" and f"{path}:1: not valid JSON with comments" in finding.message


def test_xdg_config_home_and_no_extension(pinman_home: Paths, home: Path, tmp_path: Path) -> None:
    assert [f.level for f in check_editors(pinman_home, home, ENV)] == ["ok"]
    extension(home, ".vscode/extensions", "2.0.14")
    cfg = tmp_path / "xdg"
    (cfg / "Code" / "User").mkdir(parents=True)
    (cfg / "Code" / "User" / "settings.json").write_text(json.dumps({"claudeCode.claudeProcessWrapper":
                                                                     str(pinman_home.shim)}))
    (b,) = find(home, pinman_home.shim, {"XDG_CONFIG_HOME": str(cfg)})
    assert b.routed and b.settings == cfg / "Code" / "User" / "settings.json"


@pytest.mark.parametrize("text, value", [
    ('{"a": "x // not a comment", "b": "/* nor this */"}', {"a": "x // not a comment", "b": "/* nor this */"}),
    ('{"a": "quote \\" // still a string", /* c */ "b": [1, 2,],}', {"a": 'quote " // still a string', "b": [1, 2]}),
    ('\n// only a comment\n{}', {}),
])
def test_json_with_comments(text: str, value: object) -> None:
    assert loads_jsonc(text) == value


def test_doctor_command_lists_the_extension(pinman_home: Paths, tmp_path: Path) -> None:
    home = Path(os.environ["HOME"])
    extension(home, ".vscode/extensions", "2.0.14")
    r = pinman(pinman_home, tmp_path, "doctor", "--json")
    findings = json.loads(r.out)
    mine = [f for f in findings if "the extension bundles" in f["message"]]
    assert len(mine) == 1 and str(pinman_home.shim) in mine[0]["fix"]


def test_the_shim_as_wrapper_drops_the_bundled_cli_it_is_handed(pinman_home: Paths, fake_npm: Path,
                                                                tmp_path: Path) -> None:
    Store(pinman_home, npm=str(fake_npm)).install(CLAUDE_CODE, "1.0.100")
    p = pinman_home.user_profiles / "team.toml"
    p.parent.mkdir(parents=True)
    p.write_text('[claude-code]\nversion = "1.0.100"\n')
    env = {"PATH": f"{fake_npm.parent}{os.pathsep}{os.environ['PATH']}", "npm_config_registry": "http://127.0.0.1:9/"}
    assert pinman(pinman_home, tmp_path, "use", "team", **env).code == 0
    inst = Store(pinman_home).get(CLAUDE_CODE, "1.0.100")
    assert inst is not None
    inst.binary.write_text('#!/bin/sh\necho "pinned claude: $*"\n')  # shows the arguments it got
    bundled = str(Path(os.environ["HOME"]) / ".vscode/extensions/anthropic.claude-code-2.0.14/resources/claude-code/cli.js")
    r = claude(pinman_home, tmp_path, bundled, "--output-format", "stream-json")
    assert (r.code, r.out.strip()) == (0, "pinned claude: --output-format stream-json")
    # anything else is passed on as it came
    assert claude(pinman_home, tmp_path, "-p", "/tmp/x.js").out.strip() == "pinned claude: -p /tmp/x.js"
