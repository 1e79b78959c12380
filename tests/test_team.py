"""Team commands against a loopback registry and a fake npm: init, pin, lock, sync, upgrade, mark-bad."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from e2e_support import fake_integrity, serve_packuments

from pinman.runtime import resolution
from pinman.health import prober, rollback
from pinman.team.sync import sync as team_sync
from pinman.team.upgrade import upgrade as team_upgrade
from pinman.cli.main import main
from pinman.errors import ExitCode, IntegrityError
from pinman.health.result import ProbeResult
from pinman.state.journal import Journal
from pinman.paths import Paths
from pinman.profile.discovery import find_profile
from pinman.profile.validate import load_profile
from pinman.names import CLAUDE_CODE
from pinman.install.layout import MARKER
from pinman.install.store import Store
from pinman.install.native import native_platform_keys

HERE_KEY = native_platform_keys()[0]
PLATFORMS = sorted({HERE_KEY, "darwin-arm64", "linux-x64", "win32-x64"})
VERSIONS = ["1.0.100", "2.1.300", "2.1.330", "2.1.331"]


def sri(version: str, package: str = CLAUDE_CODE) -> str:
    """What the fake npm records for a package (and what the loopback registry publishes)."""
    return fake_integrity(package, version)


def native_sri(key: str, version: str) -> str:
    return sri(version, f"{CLAUDE_CODE}-{key}")


def claude_doc(latest: str = "2.1.331", integrity: dict[str, str] | None = None) -> dict[str, Any]:
    versions = {}
    for v in VERSIONS:
        meta: dict[str, Any] = {"name": CLAUDE_CODE, "version": v,
                                "dist": {"integrity": (integrity or {}).get(v, sri(v))}}
        if v.startswith("2."):
            meta["optionalDependencies"] = {f"{CLAUDE_CODE}-{k}": v for k in PLATFORMS}
        versions[v] = meta
    month_ago = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 30 * 86400))
    return {"name": CLAUDE_CODE, "dist-tags": {"latest": latest}, "versions": versions,
            "time": {v: month_ago for v in VERSIONS}}  # publish times: what a guarded channel's soak reads


def native_doc(key: str) -> dict[str, Any]:
    name = f"{CLAUDE_CODE}-{key}"
    return {"name": name, "dist-tags": {"latest": "2.1.331"},
            "versions": {v: {"name": name, "version": v, "dist": {"integrity": native_sri(key, v)}}
                         for v in VERSIONS if v.startswith("2.")}}


@dataclass
class FakeRegistry:
    url: str = ""
    docs: dict[str, dict[str, Any]] = field(default_factory=dict)
    hits: list[str] = field(default_factory=list)

    def set_claude(self, **kw: Any) -> None:
        self.docs[CLAUDE_CODE] = claude_doc(**kw)


@pytest.fixture
def registry(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeRegistry]:
    state = FakeRegistry()
    state.set_claude()
    for key in PLATFORMS:
        state.docs[f"{CLAUDE_CODE}-{key}"] = native_doc(key)

    with serve_packuments(state.docs, state.hits) as url:
        state.url = url
        monkeypatch.setenv("npm_config_registry", state.url)
        yield state


NPM_WRAPPER = '''
import json, os, subprocess, sys
from pathlib import Path
sys.path.insert(0, {tests!r})
from e2e_support import fake_integrity

code = subprocess.call([{fake!r}, *sys.argv[1:]])
if code == 0 and sys.argv[1:2] == ["install"]:
    # The fake npm records "sha512-native" for the platform package; record what the registry
    # publishes instead (or FAKE_NATIVE_INTEGRITY, to play a tampered download).
    lock = Path(sys.argv[sys.argv.index("--prefix") + 1]) / "package-lock.json"
    doc = json.loads(lock.read_text())
    for key, entry in doc["packages"].items():
        name = key[len("node_modules/"):]
        if name.startswith("@anthropic-ai/claude-code-"):
            entry["integrity"] = os.environ.get("FAKE_NATIVE_INTEGRITY") or fake_integrity(name, entry["version"])
    lock.write_text(json.dumps(doc))
sys.exit(code)
'''


@pytest.fixture
def npm(fake_npm: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """`npm` on PATH is the fake npm, with platform-package hashes the loopback registry agrees with."""
    folder = tmp_path / "npm-wrapper"
    folder.mkdir()
    wrapper = folder / "npm"
    wrapper.write_text(f"#!{sys.executable}\n"
                       + NPM_WRAPPER.format(tests=str(Path(__file__).parent), fake=str(fake_npm)))
    wrapper.chmod(0o755)
    log = tmp_path / "npm.log"
    monkeypatch.setenv("FAKE_NPM_LOG", str(log))
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ['PATH']}")
    return log


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "repo"
    (root / "profiles").mkdir(parents=True)
    (root / ".pinman.toml").write_text('profile = "stable"\n')
    monkeypatch.chdir(root)
    return root


def run(*args: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main(list(args))
    captured = capsys.readouterr()
    return int(exc.value.code or 0), captured.out, captured.err


def write_profile(repo: Path, name: str, text: str) -> Path:
    path = repo / "profiles" / f"{name}.toml"
    path.write_text(text)
    return path


# A profile written by hand, with every kind of comment and layout pinman must keep.
COMMENTED = f"""\
# profiles/stable.toml: what the team runs.   Owner: platform.
#   Ask in #claude before changing.

