"""`pinman ide install|uninstall|status` on editors' settings files shaped like the real ones: the
setting names pinman's shim and every other byte stays; uninstall gives the file back."""

from __future__ import annotations

import json
import os
import stat
import tempfile
from pathlib import Path

import pytest
from cli_support import pinman
from hostile_support import PROPERTY
from hypothesis import given
from hypothesis import strategies as st

from pinman.paths import Paths
from pinman.runtime import ide
from pinman.runtime.editors import SETTING, settings_files, EDITORS
from pinman.runtime.pointers import Pointer, write_pointer
from pinman.runtime.shim import ensure_shim
from pinman.state import jsonc

USER = """{
    // Appearance
    "editor.fontSize": 13, // my eyes
    "files.exclude": {
        "**/.git": true,
        "**/node_modules": true, // big
    },
    "claudeCode.preferredLocation": "panel",
}
"""


def extension(home: Path, where: str = ".vscode/extensions", version: str = "2.1.331",
              platform: str = "linux-x64") -> Path:
    """The extension as the marketplace ships it: package.json (with the setting it declares) and
    the native CLI in resources/native-binary/."""
    folder = home / where / f"anthropic.claude-code-{version}-{platform}"
    (folder / "resources" / "native-binary").mkdir(parents=True)
    (folder / "package.json").write_text(json.dumps({
        "name": "claude-code", "publisher": "Anthropic", "version": version,
        "contributes": {"configuration": {"properties": {SETTING: {
            "type": "string", "scope": "machine", "description": "Executable path used to launch the Claude process."}}}},
    }))
    cli = folder / "resources" / "native-binary" / "claude"
    cli.write_text("#!/bin/sh\necho 'the bundled CLI ran' >&2\nexit 99\n")
    cli.chmod(0o755)
    return folder


def settings(home: Path, app: str = "Code", text: str = USER) -> Path:
    path = home / ".config" / app / "User" / "settings.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@pytest.fixture
def home() -> Path:
    return Path(os.environ["HOME"])


ENV = {"PATH": "/usr/bin"}


def ours(paths: Paths) -> str:
    return f'    "{SETTING}": {json.dumps(str(paths.shim))},\n'


def test_install_adds_one_line_and_uninstall_gives_the_file_back(pinman_home: Paths, home: Path,
                                                               tmp_path: Path) -> None:
    extension(home)
    path = settings(home)
    path.chmod(0o640)
    r = pinman(pinman_home, tmp_path, "ide", "install")
    assert r.code == 0, r.text
    assert r.out.startswith("VS Code: installed: claudeCode.claudeProcessWrapper set to pinman's shim; reload its "
                            "windows (Developer: Reload Window)")
    assert path.read_text() == USER.replace('"panel",\n', '"panel",\n' + ours(pinman_home))
    assert (path.parent / "settings.json.pinman-bak").read_text() == USER
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert pinman_home.shim.read_text().startswith("#!/bin/sh\n# pinman shim")  # what the setting names exists
    again = pinman(pinman_home, tmp_path, "ide", "install")
    assert "VS Code: already: " in again.out and path.read_text().count(SETTING) == 1

    r = pinman(pinman_home, tmp_path, "ide", "uninstall", "--json")
    assert r.code == 0 and json.loads(r.out)[0]["action"] == "restored" and json.loads(r.out)[0]["reload"]
    assert path.read_bytes() == USER.encode()
    assert sorted(p.name for p in path.parent.iterdir()) == ["settings.json"]


def test_uninstall_after_other_edits_takes_only_the_key(pinman_home: Paths, home: Path, tmp_path: Path) -> None:
    extension(home)
    path = settings(home)
    assert pinman(pinman_home, tmp_path, "ide", "install").code == 0
    edited = path.read_text().replace('"editor.fontSize": 13', '"editor.fontSize": 15').replace(
        "// Appearance", "// Appearance (bigger now)")
    path.write_text(edited)
    r = pinman(pinman_home, tmp_path, "ide", "uninstall")
    assert r.code == 0 and "VS Code: removed: " in r.out
    assert path.read_text() == USER.replace("13", "15").replace("// Appearance", "// Appearance (bigger now)")
    assert not (path.parent / "settings.json.pinman-bak").exists()


