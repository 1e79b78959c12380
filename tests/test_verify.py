"""Installs are re-verified file by file: the manifest written at publish time, `pinman verify`,
and the checks `doctor` and `sync` make with it. Fake npm for the unit tests; real Claude Code
1.0.100 (a replaced cli.js) and 2.1.331 (a replaced native binary) end to end."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from cli_support import claude, pinman

from pinman.cli.main import main
from pinman.errors import ExitCode
from pinman.fingerprint.fakeapi import FakeAPI
from pinman.install.manifest import MANIFEST
from pinman.paths import Paths
from pinman.names import CLAUDE_CODE
from pinman.install.layout import MARKER
from pinman.install.store import Store, check_files
from pinman.install.layout import Install

FAKE_VERSION_SCRIPT = "#!/bin/sh\n# not the installed binary\necho '{version} (Claude Code)'\n"


def replace(path: Path, data: bytes | str) -> None:
    """Write a new file at `path`: seeded installs are hard links of the session's, never write through."""
    raw = data.encode() if isinstance(data, str) else data
    mode = path.stat().st_mode & 0o777
    path.unlink()
    path.write_bytes(raw)
    path.chmod(mode)


def drop_manifest_ref(prefix: Path) -> None:
    """What an install published by an older pinman looks like: a marker without `files`."""
    marker = json.loads((prefix / MARKER).read_text())
    del marker["files"]
    replace(prefix / MARKER, json.dumps(marker))
    (prefix / MANIFEST).unlink()


