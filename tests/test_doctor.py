from __future__ import annotations

import json
import os
from pathlib import Path

from pinman.runtime.shim import ensure_shim, path_line, shim_text
from pinman.health.doctor import check_path, check_settings, check_shim, check_tools
from pinman.paths import Paths


def _exe(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    p = folder / "claude"
    p.write_text("#!/bin/sh\n")
    p.chmod(0o755)
    return p


def test_shim_first_on_path_is_ok(pinman_home: Paths) -> None:
    ensure_shim(pinman_home)
    findings = check_path(pinman_home, {"PATH": str(pinman_home.bin)})
    assert [f.level for f in findings] == ["ok"]


def test_shadowing_binaries_are_named_with_a_fix(pinman_home: Paths, tmp_path: Path) -> None:
    ensure_shim(pinman_home)
    npm_global = _exe(tmp_path / "lib" / "node_modules" / "@anthropic-ai" / "claude-code" / "bin")
    npm_bin = tmp_path / "npm-bin"
    npm_bin.mkdir()
    (npm_bin / "claude").symlink_to(npm_global)
    native = _exe(Path(os.environ["HOME"]) / ".local" / "bin")
    path = os.pathsep.join([str(npm_bin), str(pinman_home.bin), str(native.parent)])
    findings = check_path(pinman_home, {"PATH": path})
    assert findings[0].level == "error" and "comes before the pinman shim" in findings[0].message
    assert path_line(pinman_home) in findings[0].fix
    fixes = " ".join(f.fix for f in findings)
    assert "npm uninstall -g @anthropic-ai/claude-code" in fixes
    assert f"rm {native}" in fixes
    named = [f for f in findings if str(npm_bin / "claude") in f.message]
    assert len(named) == 1  # the binary in front of the shim is one problem, reported once


def test_missing_shim_on_path(pinman_home: Paths) -> None:
    findings = check_path(pinman_home, {"PATH": "/nonexistent"})
    assert findings[0].level == "error" and "not on PATH" in findings[0].message


def test_settings_that_re_enable_updates(tmp_path: Path) -> None:
    (tmp_path / ".claude").mkdir()
    (tmp_path / ".claude" / "settings.json").write_text(json.dumps({"env": {"DISABLE_AUTOUPDATER": "0"},
                                                                    "autoUpdates": True}))
    findings = check_settings(tmp_path)
    assert findings[0].level == "error" and "DISABLE_AUTOUPDATER" in findings[0].message
    assert any("autoUpdates" in f.message for f in findings)


def test_settings_claude_code_wrote_itself_are_not_blamed(tmp_path: Path) -> None:
    # What Claude Code 1.0.100 writes into ~/.claude.json on its first run, unasked.
    (tmp_path / ".claude.json").write_text(json.dumps({"installMethod": "unknown", "autoUpdates": True,
                                                       "firstStartTime": "2026-12-03T08:00:00Z"}))
    assert [f.level for f in check_settings(tmp_path)] == ["ok"]


def test_one_finding_for_one_problem_in_two_files(tmp_path: Path) -> None:
    (tmp_path / ".claude").mkdir()
    for name in ("settings.json", "settings.local.json"):
        (tmp_path / ".claude" / name).write_text(json.dumps({"autoUpdates": True}))
    findings = [f for f in check_settings(tmp_path) if "autoUpdates" in f.message]
    assert len(findings) == 1 and "settings.local.json" in findings[0].message


def test_clean_settings_are_ok(tmp_path: Path) -> None:
    assert [f.level for f in check_settings(tmp_path)] == ["ok"]


def test_tools_and_shim_state(pinman_home: Paths) -> None:
    assert {f.message.split()[0] for f in check_tools()} == {"npm", "node"}
    assert check_shim(pinman_home)[0].level == "warn"
    ensure_shim(pinman_home)
    assert check_shim(pinman_home)[0].level == "ok"


def test_pinman_home_bin_holds_the_shim(tmp_path: Path) -> None:
    paths = Paths.from_env({"PINMAN_HOME": str(tmp_path / "ci")})
    assert paths.shim == tmp_path / "ci" / "bin" / "claude"
    assert path_line(paths) == f'export PATH="{tmp_path / "ci" / "bin"}:$PATH"'


def test_without_pinman_home_the_shim_stays_in_the_user_data_folder(monkeypatch) -> None:
    monkeypatch.delenv("PINMAN_HOME")
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    paths = Paths.from_env()
    assert paths.shim == Path(os.environ["HOME"]) / ".local" / "share" / "pinman" / "bin" / "claude"


def test_a_shim_left_at_the_old_place_is_reported(pinman_home: Paths) -> None:
    ensure_shim(pinman_home)
    old = pinman_home.data / "bin" / "claude"
    old.parent.mkdir(parents=True)
    old.write_text(shim_text(pinman_home))
    findings = check_shim(pinman_home)
    assert findings[0].level == "ok"
    assert findings[1].level == "warn" and str(old) in findings[1].message and str(pinman_home.shim) in findings[1].message
    assert path_line(pinman_home) in findings[1].fix