def test_a_wrapper_set_to_something_else_needs_force_and_comes_back(pinman_home: Paths, home: Path,
                                                                    tmp_path: Path) -> None:
    extension(home, ".cursor/extensions")
    theirs = USER.replace('"panel",', '"panel",\n    "claudeCode.claudeProcessWrapper": "/opt/corp/claude-launch",')
    path = settings(home, "Cursor", theirs)
    r = pinman(pinman_home, tmp_path, "ide", "install")
    assert r.code == 2, r.text
    assert r.out.startswith('Cursor: refused: claudeCode.claudeProcessWrapper is set to "/opt/corp/claude-launch": '
                            "left as it is (--force replaces it")
    assert path.read_text() == theirs and not (path.parent / "settings.json.pinman-bak").exists()

    r = pinman(pinman_home, tmp_path, "ide", "install", "--force")
    assert r.code == 0 and 'Cursor: replaced: replaced "/opt/corp/claude-launch" by pinman' in r.out
    assert jsonc.value_of(path.read_text(), SETTING) == str(pinman_home.shim)
    assert pinman(pinman_home, tmp_path, "ide", "uninstall").code == 0
    assert path.read_text() == theirs

    # forced, then other edits: uninstall puts their wrapper back, keeping the edits
    assert pinman(pinman_home, tmp_path, "ide", "install", "--force").code == 0
    path.write_text(path.read_text().replace("13", "14"))
    assert pinman(pinman_home, tmp_path, "ide", "uninstall").code == 0
    assert path.read_text() == theirs.replace("13", "14")


def test_a_file_it_cannot_read_is_refused_with_file_line_and_left_alone(pinman_home: Paths, home: Path,
                                                                        tmp_path: Path) -> None:
    extension(home)
    broken = '{\n    "editor.fontSize": 13\n    "x": 1\n}\n'
    path = settings(home, text=broken)
    r = pinman(pinman_home, tmp_path, "ide", "install")
    assert r.code == 3, r.text
    assert r.out == f"VS Code: refused: {path}:3: expected ',' or '}}' after a value: left as it is\n"
    assert path.read_text() == broken and sorted(os.listdir(path.parent)) == ["settings.json"]
    (path.parent / "settings.json").write_bytes(b'{"a": "\xff"}')
    r = pinman(pinman_home, tmp_path, "ide", "install")
    assert r.code == 3 and f"{path}: not UTF-8 text: left as it is" in r.out


def test_a_symlinked_settings_file_is_written_through_backup_beside_the_link(pinman_home: Paths, home: Path,
                                                                           tmp_path: Path) -> None:
    extension(home)
    dotfiles = tmp_path / "dotfiles" / "vscode"
    dotfiles.mkdir(parents=True)
    (dotfiles / "settings.json").write_text(USER)
    link = home / ".config" / "Code" / "User" / "settings.json"
    link.parent.mkdir(parents=True)
    link.symlink_to(dotfiles / "settings.json")
    assert pinman(pinman_home, tmp_path, "ide", "install").code == 0
    assert link.is_symlink() and jsonc.value_of(link.read_text(), SETTING) == str(pinman_home.shim)
    assert sorted(os.listdir(dotfiles)) == ["settings.json"]  # nothing of pinman's in the dotfiles repository
    assert (link.parent / "settings.json.pinman-bak").read_text() == USER
    assert pinman(pinman_home, tmp_path, "ide", "uninstall").code == 0
    assert link.is_symlink() and (dotfiles / "settings.json").read_text() == USER


def test_a_read_only_file_is_refused(pinman_home: Paths, home: Path, tmp_path: Path) -> None:
    extension(home)
    path = settings(home)
    path.chmod(0o444)
    r = pinman(pinman_home, tmp_path, "ide", "install")
    assert r.code == 7, r.text
    assert f"VS Code: refused: {path} is read-only: left as it is" in r.out
    assert path.read_text() == USER and stat.S_IMODE(path.stat().st_mode) == 0o444
    assert sorted(os.listdir(path.parent)) == ["settings.json"]