def run(*args: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main(list(args))
    captured = capsys.readouterr()
    return int(exc.value.code or 0), captured.out, captured.err


@pytest.fixture
def store(pinman_home: Paths, fake_npm: Path) -> Store:
    return Store(pinman_home, npm=str(fake_npm))


# -------------------------------------------------------------------------- the manifest


def test_publish_records_every_file_and_the_marker_vouches_for_the_manifest(store: Store) -> None:
    inst = store.install(CLAUDE_CODE, "1.0.50")
    marker = json.loads((inst.prefix / MARKER).read_text())
    data = (inst.prefix / MANIFEST).read_bytes()
    assert marker["files"]["sha256"] == hashlib.sha256(data).hexdigest()
    doc = json.loads(data)
    cli = f"node_modules/{CLAUDE_CODE}/cli.js"
    assert doc["files"][cli] == {"sha256": hashlib.sha256((inst.binary).read_bytes()).hexdigest(),
                                 "size": inst.binary.stat().st_size}
    assert f"node_modules/{CLAUDE_CODE}/package.json" in doc["files"]
    assert doc["links"]["node_modules/.bin/claude"] == os.readlink(inst.prefix / "node_modules/.bin/claude")
    assert MARKER not in doc["files"] and MANIFEST not in doc["files"]
    files = check_files(inst.prefix)
    assert files.ok and files.files == len(doc["files"]) == marker["files"]["files"]


def test_the_native_binary_is_in_the_manifest_at_both_paths(store: Store) -> None:
    inst = store.install(CLAUDE_CODE, "2.1.300")
    doc = json.loads((inst.prefix / MANIFEST).read_text())
    native = next(p for p in doc["files"] if p.endswith("/claude") and "claude-code-" in p)
    rel = str(inst.binary.relative_to(inst.prefix))
    assert doc["files"][rel] == doc["files"][native]  # one inode, hashed once, recorded twice
    replace(inst.binary, FAKE_VERSION_SCRIPT.format(version="2.1.300"))
    assert store.verify(inst) is None  # runs and says the right version: only the files tell
    files = check_files(inst.prefix)
    assert files.state == "changed" and len(files.problems) == 1
    assert files.problems[0].startswith(f"{rel}: changed (size ")


@pytest.mark.parametrize(
    ("tamper", "problem"),
    [
        (lambda p: replace(p / "node_modules" / CLAUDE_CODE / "cli.js",
                           (p / "node_modules" / CLAUDE_CODE / "cli.js").read_bytes().swapcase()),
         f"node_modules/{CLAUDE_CODE}/cli.js: changed (content)"),
        (lambda p: replace(p / "node_modules" / CLAUDE_CODE / "cli.js", "require('evil')\n"),
         f"node_modules/{CLAUDE_CODE}/cli.js: changed (size"),
        (lambda p: (p / "node_modules" / CLAUDE_CODE / "package.json").unlink(),
         f"node_modules/{CLAUDE_CODE}/package.json: missing"),
        (lambda p: (p / "node_modules" / CLAUDE_CODE / "preload.js").write_text("x"),
         f"node_modules/{CLAUDE_CODE}/preload.js: added"),
        (lambda p: _relink(p / "node_modules/.bin/claude", "/tmp/elsewhere"),
         "node_modules/.bin/claude: symlink changed"),
        (lambda p: _file_to_link(p / "node_modules" / CLAUDE_CODE / "cli.js"),
         f"node_modules/{CLAUDE_CODE}/cli.js: replaced by a symlink"),
        (lambda p: (p / MANIFEST).write_text("{}"), f"{MANIFEST}: missing or changed"),
    ],
    ids=["same-size", "other-size", "removed", "added", "symlink", "file-to-symlink", "manifest"],
)
def test_each_kind_of_change_is_named(store: Store, tamper: Callable[[Path], None], problem: str) -> None:
    inst = store.install(CLAUDE_CODE, "1.0.50")
    tamper(inst.prefix)
    files = check_files(inst.prefix)
    assert files.state == "changed"
    assert files.problems[0].startswith(problem), files.problems
    assert files.summary().startswith(problem)


def _relink(link: Path, target: str) -> None:
    link.unlink()
    link.symlink_to(target)


def _file_to_link(path: Path) -> None:
    path.rename(path.with_name("real.js"))
    path.symlink_to("real.js")


def test_python_caches_are_not_news_but_recorded_files_are(store: Store) -> None:
    inst = store.install(CLAUDE_CODE, "1.0.50")
    cache = inst.package_dir / "__pycache__"
    cache.mkdir()
    (cache / "mod.cpython-311.pyc").write_bytes(b"\0")
    assert check_files(inst.prefix).ok
    (inst.package_dir / "site.pth").write_text("import os\n")
    assert check_files(inst.prefix).problems == (f"node_modules/{CLAUDE_CODE}/site.pth: added",)


def test_an_install_from_an_older_pinman_has_no_manifest(store: Store) -> None:
    inst = store.install(CLAUDE_CODE, "1.0.50")
    drop_manifest_ref(inst.prefix)
    assert store.get(CLAUDE_CODE, "1.0.50") is not None  # still an install
    files = check_files(inst.prefix)
    assert files.state == "unrecorded" and not files.ok
    assert files.summary() == "no manifest (installed by an older pinman)"


# -------------------------------------------------------------------------- pinman verify / doctor


def _user_profile(paths: Paths, name: str, version: str) -> None:
    paths.user_profiles.mkdir(parents=True, exist_ok=True)
    (paths.user_profiles / f"{name}.toml").write_text(f'[claude-code]\nversion = "{version}"\n')


def test_verify_names_the_changed_file_and_the_repair(store: Store, pinman_home: Paths, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    _user_profile(pinman_home, "old", "1.0.50")
    _user_profile(pinman_home, "new", "2.1.300")
    old, new = store.install(CLAUDE_CODE, "1.0.50"), store.install(CLAUDE_CODE, "2.1.300")
    code, out, err = run("verify", "old", capsys=capsys)
    assert (code, err) == (0, "") and out.startswith("Claude Code 1.0.50 (old): ") and "files as installed" in out

    replace(old.binary, "console.log('1.0.50 (Claude Code)')\n")
    code, out, err = run("verify", "old", capsys=capsys)
    assert code == ExitCode.INSTALL
    assert err.splitlines() == [
        f"pinman: Claude Code 1.0.50 (old): node_modules/{CLAUDE_CODE}/cli.js: changed (size "
        f"{old.binary.stat().st_size}, installed {_recorded_size(old, 'cli.js')})",
        "  hint: reinstall it: pinman install --force 1.0.50",
    ]
    code, _, _ = run("verify", "new", capsys=capsys)
    assert code == 0

    replace(new.binary, FAKE_VERSION_SCRIPT.format(version="2.1.300"))
    code, out, err = run("verify", "--all", "--json", capsys=capsys)
    assert code == ExitCode.INSTALL
    doc = json.loads(out)
    assert doc["exit_code"] == ExitCode.INSTALL
    changed = {d["install"]: d for d in doc["installs"] if d["state"] == "changed"}
    assert set(changed) == {"Claude Code 1.0.50", "Claude Code 2.1.300"}
    (problem,) = changed["Claude Code 2.1.300"]["problems"]
    assert problem.startswith(f"node_modules/{CLAUDE_CODE}/bin/claude.exe: changed (size ")
    assert changed["Claude Code 2.1.300"]["repair"] == "pinman install --force 2.1.300"
    assert changed["Claude Code 2.1.300"]["profiles"] == ["new"]


def _recorded_size(inst: Install, name: str) -> int:
    doc = json.loads((inst.prefix / MANIFEST).read_text())
    return int(doc["files"][f"node_modules/{CLAUDE_CODE}/{name}"]["size"])


def test_verify_an_old_install_offers_the_repair_without_failing(store: Store, pinman_home: Paths, tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    _user_profile(pinman_home, "old", "1.0.50")
    drop_manifest_ref(store.install(CLAUDE_CODE, "1.0.50").prefix)
    code, out, err = run("verify", "old", capsys=capsys)
    assert code == 0
    assert out.strip() == "Claude Code 1.0.50 (old): no manifest (installed by an older pinman)"
    assert err.strip() == "hint: pinman install --force 1.0.50 installs it again with a manifest"


def test_verify_a_profile_not_installed_and_bad_arguments(pinman_home: Paths, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    _user_profile(pinman_home, "old", "1.0.50")
    code, out, _ = run("verify", "old", capsys=capsys)
    assert code == 0 and out.strip() == "Claude Code 1.0.50 (old): not installed"
    code, _, err = run("verify", "old", "--all", capsys=capsys)
    assert code == ExitCode.USAGE and "not both" in err
    code, out, _ = run("verify", "--all", capsys=capsys)
    assert code == 0 and out.strip() == "no installs"


def test_doctor_reports_changed_and_unrecorded_installs(store: Store, pinman_home: Paths, tmp_path: Path) -> None:
    from pinman.health.doctor import check_installs

    _user_profile(pinman_home, "old", "1.0.50")
    _user_profile(pinman_home, "new", "2.1.300")
    store.install(CLAUDE_CODE, "1.0.50")
    new = store.install(CLAUDE_CODE, "2.1.300")
    found = check_installs(pinman_home, tmp_path)
    assert [(f.level, f.message) for f in found] == [("ok", "2 installs match the files recorded when they were installed")]
    replace(new.binary, FAKE_VERSION_SCRIPT.format(version="2.1.300"))
    drop_manifest_ref(store.get(CLAUDE_CODE, "1.0.50").prefix)  # type: ignore[union-attr]
    found = {f.level: f for f in check_installs(pinman_home, tmp_path)}
    assert set(found) == {"error", "warn"}
    assert found["error"].message.startswith(
        f"Claude Code 2.1.300 (new): node_modules/{CLAUDE_CODE}/bin/claude.exe: changed (size ")
    assert found["error"].fix == "pinman install --force 2.1.300"
    assert found["warn"].message == "Claude Code 1.0.50 (old): no manifest (installed by an older pinman)"


def test_verify_covers_the_sdk_and_install_force_rebuilds_both(pinman_home: Paths, tmp_path: Path, fake_npm: Path,
                                                               monkeypatch: pytest.MonkeyPatch,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    from e2e_support import fake_integrity, serve_packuments

    from pinman.install import sdk

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PATH", f"{fake_npm.parent}{os.pathsep}{os.environ['PATH']}")  # `npm` is the fake
    pinman_home.user_profiles.mkdir(parents=True)
    (pinman_home.user_profiles / "agent.toml").write_text(
        '[claude-code]\nversion = "1.0.50"\n\n[sdk]\npackage = "npm:@anthropic-ai/claude-agent-sdk"\n'
        'version = "0.1.30"\n')
    docs = {name: {"name": name, "dist-tags": {"latest": v},
                   "versions": {v: {"name": name, "version": v, "dist": {"integrity": fake_integrity(name, v)}}}}
            for name, v in ((CLAUDE_CODE, "1.0.50"), (sdk.AGENT_SDK_NPM, "0.1.30"))}
    with serve_packuments(docs) as url:
        monkeypatch.setenv("npm_config_registry", url)
        assert run("install", "agent", capsys=capsys)[0] == 0
        agent_sdk = sdk.SdkStore(pinman_home).get("npm", sdk.AGENT_SDK_NPM, "0.1.30")
        assert agent_sdk is not None
        code, out, _ = run("verify", "agent", capsys=capsys)
        assert code == 0 and "@anthropic-ai/claude-agent-sdk@0.1.30 (agent): " in out

        pkg = agent_sdk.prefix / "node_modules" / sdk.AGENT_SDK_NPM / "package.json"
        replace(pkg, pkg.read_text().replace("0.1.30", "0.1.31"))
        code, _, err = run("verify", "agent", capsys=capsys)
        assert code == ExitCode.INSTALL
        assert f"(agent): node_modules/{sdk.AGENT_SDK_NPM}/package.json: changed" in err
        assert "hint: reinstall it: pinman install --force agent" in err

        assert run("install", "--force", "agent", capsys=capsys)[0] == 0
        code, out, _ = run("verify", "agent", capsys=capsys)
        assert code == 0 and out.count("files as installed") == 2


# -------------------------------------------------------------------------- real Claude Code


def _stable_project(root: Path, inst: Install) -> None:
    from pinman.install.integrity import installed_native

    native = installed_native(inst)
    block = f'\n[claude-code.native]\n{native.key} = "{native.integrity}"\n' if native else ""
    (root / "profiles").mkdir(parents=True)
    (root / ".pinman.toml").write_text('profile = "stable"\n')
    (root / "profiles" / "stable.toml").write_text(
        f'[claude-code]\nversion = "{inst.version}"\nintegrity = "{inst.integrity}"\n{block}')


@pytest.mark.e2e
def test_real_replaced_cli_js_is_found_and_repaired(seeded_home: Callable[..., list[Install]],
                                                   pinman_home: Paths, real_store: Store, tmp_path: Path) -> None:
    (inst,) = seeded_home("1.0.100")
    work = tmp_path / "work"
    work.mkdir()
    assert pinman(pinman_home, work, "use", "legacy").code == 0
    home = tmp_path / "claude-home"
    home.mkdir()
    with FakeAPI("ok") as api:
        r = claude(pinman_home, work, "-p", "say OK", "--output-format", "json", ANTHROPIC_BASE_URL=api.url,
                   HOME=str(home), CLAUDE_CODE_MAX_RETRIES="1", CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC="1")
    assert r.code == 0, r.text
    r = pinman(pinman_home, work, "verify")
    assert r.code == 0 and "Claude Code 1.0.100 (legacy): " in r.out  # a real session changed no file

    # A cli.js that still answers --version correctly: today's checks all pass.
    replace(inst.binary, "#!/usr/bin/env node\nconsole.log('1.0.100 (Claude Code)')\n")
    assert Store(pinman_home).verify(inst) is None
    assert claude(pinman_home, work, "--version").out.split()[:1] == ["1.0.100"]

    r = pinman(pinman_home, work, "verify", "legacy")
    assert r.code == ExitCode.INSTALL
    assert r.err.splitlines()[0].startswith(
        f"pinman: Claude Code 1.0.100 (legacy): node_modules/{CLAUDE_CODE}/cli.js: changed (size ")
    assert "hint: reinstall it: pinman install --force 1.0.100" in r.err
    r = pinman(pinman_home, work, "doctor")
    assert r.code == 1 and f"node_modules/{CLAUDE_CODE}/cli.js: changed" in r.out
    assert "fix: pinman install --force 1.0.100" in r.out

    r = pinman(pinman_home, work, "install", "--force", "1.0.100", npm_config_cache=real_npm_cache())
    assert r.code == 0, r.err
    assert pinman(pinman_home, work, "verify", "legacy").code == 0
    assert claude(pinman_home, work, "--version").out.split()[:1] == ["1.0.100"]
    source = real_store.get(CLAUDE_CODE, "1.0.100")
    assert source is not None and check_files(source.prefix).ok  # the session install was never written


def real_npm_cache() -> str:
    """npm's cache of the real home, so the reinstall reads the bytes the session downloaded."""
    from e2e_support import REAL_HOME

    return os.environ.get("npm_config_cache") or str(Path(REAL_HOME or Path.home()) / ".npm")


@pytest.mark.e2e
def test_real_replaced_native_binary_fails_sync_frozen_verify_and_doctor(
        seeded_home: Callable[..., list[Install]], pinman_home: Paths, real_store: Store, tmp_path: Path) -> None:
    (inst,) = seeded_home("2.1.331")
    repo = tmp_path / "repo"
    _stable_project(repo, inst)
    r = pinman(pinman_home, repo, "sync", "--frozen")
    assert r.code == 0, r.err

    shutil.copy(inst.binary, tmp_path / "claude.exe")  # a copy with one byte changed, same size
    with open(tmp_path / "claude.exe", "r+b") as f:
        f.seek(4096)
        byte = f.read(1)
        f.seek(4096)
        f.write(bytes([byte[0] ^ 0xFF]))
    inst.binary.unlink()
    os.replace(tmp_path / "claude.exe", inst.binary)
    rel = f"node_modules/{CLAUDE_CODE}/bin/claude.exe"

    for args in (("sync",), ("sync", "--frozen")):
        r = pinman(pinman_home, repo, *args)
        assert r.code == ExitCode.INSTALL, (args, r.text)
        assert f"pinman: stable: Claude Code 2.1.331: {rel}: changed (content)" in r.err
        assert "hint: reinstall it: pinman install --force 2.1.331" in r.err
    r = pinman(pinman_home, repo, "verify")
    assert r.code == ExitCode.INSTALL and f"(stable): {rel}: changed (content)" in r.err
    r = pinman(pinman_home, repo, "doctor")
    assert r.code == 1 and f"{rel}: changed (content)" in r.out
    source = real_store.get(CLAUDE_CODE, "2.1.331")
    assert source is not None and check_files(source.prefix).ok