schema = 1    # file format
description = 'Known to work with our gateway'   # literal string

[claude-code]
# The version everyone runs. Bump it with `pinman pin`.
version = "2.1.300"      # pinned after INC-1200
integrity = "{sri("2.1.300")}"   # from the registry

bad = [
    # 2.1.330 sends output_config, which the gateway rejects
    {{ version = "2.1.330", reason = "output_config rejected by gateway" }},   # INC-1234
]

# ---- env: the prod gateway ----
[env]
  ANTHROPIC_BASE_URL = "https://llm-gateway.internal.example"    # prod

[health]
timeout = 120   # the gateway can be slow
"""


def native_block(version: str, keys: list[str]) -> str:
    lines = "".join(f'{k} = "{native_sri(k, version)}"\n' for k in keys)
    return f"\n[claude-code.native]\n{lines}"


# --------------------------------------------------------------------------- init


def test_init_writes_a_commented_starter_and_is_idempotent(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                           pinman_home: Paths, registry: FakeRegistry,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    # The built-in stable is a guarded channel on `latest` with a week's soak: the starter pins
    # exactly its newest candidate, with the registry's hash (2.1.331 is two days old: it soaks).
    ages = {"1.0.100": 400, "2.1.300": 60, "2.1.330": 20, "2.1.331": 2}
    registry.docs[CLAUDE_CODE]["time"] = {
        v: time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - d * 86400)) for v, d in ages.items()}
    monkeypatch.chdir(tmp_path)
    code, out, err = run("init", capsys=capsys)
    assert code == 0
    assert f"wrote {tmp_path / 'profiles' / 'stable.toml'}" in out and f"wrote {tmp_path / '.pinman.toml'}" in out
    assert f'export PATH="{pinman_home.bin}:$PATH"' in err  # the shim is not first on PATH yet
    starter = load_profile(tmp_path / "profiles" / "stable.toml")
    assert (starter.claude_code.version, starter.claude_code.integrity) == ("2.1.330", sri("2.1.330"))
    text = (tmp_path / "profiles" / "stable.toml").read_text()
    assert text.count("\n#") > 10  # commented, for the team to read
    assert 'profile = "stable"' in (tmp_path / ".pinman.toml").read_text()

    (tmp_path / "profiles" / "stable.toml").write_text(text + "# ours\n")
    code, out, _ = run("init", capsys=capsys)
    assert code == 0 and "wrote" not in out and out.count("kept") == 2
    assert (tmp_path / "profiles" / "stable.toml").read_text().endswith("# ours\n")

    code, out, _ = run("init", "--force", capsys=capsys)
    assert code == 0 and out.count("wrote") == 2
    assert (tmp_path / "profiles" / "stable.toml").read_text() == text

    # where the built-in stable already runs a version (verified here), the team starts from that one
    from pinman.state.channels import ChannelState, update_channel

    update_channel(pinman_home, "stable", None, lambda old: ChannelState("2.1.300", "latest", time.time(),
                                                                          endpoint="https://api.anthropic.com:443",
                                                                          verified=True))
    assert run("init", "--force", capsys=capsys)[0] == 0
    starter = load_profile(tmp_path / "profiles" / "stable.toml")
    assert (starter.claude_code.version, starter.claude_code.integrity) == ("2.1.300", sri("2.1.300"))


def test_init_says_nothing_of_path_when_the_shim_comes_first(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                             pinman_home: Paths,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PATH", f"{pinman_home.bin}{os.pathsep}{os.environ['PATH']}")  # as the README says
    code, out, err = run("init", capsys=capsys)
    assert code == 0 and "wrote" in out
    assert "PATH" not in out + err, out + err  # the shim does not even exist yet, but will be first


def test_init_keeps_an_existing_project_choice(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                               registry: FakeRegistry, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".pinman.toml").write_text('profile = "legacy"  # ours\n')
    assert run("init", capsys=capsys)[0] == 0
    assert (tmp_path / ".pinman.toml").read_text() == 'profile = "legacy"  # ours\n'
    assert (tmp_path / "profiles" / "stable.toml").is_file()


# --------------------------------------------------------------------------- pin


def test_pin_keeps_every_other_byte(repo: Path, registry: FakeRegistry,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    path = write_profile(repo, "stable", COMMENTED)
    code, out, err = run("pin", "stable", "2.1.331", capsys=capsys)
    assert code == 0, err
    assert f"stable: pinned 2.1.300 -> 2.1.331 in {path}" in out
    expected = (COMMENTED
                .replace('version = "2.1.300"      # pinned', 'version = "2.1.331"      # pinned')
                .replace(sri("2.1.300"), sri("2.1.331"))
                .replace("   # INC-1234\n]\n", "   # INC-1234\n]\n" + native_block("2.1.331", [HERE_KEY])))
    assert path.read_text() == expected
    pin = load_profile(path).claude_code
    assert (pin.version, pin.integrity, dict(pin.native)) == \
        ("2.1.331", sri("2.1.331"), {HERE_KEY: native_sri(HERE_KEY, "2.1.331")})

    # Back to 1.x: no native packages, so the table goes and the file is as it was.
    assert run("pin", "stable", "2.1.300", capsys=capsys)[0] == 0
    assert run("pin", "stable", "1.0.100", capsys=capsys)[0] == 0
    assert path.read_text() == (COMMENTED.replace('"2.1.300"      #', '"1.0.100"      #')
                                .replace(sri("2.1.300"), sri("1.0.100")))


def test_pin_again_changes_nothing(repo: Path, registry: FakeRegistry, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_profile(repo, "stable", COMMENTED)
    assert run("pin", "stable", "2.1.331", capsys=capsys)[0] == 0
    before = path.read_bytes()
    code, out, _ = run("pin", "stable", "2.1.331", capsys=capsys)
    assert code == 0 and "already pinned to 2.1.331" in out
    assert path.read_bytes() == before


def test_pin_adds_declared_platforms(repo: Path, registry: FakeRegistry, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_profile(repo, "stable", '[claude-code]\nversion = "2.1.300"\n')
    assert run("pin", "stable", "2.1.331", "--platform", "win32-x64", capsys=capsys)[0] == 0
    assert set(load_profile(path).claude_code.native) == {HERE_KEY, "win32-x64"}
    # declared platforms stay declared when the pin moves
    assert run("pin", "stable", "2.1.330", capsys=capsys)[1]
    native = load_profile(path).claude_code.native
    assert native == {HERE_KEY: native_sri(HERE_KEY, "2.1.330"), "win32-x64": native_sri("win32-x64", "2.1.330")}
    code, _, err = run("pin", "stable", "2.1.331", "--platform", "plan9-mips", capsys=capsys)
    assert code == ExitCode.USAGE and "no native package for plan9-mips" in err


def test_pin_says_when_the_profile_is_not_what_claude_runs_here(repo: Path, registry: FakeRegistry,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    write_profile(repo, "stable", '[claude-code]\nversion = "2.1.331"\n')  # .pinman.toml here chooses it
    write_profile(repo, "edge", '[claude-code]\nversion = "2.1.300"\n')
    code, out, err = run("pin", "edge", "2.1.331", capsys=capsys)
    assert code == 0 and "edge: pinned 2.1.300 -> 2.1.331" in out, err
    assert f"note: edge is not what `claude` runs here: it runs 2.1.331 (profile stable, chosen by {repo}" in err
    code, _, err = run("pin", "stable", "2.1.300", capsys=capsys)
    assert code == 0 and "note:" not in err, err  # what runs here: nothing to add


def test_pin_a_tag_pins_what_it_resolves_to(repo: Path, registry: FakeRegistry,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    path = write_profile(repo, "stable", COMMENTED)
    code, out, _ = run("pin", "stable", "latest", capsys=capsys)
    assert code == 0 and "(latest -> 2.1.331)" in out
    assert load_profile(path).claude_code.version == "2.1.331"


def test_pin_unknown_version_names_the_nearest(repo: Path, registry: FakeRegistry,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    path = write_profile(repo, "stable", COMMENTED)
    code, _, err = run("pin", "stable", "2.1.332", capsys=capsys)
    assert code == ExitCode.REGISTRY
    assert "2.1.332 does not exist" in err and "newest published versions: " in err and "2.1.331" in err  # newer than all
    assert path.read_text() == COMMENTED


def test_pin_refuses_builtin_and_bad_versions(repo: Path, registry: FakeRegistry, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    write_profile(repo, "stable", COMMENTED)
    code, _, err = run("pin", "stable", "2.1.330", capsys=capsys)
    assert code == ExitCode.PROFILE and "2.1.330 is marked bad in stable.toml: output_config rejected" in err
    monkeypatch.chdir(tmp_path)  # outside the project: "stable" is the built-in
    code, _, err = run("pin", "stable", "2.1.331", capsys=capsys)
    assert code == ExitCode.PROFILE and "built-in profile" in err and "pinman init" in err
    code, _, err = run("pin", "legacy", "1.0.100", capsys=capsys)
    assert code == ExitCode.PROFILE and "copy " in err


# --------------------------------------------------------------------------- lock


def test_lock_records_the_resolved_version_keeping_the_file(repo: Path, registry: FakeRegistry,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    text = COMMENTED.replace('version = "2.1.300"      # pinned after INC-1200\n',
                             'version = "latest"      # follow releases\n').replace(
        f'integrity = "{sri("2.1.300")}"   # from the registry\n', "")
    path = write_profile(repo, "stable", text)
    code, out, err = run("lock", capsys=capsys)
    assert code == 0, err
    assert f"stable: latest locked at 2.1.331 in {path}" in out
    expected = text.replace(
        'version = "latest"      # follow releases\n',
        f'version = "latest"      # follow releases\nlocked = "2.1.331"\nintegrity = "{sri("2.1.331")}"\n',
    ).replace("   # INC-1234\n]\n", "   # INC-1234\n]\n" + native_block("2.1.331", [HERE_KEY]))
    assert path.read_text() == expected
    code, out, _ = run("lock", capsys=capsys)
    assert code == 0 and "stable: latest already locked at 2.1.331" in out
    assert path.read_text() == expected


def test_locked_version_runs_offline_until_lock_moves_it(repo: Path, registry: FakeRegistry, pinman_home: Paths,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    path = write_profile(repo, "edge", '[claude-code]\nversion = "latest"\n')
    assert run("lock", "edge", capsys=capsys)[0] == 0
    registry.set_claude(latest="2.1.330")  # a new tag on the registry does not move the team

    class NoRegistry:
        def __getattr__(self, name: str) -> Any:
            raise AssertionError("a locked profile must resolve without the registry")

    tgt = resolution.target(pinman_home, load_profile(path), registry=NoRegistry())  # type: ignore[arg-type]
    assert (tgt.version, tgt.integrity, tgt.why) == ("2.1.331", sri("2.1.331"), "latest locked at 2.1.331")
    code, out, _ = run("lock", "edge", capsys=capsys)
    assert code == 0 and "edge: latest locked at 2.1.330 (was 2.1.331)" in out
    assert load_profile(path).claude_code.locked == "2.1.330"


def test_lock_fills_in_hashes_of_an_exact_pin_and_refuses_a_wrong_one(
        repo: Path, registry: FakeRegistry, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_profile(repo, "stable", '[claude-code]\nversion = "2.1.331"  # ours\n')
    code, out, _ = run("lock", "--platform", "darwin-arm64", capsys=capsys)
    assert code == 0 and "stable: 2.1.331 hashes recorded" in out
    pin = load_profile(path).claude_code
    assert pin.integrity == sri("2.1.331") and set(pin.native) == {HERE_KEY, "darwin-arm64"}
    # A hash in the file that disagrees with the registry is a red flag, not something to overwrite.
    tampered = path.read_text().replace(native_sri("darwin-arm64", "2.1.331"), sri("2.1.300"))
    path.write_text(tampered)
    code, _, err = run("lock", capsys=capsys)
    assert code == ExitCode.INSTALL
    assert f"-darwin-arm64@2.1.331: stable.toml says {sri('2.1.300')}, the registry says" in err
    assert path.read_text() == tampered


def test_lock_needs_a_project_or_names(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    code, _, err = run("lock", capsys=capsys)
    assert code == ExitCode.PROFILE and "not in a project" in err and "pinman init" in err


# --------------------------------------------------------------------------- mark-bad and skipping


def test_mark_bad_appends_keeping_the_file(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_profile(repo, "stable", COMMENTED)
    code, out, err = run("mark-bad", "stable", "2.1.331", "--reason", 'rejects "context_management"',
                         capsys=capsys)
    assert code == 0 and f"stable: 2.1.331 marked bad in {path}" in out
    assert path.read_text() == COMMENTED.replace(
        "   # INC-1234\n", '   # INC-1234\n    { version = "2.1.331", reason = "rejects \\"context_management\\"" },\n')
    before = path.read_text()
    code, out, _ = run("mark-bad", "stable", "v2.1.331", "--reason", "again", capsys=capsys)
    assert code == 0 and "already marked bad" in out and path.read_text() == before
    code, _, err = run("mark-bad", "stable", "2.1.300", "--reason", "oops", capsys=capsys)
    assert code == 0 and "still runs 2.1.300" in err


def test_mark_bad_creates_the_array(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_profile(repo, "edge", '# mine\n[claude-code]\nversion = "latest"  # follow\n\n# health\n[health]\n')
    assert run("mark-bad", "edge", "2.1.331", "--reason", "r", capsys=capsys)[0] == 0
    assert path.read_text() == ('# mine\n[claude-code]\nversion = "latest"  # follow\n'
                                'bad = [\n    { version = "2.1.331", reason = "r" },\n]\n\n# health\n[health]\n')


def test_concurrent_mark_bad_loses_nothing(repo: Path, pinman_home: Paths) -> None:
    path = write_profile(repo, "stable", COMMENTED)
    versions = [f"2.1.{n}" for n in range(301, 307)]
    script = ("import sys; from pathlib import Path; from pinman.paths import Paths; from pinman.team.edits import mark_bad;"
              "mark_bad(Paths.from_env(), Path.cwd(), 'stable', sys.argv[1], 'r' + sys.argv[1])")
    procs = [subprocess.Popen([sys.executable, "-c", script, v], cwd=repo) for v in versions]
    assert all(p.wait(timeout=60) == 0 for p in procs)
    bad = {b.version for b in load_profile(path).claude_code.bad}
    assert bad == {"2.1.330", *versions}
    assert path.read_text().startswith(COMMENTED.split("   # INC-1234\n")[0])


def test_resolve_lock_and_upgrade_skip_marked_versions(repo: Path, registry: FakeRegistry, pinman_home: Paths,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    path = write_profile(repo, "stable", '[claude-code]\nversion = "latest"\n')
    assert run("mark-bad", "stable", "2.1.331", "--reason", "output_config rejected", capsys=capsys)[0] == 0
    code, out, err = run("resolve", "latest", capsys=capsys)  # the active profile's list applies
    assert code == 0 and out.strip() == "2.1.330"
    assert "skipped 2.1.331: marked bad in stable.toml: output_config rejected" in err
    doc = json.loads(run("resolve", "^2.1.0", "--json", "-p", "stable", capsys=capsys)[1])
    assert doc["version"] == "2.1.330" and doc["skipped_why"] == {
        "2.1.331": "marked bad in stable.toml: output_config rejected"}
    assert run("resolve", "2.1.331", capsys=capsys)[1].strip() == "2.1.331"  # asked by name: answered
    code, out, err = run("lock", capsys=capsys)
    assert code == 0 and "latest locked at 2.1.330" in out and "skipped 2.1.331" in err
    assert load_profile(path).claude_code.locked == "2.1.330"
    r = team_upgrade(pinman_home, repo, "stable", dry_run=True)
    assert (r.action, r.candidate) == ("current", "2.1.330")
    assert [(s.version, s.reason) for s in team_upgrade(pinman_home, repo, "stable", to="^2.1.0",
                                                        dry_run=True).skipped] == \
        [("2.1.331", "marked bad in stable.toml: output_config rejected")]


def test_resolve_outside_any_profile_is_plain_npm(tmp_path: Path, registry: FakeRegistry,
                                                  monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    code, out, err = run("resolve", "latest", capsys=capsys)
    assert (code, out.strip(), err) == (0, "2.1.331", "")


# --------------------------------------------------------------------------- sync


def _locked_project(repo: Path) -> None:
    write_profile(repo, "stable", f'[claude-code]\nversion = "1.0.100"\nintegrity = "{sri("1.0.100")}"\n')
    write_profile(repo, "edge", f'[claude-code]\nversion = "latest"\nlocked = "2.1.331"\n'
                                f'integrity = "{sri("2.1.331")}"\n' + native_block("2.1.331", [HERE_KEY]))


def test_sync_installs_every_project_profile_checked(repo: Path, registry: FakeRegistry, npm: Path,
                                                     pinman_home: Paths,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    _locked_project(repo)
    code, out, err = run("sync", capsys=capsys)
    assert code == 0, err
    assert "stable: 1.0.100 installed, integrity ok" in out
    assert f"edge: 2.1.331 installed, integrity ok, native {HERE_KEY} ok" in out
    store = Store(pinman_home)
    assert {i.version: i.integrity for i in store.list()} == {"1.0.100": sri("1.0.100"), "2.1.331": sri("2.1.331")}
    code, out, _ = run("sync", capsys=capsys)
    assert code == 0 and out.count("already installed, integrity ok") == 2
    assert len(npm.read_text().splitlines()) == 2  # nothing downloaded twice
    assert run("sync", "--frozen", capsys=capsys)[0] == 0


def test_sync_refuses_a_tampered_pin_and_installs_the_rest(repo: Path, registry: FakeRegistry, npm: Path,
                                                           pinman_home: Paths,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    _locked_project(repo)
    bogus = sri("9.9.9")
    (repo / "profiles" / "stable.toml").write_text(f'[claude-code]\nversion = "1.0.100"\nintegrity = "{bogus}"\n')
    code, out, err = run("sync", capsys=capsys)
    assert code == ExitCode.INSTALL
    line = next(ln for ln in err.splitlines() if ln.startswith("pinman: "))
    assert line == (f"pinman: stable: {CLAUDE_CODE}@1.0.100: integrity mismatch: expected {bogus} "
                    f"(stable.toml), actual {sri('1.0.100')} (registry)")
    assert "edge: 2.1.331 installed" in out
    assert [i.version for i in Store(pinman_home).list()] == ["2.1.331"]
    assert "1.0.100" not in npm.read_text()  # refused before downloading


def test_sync_refuses_bits_that_differ_from_what_the_registry_publishes(
        repo: Path, registry: FakeRegistry, npm: Path, pinman_home: Paths,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    _locked_project(repo)
    served = sri("evil")
    monkeypatch.setenv("FAKE_NPM_INTEGRITY", served)  # the download hashes differently
    code, _, err = run("sync", capsys=capsys)
    assert code == ExitCode.INSTALL
    assert f"stable: {CLAUDE_CODE}@1.0.100: integrity mismatch: expected {sri('1.0.100')}, " \
           f"npm installed {served}" in err
    assert Store(pinman_home).list() == []
    assert [p.name for p in (pinman_home.store / ".tmp").iterdir() if p.name.startswith("build-")] == []


def test_sync_refuses_a_platform_package_that_differs(repo: Path, registry: FakeRegistry, npm: Path,
                                                      pinman_home: Paths, monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    _locked_project(repo)
    monkeypatch.setenv("FAKE_NATIVE_INTEGRITY", sri("evil"))
    code, out, err = run("sync", capsys=capsys)
    assert code == ExitCode.INSTALL
    assert (f"edge: {CLAUDE_CODE}-{HERE_KEY}@2.1.331: integrity mismatch: "
            f"expected {native_sri(HERE_KEY, '2.1.331')}, actual {sri('evil')}") in err
    assert "stable: 1.0.100 installed" in out
    assert [i.version for i in Store(pinman_home).list()] == ["1.0.100"]  # the refused install is gone


def test_sync_checks_an_install_already_in_the_store(repo: Path, registry: FakeRegistry, npm: Path,
                                                     pinman_home: Paths) -> None:
    _locked_project(repo)
    inst = Store(pinman_home).install(CLAUDE_CODE, "1.0.100")
    marker = inst.prefix / MARKER
    marker.write_text(marker.read_text().replace(sri("1.0.100"), sri("other")))
    report = team_sync(pinman_home, repo)
    item = next(i for i in report.items if i.profile == "stable")
    assert isinstance(item.error, IntegrityError) and "integrity mismatch" in item.error.message
    assert report.exit_code == ExitCode.INSTALL


def test_sync_checks_the_files_of_an_install_already_in_the_store(repo: Path, registry: FakeRegistry, npm: Path,
                                                                 pinman_home: Paths,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    _locked_project(repo)
    assert run("sync", capsys=capsys)[0] == 0
    inst = Store(pinman_home).get(CLAUDE_CODE, "1.0.100")
    assert inst is not None
    inst.binary.write_text("console.log('1.0.100 (Claude Code)')\n")  # still answers --version
    for args in (("sync",), ("sync", "--frozen")):
        code, out, err = run(*args, capsys=capsys)
        assert code == ExitCode.INSTALL
        assert f"pinman: stable: Claude Code 1.0.100: node_modules/{CLAUDE_CODE}/cli.js: changed (size " in err
        assert "hint: reinstall it: pinman install --force 1.0.100" in err
        assert "edge: 2.1.331 already installed, integrity ok" in out  # the others still checked
    marker = json.loads((inst.prefix / MARKER).read_text())
    del marker["files"]  # as an older pinman wrote it: no manifest to compare with
    (inst.prefix / MARKER).write_text(json.dumps(marker))
    code, out, err = run("sync", capsys=capsys)
    assert code == 0
    assert ("note: 1.0.100: no manifest (installed by an older pinman): "
            "`pinman install --force 1.0.100` installs it again with one") in err


def test_sync_frozen_fails_on_missing_or_stale_locks(repo: Path, registry: FakeRegistry, npm: Path,
                                                     pinman_home: Paths,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    _locked_project(repo)
    write_profile(repo, "loose", '[claude-code]\nversion = "^2.1.0"\n')
    code, _, err = run("sync", "--frozen", capsys=capsys)
    assert code == ExitCode.PROFILE and "loose" in err and "^2.1.0 has no lock" in err
    assert Store(pinman_home).list() == []  # nothing installed when the locks do not hold
    (repo / "profiles" / "loose.toml").unlink()
    registry.set_claude(latest="2.1.330")
    code, _, err = run("sync", "--frozen", capsys=capsys)
    assert code == ExitCode.PROFILE
    assert "latest is locked at 2.1.331 but resolves to 2.1.330 now" in err
    registry.set_claude()
    assert run("sync", "--frozen", capsys=capsys)[0] == 0


def test_sync_frozen_wants_this_platform_locked(repo: Path, registry: FakeRegistry, npm: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    write_profile(repo, "stable", f'[claude-code]\nversion = "2.1.331"\nintegrity = "{sri("2.1.331")}"\n')
    code, _, err = run("sync", "--frozen", capsys=capsys)
    assert code == ExitCode.PROFILE and f"no native hash for {HERE_KEY}" in err
    code, _, err = run("sync", capsys=capsys)  # without --frozen: installed, with a note
    assert code == 0 and f"the native package for {HERE_KEY} is not locked" in err


def test_sync_outside_a_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    code, _, err = run("sync", capsys=capsys)
    assert code == ExitCode.PROFILE and "not in a project" in err and "hint: run `pinman init`" in err


# --------------------------------------------------------------------------- guarded upgrade

EP = "http://127.0.0.1:4000"


def ok() -> ProbeResult:
    return ProbeResult("cli", 0, None, None, "OK", 0.1, is_error=False)


def schema() -> ProbeResult:
    return ProbeResult("cli", 1, 400, "invalid_request_error", "thinking: Extra inputs are not permitted", 0.1,
                       is_error=True)


def overloaded() -> ProbeResult:
    return ProbeResult("cli", 1, 529, "overloaded_error", "Overloaded", 0.1, is_error=True)


@pytest.fixture
def probes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Scripted probes (ANSWER decides the result); the list records versions probed."""
    calls: list[str] = []
    monkeypatch.setenv("ANTHROPIC_BASE_URL", EP)

    def make(*args: Any, **kwargs: Any) -> Any:
        def probe(version: str) -> ProbeResult:
            calls.append(version)
            return ANSWER[0]()
        return probe

    monkeypatch.setattr(rollback, "make_prober", make)  # checks
    monkeypatch.setattr(prober, "make_prober", make)  # guarded upgrades
    return calls