def test_no_settings_file_yet_is_created_and_uninstall_removes_it(pinman_home: Paths, home: Path,
                                                                  tmp_path: Path) -> None:
    extension(home)
    assert pinman(pinman_home, tmp_path, "ide", "install").code == 0
    path = home / ".config" / "Code" / "User" / "settings.json"
    assert path.read_text() == f'{{\n    "{SETTING}": {json.dumps(str(pinman_home.shim))}\n}}\n'
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert pinman(pinman_home, tmp_path, "ide", "uninstall").code == 0
    assert not path.exists() and not list(path.parent.iterdir())


def test_editor_option_picks_one(pinman_home: Paths, home: Path, tmp_path: Path) -> None:
    extension(home)
    extension(home, ".cursor/extensions")
    code, cursor = settings(home), settings(home, "Cursor")
    r = pinman(pinman_home, tmp_path, "ide", "install", "--editor", "cursor", "--json")
    assert [c["editor"] for c in json.loads(r.out)] == ["Cursor"]
    assert code.read_text() == USER and SETTING in cursor.read_text()
    r = pinman(pinman_home, tmp_path, "ide", "install", "--editor", "emacs")
    assert r.code == 2 and "unknown editor 'emacs'" in r.err and "code, code-insiders, code-server" in r.err
    r = pinman(pinman_home, tmp_path, "ide", "install", "--editor", "windsurf")
    assert r.code == 2 and "no Claude Code extension of Windsurf found" in r.err
    assert pinman(pinman_home, tmp_path, "ide", "uninstall", "--editor", "VS Code").out.startswith(
        "no editor settings name pinman's shim")
    assert pinman(pinman_home, tmp_path, "ide", "uninstall").out.startswith("Cursor: restored")


def test_vscode_server_uses_the_remote_machine_settings(pinman_home: Paths, home: Path, tmp_path: Path) -> None:
    extension(home, ".vscode-server/extensions")
    assert pinman(pinman_home, tmp_path, "ide", "install").code == 0
    machine = home / ".vscode-server" / "data" / "Machine" / "settings.json"
    assert jsonc.value_of(machine.read_text(), SETTING) == str(pinman_home.shim)


def test_macos_settings_come_first_on_macos(home: Path) -> None:
    (code,) = [e for e in EDITORS if e.key == "code"]
    mac = home / "Library" / "Application Support" / "Code" / "User" / "settings.json"
    linux = home / ".config" / "Code" / "User" / "settings.json"
    assert settings_files(code, home, ENV, platform="darwin")[:2] == [mac, linux]
    assert settings_files(code, home, ENV, platform="linux")[:2] == [linux, mac]


def test_status_says_per_editor_whether_it_runs_the_pin_with_hooks(pinman_home: Paths, home: Path,
                                                                   tmp_path: Path) -> None:
    extension(home)
    extension(home, ".cursor/extensions", "2.1.300", "darwin-arm64")
    settings(home, "Cursor", '{"claudeCode.claudeProcessWrapper": "/opt/corp/claude-launch"}')
    r = pinman(pinman_home, tmp_path, "ide", "status", "--json")
    assert r.code == 1
    states = {d["editor"]: d for d in json.loads(r.out)}
    assert (states["VS Code"]["state"], states["VS Code"]["runs_pin"]) == ("not-routed", False)
    assert states["VS Code"]["bundled_cli"] == "2.1.331"
    assert (states["Cursor"]["state"], states["Cursor"]["wrapper"]) == ("other-wrapper", "/opt/corp/claude-launch")

    assert pinman(pinman_home, tmp_path, "ide", "install", "--editor", "code").code == 0
    r = pinman(pinman_home, tmp_path, "ide", "status")
    assert r.out.splitlines()[0].startswith("VS Code: runs the pin through pinman's shim, without pinman's hooks")
    assert pinman(pinman_home, tmp_path, "hooks", "install").code == 0
    r = pinman(pinman_home, tmp_path, "ide", "status", "--json")
    code = json.loads(r.out)[0]
    assert (code["state"], code["runs_pin"], code["hooks"]) == ("routed", True, True)
    pinman_home.shim.write_text("#!/bin/sh\n# an older pinman's shim\n")
    assert json.loads(pinman(pinman_home, tmp_path, "ide", "status", "--json").out)[0]["state"] == "stale-shim"
    doctor = json.loads(pinman(pinman_home, tmp_path, "doctor", "--json").out)
    assert any("VS Code: names pinman's shim, which is missing or out of date" in f["message"] for f in doctor)


def test_a_1x_global_pin_is_named_as_unable_to_serve_the_extension(pinman_home: Paths, home: Path) -> None:
    extension(home)
    (pinman_home.state).mkdir(parents=True, exist_ok=True)
    pinman_home.global_choice.write_text("legacy\n")
    write_pointer(pinman_home, None, Pointer("legacy", "1.0.100", Path("/x/claude"), Path("/x/p.toml"), {}))
    ensure_shim(pinman_home)
    (route,) = ide.status(pinman_home, home, ENV, pinned=ide.global_version(pinman_home))
    assert route.pin_note is not None and "Claude Code 1.0.100, which refuses options" in route.pin_note
    write_pointer(pinman_home, None, Pointer("legacy", "2.1.331", Path("/x/claude"), Path("/x/p.toml"), {}))
    (route,) = ide.status(pinman_home, home, ENV, pinned=ide.global_version(pinman_home))
    assert route.pin_note is None


# -- hostile settings files: edited right or refused untouched, never half-written ---------------------------
CONTENT = st.one_of(
    st.text(max_size=60),
    st.lists(st.sampled_from(['{', '}', '[', ']', ',', ':', '"a"', '"claudeCode.claudeProcessWrapper"', '"/x"',
                              "1", "null", " ", "\n", "//", "/*", "*/", "\\", "\ufeff", "\x00", "é"]),
             max_size=25).map("".join),
    st.sampled_from([USER, USER[:-3], USER.replace(",\n}", "\n}"), "", "{}", "// hi\n"]),
)


@PROPERTY
@given(CONTENT)
def test_any_settings_file_is_edited_right_or_left_exactly_as_it_was(text: str) -> None:
    with tempfile.TemporaryDirectory() as d:
        root = Path(d)
        paths = Paths.from_env({"PINMAN_HOME": str(root / "pm")})
        extension(root)
        path = settings(root, text=text)
        before = path.read_bytes()
        (change,) = ide.install(paths, root, ENV)
        if change.action == "refused":
            assert change.detail.startswith(f"{path}:") and "\n" not in change.detail, change.detail
            assert path.read_bytes() == before and sorted(os.listdir(path.parent)) == ["settings.json"]
            return
        doc = jsonc.loads(path.read_text()) if jsonc.parse(path.read_text()).open is not None else {}
        assert change.action in ("installed", "replaced", "already") and doc[SETTING] in (str(paths.shim), "/x")
        if change.action == "installed":
            (undone,) = ide.uninstall(paths, root, ENV)
            assert undone.action == "restored" and path.read_bytes() == before


def test_an_edit_that_would_change_anything_else_is_not_written(pinman_home: Paths, home: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    extension(home)
    path = settings(home)
    wrong = jsonc.set_member  # a splice that also touched another member: the safety net catches it

    def sloppy(text: str, key: str, value: object) -> str:
        return wrong(text, key, value).replace('"editor.fontSize": 13', '"editor.fontSize": 31')

    monkeypatch.setattr(ide.jsonc, "set_member", sloppy)
    (change,) = ide.install(pinman_home, home, ENV)
    assert change.action == "refused" and change.detail == (f"{path}: the edit would change more than {SETTING}: "
                                                             "left as it is")
    assert path.read_text() == USER and sorted(os.listdir(path.parent)) == ["settings.json"]


def test_install_says_what_else_the_editor_needs(pinman_home: Paths, home: Path, tmp_path: Path) -> None:
    extension(home)
    r = pinman(pinman_home, tmp_path, "ide", "install")
    assert "note: pinman's hooks are not installed: `pinman hooks install`" in r.err
    assert "note: no global profile: an editor opened on a folder without .pinman.toml" in r.err
    assert pinman(pinman_home, tmp_path, "hooks", "install").code == 0
    pinman_home.global_choice.write_text("stable\n")
    assert pinman(pinman_home, tmp_path, "ide", "install").err == ""