ANSWER: list[Any] = [ok]


@pytest.fixture(autouse=True)
def _answer_ok() -> None:
    ANSWER[0] = ok


def test_upgrade_ok_moves_the_pin(repo: Path, registry: FakeRegistry, npm: Path, probes: list[str],
                                  pinman_home: Paths, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_profile(repo, "stable", COMMENTED)
    code, out, err = run("upgrade", "stable", capsys=capsys)
    assert code == 0, err
    assert probes == ["2.1.331"]
    assert "stable: 2.1.300 -> 2.1.331: moved." in out and "pinned 2.1.331 in stable.toml" in out
    pin = load_profile(path).claude_code
    assert (pin.version, pin.integrity, set(pin.native)) == ("2.1.331", sri("2.1.331"), {HERE_KEY})
    check = Journal(pinman_home).history()[0]
    assert (check.event, check.version, check.outcome, check.endpoint) == ("check", "2.1.331", "ok", EP)
    code, out, _ = run("upgrade", "stable", capsys=capsys)
    assert code == 0 and "already runs 2.1.331" in out and probes == ["2.1.331"]


def test_upgrade_of_a_tag_profile_moves_its_lock(repo: Path, registry: FakeRegistry, npm: Path,
                                                 probes: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    path = write_profile(repo, "edge", f'[claude-code]\nversion = "latest"  # intent\nlocked = "2.1.300"\n'
                                       f'integrity = "{sri("2.1.300")}"\n')
    code, out, _ = run("upgrade", "edge", capsys=capsys)
    assert code == 0 and "locked latest at 2.1.331" in out
    pin = load_profile(path).claude_code
    assert (pin.version, pin.locked, pin.integrity) == ("latest", "2.1.331", sri("2.1.331"))
    # --to something the tag does not resolve to: written as an exact pin, said so
    assert run("upgrade", "edge", "--to", "2.1.330", capsys=capsys)[0] == 0
    pin = load_profile(path).claude_code
    assert (pin.version, pin.locked, pin.integrity) == ("2.1.330", None, sri("2.1.330"))


def test_upgrade_schema_keeps_the_pin_and_records_bad(repo: Path, registry: FakeRegistry, npm: Path,
                                                      probes: list[str], pinman_home: Paths,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    ANSWER[0] = schema
    path = write_profile(repo, "stable", COMMENTED)
    code, out, _ = run("upgrade", "stable", capsys=capsys)
    assert code == ExitCode.BROKEN
    assert "rejected field: thinking" in out and "the pin stays at 2.1.300" in out and "--record" in out
    assert path.read_text() == COMMENTED
    key = find_profile("stable", repo, pinman_home)
    from pinman.state.overrides import profile_key

    bad = Journal(pinman_home).known_bad(profile_key("stable", key.project_root), EP)
    assert list(bad) == ["2.1.331"] and bad["2.1.331"].event == "bad"
    # The journal's verdict is skipped next time: nothing newer is left to try.
    code, out, err = run("upgrade", "stable", capsys=capsys)
    assert code == 0 and "already runs 2.1.300" in out and probes == ["2.1.331"]
    assert f"skipped 2.1.331: rejected by {EP} in an earlier check (thinking)" in err
    code, out, _ = run("upgrade", "stable", "--to", "2.1.331", "--record", capsys=capsys)
    assert code == ExitCode.BROKEN and "and in stable.toml" in out
    pin = load_profile(path).claude_code
    assert pin.version == "2.1.300" and pin.is_bad("2.1.331") is not None
    assert "thinking: Extra inputs are not permitted" in pin.is_bad("2.1.331").reason  # type: ignore[union-attr]
    assert path.read_text().startswith(COMMENTED.split("   # INC-1234\n")[0])


def test_upgrade_inconclusive_keeps_the_pin(repo: Path, registry: FakeRegistry, npm: Path, probes: list[str],
                                            capsys: pytest.CaptureFixture[str]) -> None:
    ANSWER[0] = overloaded
    path = write_profile(repo, "stable", COMMENTED)
    code, out, _ = run("upgrade", "stable", capsys=capsys)
    assert code == ExitCode.NOT_CLIENT
    assert "inconclusive: overloaded" in out and "changing versions will not help" in out
    assert path.read_text() == COMMENTED


def test_resolve_and_upgrade_name_the_releases_engines_kept_out(repo: Path, registry: FakeRegistry,
                                                               capsys: pytest.CaptureFixture[str],
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    from pinman.npm import registry as npm_registry

    monkeypatch.setattr(npm_registry, "detect_node_version", lambda: "v20.20.2")
    versions = registry.docs[CLAUDE_CODE]["versions"]
    for v in ("2.1.330", "2.1.331"):
        versions[v]["engines"] = {"node": ">=22.0.0"}
    versions["1.0.101"] = {"name": CLAUDE_CODE, "version": "1.0.101", "engines": {"node": ">=24"},
                           "dist": {"integrity": sri("1.0.101")}}  # 1.x: cli.js on Node, no native binary
    code, out, err = run("resolve", "^2.1.0", capsys=capsys)
    assert code == 0 and out.strip() == "2.1.300", err  # what npm installs, as before
    assert ('note: skipped 2.1.330–2.1.331 (2 releases): engines.node ">=22.0.0" (this Node is 20.20.2), '
            "as npm does") in err, err
    assert "native binary, which runs on any Node: `pinman install 2.1.331` or an exact pin" in err
    doc = json.loads(run("resolve", "^2.1.0", "--json", capsys=capsys)[1])
    assert doc["skipped_engines"]["versions"] == ["2.1.330", "2.1.331"] and doc["skipped_engines"]["native"]
    assert doc["skipped_engines"]["groups"] == [{"engines": ">=22.0.0", "from": "2.1.330", "to": "2.1.331",
                                                 "count": 2}]
    code, out, err = run("resolve", "latest", capsys=capsys)
    assert out.strip() == "2.1.331" and "skipped" not in err  # a tag is taken as it is, by npm too
    code, out, err = run("resolve", "^1.0.0", capsys=capsys)
    assert out.strip() == "1.0.100" and 'skipped 1.0.101: engines.node ">=24"' in err and "native" not in err
    write_profile(repo, "edge", '[claude-code]\nversion = "^2.1.0"\n')
    code, out, err = run("upgrade", "edge", "--dry-run", capsys=capsys)
    assert code == 0 and "edge: ^2.1.0 -> 2.1.300 (dry run" in out and "skipped 2.1.330–2.1.331" in err, err
    doc = json.loads(run("upgrade", "edge", "--dry-run", "--json", capsys=capsys)[1])
    assert doc["skipped_engines"]["versions"] == ["2.1.330", "2.1.331"]


def test_upgrade_dry_run_touches_nothing(repo: Path, registry: FakeRegistry, npm: Path, probes: list[str],
                                         pinman_home: Paths, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_profile(repo, "stable", COMMENTED)
    code, out, _ = run("upgrade", "stable", "--dry-run", capsys=capsys)
    assert code == 0 and "stable: 2.1.300 -> 2.1.331 (dry run" in out
    assert probes == [] and Store(pinman_home).list() == [] and path.read_text() == COMMENTED
    doc = json.loads(run("upgrade", "stable", "--to", "^2.1.0", "--dry-run", "--json", capsys=capsys)[1])
    assert (doc["action"], doc["candidate"], doc["current"]) == ("dry-run", "2.1.331", "2.1.300")


def test_upgrade_refuses_a_builtin_profile(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, registry: FakeRegistry,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    code, _, err = run("upgrade", "legacy", capsys=capsys)
    assert code == ExitCode.PROFILE and "built-in" in err


def test_upgrade_probes_with_the_cli_even_when_health_says_http(repo: Path, registry: FakeRegistry, npm: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[str] = []

    def make(paths: Paths, profile: Any, env: Any, **kw: Any) -> Any:
        seen.append(profile.health.probe)
        return lambda version: ok()

    monkeypatch.setattr(prober, "make_prober", make)
    write_profile(repo, "stable", COMMENTED + 'probe = "http"\n')
    r = team_upgrade(Paths.from_env(), repo, "stable")
    assert r.action == "moved" and seen == ["cli"]


def test_sync_includes_the_builtin_profile_the_project_chooses(repo: Path, registry: FakeRegistry, npm: Path,
                                                               pinman_home: Paths) -> None:
    (repo / ".pinman.toml").write_text('profile = "latest"\n')
    report = team_sync(pinman_home, repo)
    assert [(i.profile, i.version, i.status) for i in report.items] == [("latest", "2.1.331", "installed")]
    assert "not locked" in (report.items[0].note or "")
    problems = team_sync(pinman_home, repo, frozen=True).problems
    assert len(problems) == 1 and "copy it into profiles/" in problems[0]
