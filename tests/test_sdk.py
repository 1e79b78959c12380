"""SDK pins: venvs built with real pip from local wheels (no network), errors, env, coupling, probe."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess
import sys
import threading
import zipfile
from pathlib import Path

import pytest

from pinman.install import sdk
from pinman.install import piperrors
from pinman.views import sdk_coupling
from pinman.runtime import sdk_env
from pinman.install import sdk_resolve
from pinman.errors import HealthError, InstallError
from pinman.health.sdk_probe import result_from_sdk
from pinman.paths import Paths
from pinman.profile.model import SdkPin
from pinman.profile.discovery import find_profile
from pinman.names import CLAUDE_CODE
from pinman.install.layout import MARKER
from pinman.install.store import Store

# What pip 23 prints for a version the index does not have (trimmed from a real run).
PIP_NO_SUCH_VERSION = """\
WARNING: Location 'file:///opt/pypi-more/simple/anthropic/' is ignored: it is neither a file nor a directory.
ERROR: Could not find a version that satisfies the requirement anthropic==9.9.9 (from versions: 0.0.1, \
0.2.9, 0.39.0, 0.40.0, 1.13.0, 2.12.0, 2.13.0)
ERROR: No matching distribution found for anthropic==9.9.9
"""


# --------------------------------------------------------------------------- helpers


def make_wheel(folder: Path, name: str, version: str, files: dict[str, str],
               entry_points: str | None = None) -> Path:
    """A minimal valid pure-Python wheel, so pip installs it without any network."""
    folder.mkdir(parents=True, exist_ok=True)
    dist = name.replace("-", "_")
    info = f"{dist}-{version}.dist-info"
    entries = dict(files)
    entries[f"{info}/METADATA"] = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
    entries[f"{info}/WHEEL"] = "Wheel-Version: 1.0\nGenerator: pinman-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    if entry_points:
        entries[f"{info}/entry_points.txt"] = entry_points
    record = []
    for path, text in entries.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(text.encode())}")
    record.append(f"{info}/RECORD,,")
    entries[f"{info}/RECORD"] = "\n".join(record) + "\n"
    whl = folder / f"{dist}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(whl, "w") as z:
        for path, text in entries.items():
            z.writestr(path, text)
    return whl


@pytest.fixture(scope="session")
def wheelhouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("wheels")
    for v in ("1.0.0", "1.1.0", "2.0.0"):
        make_wheel(folder, "pinmantoy", v, {"pinmantoy/__init__.py": f"__version__ = '{v}'\ndef main():\n    print('toy {v}')\n"},
                   entry_points="[console_scripts]\ntoy = pinmantoy:main\n")
    make_wheel(folder, "claude-agent-sdk", "0.1.5", {
        "claude_agent_sdk/__init__.py": "__version__ = '0.1.5'\n",
        "claude_agent_sdk/_cli_version.py": '__cli_version__ = "2.0.99"\n',
    })
    return folder


def local_env(wheelhouse: Path) -> dict[str, str]:
    """pip sees only the wheelhouse: no index, no config files."""
    return {"PIP_NO_INDEX": "1", "PIP_FIND_LINKS": str(wheelhouse), "PIP_CONFIG_FILE": os.devnull}


def counting_python(folder: Path, log: Path) -> str:
    """A `python` that logs its arguments, then runs the real interpreter."""
    folder.mkdir(parents=True, exist_ok=True)
    exe = folder / "python"
    exe.write_text(f'#!/bin/sh\necho "$*" >> "{log}"\nexec "{sys.executable}" "$@"\n')
    exe.chmod(0o755)
    return str(exe)


def pip_runs(log: Path) -> list[str]:
    return [ln for ln in log.read_text().splitlines() if " pip " in f" {ln} "] if log.exists() else []


def leftovers(paths: Paths) -> list[str]:
    tmp = paths.store / ".tmp"
    return sorted(p.name for p in tmp.iterdir()) if tmp.is_dir() else []


def user_profile(paths: Paths, name: str, body: str) -> None:
    paths.user_profiles.mkdir(parents=True, exist_ok=True)
    (paths.user_profiles / f"{name}.toml").write_text('[claude-code]\nversion = "2.1.331"\n' + body)


@pytest.fixture
def store(pinman_home: Paths, wheelhouse: Path) -> sdk.SdkStore:
    return sdk.SdkStore(pinman_home, env=local_env(wheelhouse))


# --------------------------------------------------------------------------- pure parts


@pytest.mark.parametrize("spec, exact", [
    ("1.2.3", "1.2.3"), ("==1.2.3", "1.2.3"), ("== 0.40", "0.40"), ("v1.0", "1.0"),
    (">=1,<2", None), ("~=0.1.0", None), ("==1.*", None), ("===1.0", None),
])
def test_exact_pypi(spec: str, exact: str | None) -> None:
    assert sdk.exact_pypi(spec) == exact


def test_nearest_pypi_prefers_close_release_numbers() -> None:
    assert piperrors.nearest_pypi("0.41.0", ["0.39.0", "0.40.0", "0.42.1", "1.13.0", "2.13.0"]) == \
        ["0.42.1", "0.40.0", "0.39.0"]
    assert piperrors.nearest_pypi("9.9.9", ["0.1", "2.12.0", "2.13.0"], n=2) == ["2.13.0", "2.12.0"]


def test_unknown_version_is_one_line_with_nearest() -> None:
    e = piperrors.pip_error(PIP_NO_SUCH_VERSION, "anthropic", "9.9.9", log=Path("/x/pip.log"))
    assert "\n" not in e.message
    assert e.message == "anthropic 9.9.9 does not exist on the package index (nearest: 2.13.0, 2.12.0, 1.13.0)"
    assert "pip index versions anthropic" in (e.hint or "") and "/x/pip.log" in (e.hint or "")


def test_wheels_only_is_named_when_nothing_matches() -> None:
    out = "ERROR: Could not find a version that satisfies the requirement x==1 (from versions: none)\n" \
          "ERROR: No matching distribution found for x==1\n"
    e = piperrors.pip_error(out, "x", "1", only_binary=True)
    assert "no matching distribution" in e.message and "only wheels" in (e.hint or "")


def test_other_pip_failures_show_the_last_lines() -> None:
    out = "Collecting x\n  Downloading x.whl\nERROR: Could not install packages due to an OSError: [Errno 28]\n" \
          "ERROR: No space left on device\n\n[notice] A new release of pip is available\n"
    e = piperrors.pip_error(out, "x", "1", what="pip install x==1")
    assert e.message == ("pip install x==1 failed: ERROR: Could not install packages due to an OSError: "
                         "[Errno 28] | ERROR: No space left on device")


@pytest.mark.parametrize("sdk_version, cli", [
    ("0.3.331", "2.1.331"), ("0.2.141", "2.1.141"), ("0.2.50", "2.1.50"), ("0.1.77", "2.0.77"),
    ("0.0.4", None), ("1.0.0", None),
])
def test_ts_agent_sdk_numbering(sdk_version: str, cli: str | None) -> None:
    assert sdk.ts_agent_cli(sdk_version) == cli
    if cli:
        assert sdk.ts_agent_for_cli(cli) == sdk_version


def test_merge_env_prepends_to_path_and_drops_the_marker_key() -> None:
    merged = sdk_env.merge_env({"PATH": "/usr/bin", "A": "1"}, {sdk.PATH_PREPEND: "/venv/bin", "A": "2"})
    assert merged == {"PATH": "/venv/bin" + os.pathsep + "/usr/bin", "A": "2"}
    assert sdk_env.merge_env({}, {sdk.PATH_PREPEND: "/v"})["PATH"] == "/v"


# --------------------------------------------------------------------------- building venvs


def test_install_builds_a_verified_relocated_venv(store: sdk.SdkStore, pinman_home: Paths) -> None:
    inst = store.install("pypi", "PinmanToy", "1.1.0")
    assert inst.prefix == pinman_home.store / "pypi" / "pinmantoy" / "1.1.0"
    marker = json.loads((inst.prefix / MARKER).read_text())
    assert (marker["package"], marker["version"], marker["ecosystem"]) == ("pinmantoy", "1.1.0", "pypi")
    assert "pinmantoy==1.1.0" in marker["distributions"]
    # built in store/.tmp, then renamed: scripts must name the final place, not the build dir
    toy = inst.prefix / "bin" / "toy"
    script = toy.read_text()  # a plain shebang, or pip's sh trampoline for a long path
    assert f"{inst.prefix}/bin/python" in script and "/.tmp/" not in script
    assert subprocess.run([str(toy)], capture_output=True, text=True).stdout.strip() == "toy 1.1.0"
    assert ".tmp" not in (inst.prefix / "pyvenv.cfg").read_text()
    assert not (inst.prefix / "bin" / "pip").exists()  # nothing can install into it later
    assert store.verify(inst) is None and leftovers(pinman_home) == []
    assert store.get("pypi", "pinmantoy", "1.1.0") == inst and store.list() == [inst]


def test_second_install_is_offline_and_reuses(pinman_home: Paths, wheelhouse: Path, tmp_path: Path) -> None:
    log = tmp_path / "python.log"
    first = sdk.SdkStore(pinman_home, python=counting_python(tmp_path / "py", log), env=local_env(wheelhouse))
    inst = first.install("pypi", "pinmantoy", "1.0.0")
    assert len(pip_runs(log)) == 1
    offline = sdk.SdkStore(pinman_home, python=counting_python(tmp_path / "py", log),
                           env={**local_env(tmp_path / "no-wheels"), "PIP_INDEX_URL": "http://127.0.0.1:9/"})
    assert offline.install("pypi", "pinmantoy", "1.0.0") == inst
    assert len(pip_runs(log)) == 1


def test_unknown_version_fails_cleanly_with_nearest(store: sdk.SdkStore, pinman_home: Paths) -> None:
    with pytest.raises(InstallError) as info:
        store.install("pypi", "pinmantoy", "1.0.5")
    assert info.value.message == "pinmantoy 1.0.5 does not exist on the package index (nearest: 2.0.0, 1.1.0, 1.0.0)"
    assert not (pinman_home.store / "pypi" / "pinmantoy" / "1.0.5").exists()
    assert leftovers(pinman_home) == []
    assert (pinman_home.state / "logs" / "pip-pinmantoy-1.0.5.log").is_file()


def test_pip_failure_reports_its_last_lines(pinman_home: Paths, tmp_path: Path) -> None:
    fake = tmp_path / "python"
    fake.write_text(f'#!/bin/sh\nif [ "$2" = pip ]; then echo "Collecting x"; echo "ERROR: proxy said 407" >&2; '
                    f'echo "ERROR: giving up" >&2; exit 1; fi\nexec "{sys.executable}" "$@"\n')
    fake.chmod(0o755)
    with pytest.raises(InstallError) as info:
        sdk.SdkStore(pinman_home, python=str(fake)).install("pypi", "x", "1.0")
    assert info.value.message == "pip install x==1.0 failed: ERROR: proxy said 407 | ERROR: giving up"
    assert "pip-x-1.0.log" in (info.value.hint or "")
    assert leftovers(pinman_home) == [] and not (pinman_home.store / "pypi" / "x").joinpath("1.0").exists()


def test_a_folder_without_marker_is_not_an_install(store: sdk.SdkStore, pinman_home: Paths) -> None:
    final = pinman_home.store / "pypi" / "pinmantoy" / "1.0.0"
    (final / "bin").mkdir(parents=True)  # what a process killed before the rename... cannot leave,
    (final / "junk").write_text("x")  # but a hand-made or half-deleted folder can
    assert store.get("pypi", "pinmantoy", "1.0.0") is None
    inst = store.install("pypi", "pinmantoy", "1.0.0")
    assert not (inst.prefix / "junk").exists() and store.verify(inst) is None


def test_a_marker_copied_elsewhere_does_not_make_an_install(store: sdk.SdkStore, pinman_home: Paths) -> None:
    inst = store.install("pypi", "pinmantoy", "1.0.0")
    other = pinman_home.store / "pypi" / "pinmantoy" / "2.0.0"
    other.mkdir()
    (other / MARKER).write_text((inst.prefix / MARKER).read_text())
    assert store.get("pypi", "pinmantoy", "2.0.0") is None


def test_concurrent_installs_build_once(pinman_home: Paths, wheelhouse: Path, tmp_path: Path) -> None:
    log = tmp_path / "python.log"
    python = counting_python(tmp_path / "py", log)
    results: list[sdk.SdkInstall] = []

    def worker() -> None:
        s = sdk.SdkStore(pinman_home, python=python, env=local_env(wheelhouse))
        results.append(s.install("pypi", "pinmantoy", "2.0.0"))

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 3 and len({r.prefix for r in results}) == 1
    assert len(pip_runs(log)) == 1


@pytest.mark.parametrize("version", ["../x", "1.0/../..", "latest", ">=1", "1.0 ", "1.0;id"])
def test_rejects_versions_that_are_not_exact(store: sdk.SdkStore, version: str) -> None:
    with pytest.raises(InstallError):
        store.install("pypi", "pinmantoy", version)


# --------------------------------------------------------------------------- profiles


def test_range_resolves_like_pip_and_is_cached_for_offline(store: sdk.SdkStore, pinman_home: Paths,
                                                           tmp_path: Path) -> None:
    user_profile(pinman_home, "toy", '[sdk]\npackage = "pinmantoy"\nversion = ">=1.0,<2"\n')
    profile = find_profile("toy", tmp_path, pinman_home)
    inst = sdk_env.ensure_installed(pinman_home, profile, refresh=True, store=store)
    assert inst is not None and inst.version == "1.1.0"
    assert sdk_resolve.resolve(pinman_home, SdkPin("pinmantoy", ">=1.0,<2", "pypi", "pinmantoy"), offline=True).version == "1.1.0"
    assert sdk_env.installed_for(pinman_home, profile) == inst


def test_offline_without_a_resolution_is_an_error(pinman_home: Paths) -> None:
    with pytest.raises(InstallError, match="offline"):
        sdk_resolve.resolve(pinman_home, SdkPin("anthropic", ">=0.40", "pypi", "anthropic"), offline=True)


def test_profile_env_points_at_the_pinned_pair(store: sdk.SdkStore, pinman_home: Paths, tmp_path: Path,
                                               fake_npm: Path) -> None:
    from pinman.runtime.resolution import profile_env

    user_profile(pinman_home, "toy", '[sdk]\npackage = "pinmantoy"\nversion = "1.0.0"\n')
    profile = find_profile("toy", tmp_path, pinman_home)
    inst = store.install("pypi", "pinmantoy", "1.0.0")
    env = profile_env(pinman_home, profile)
    assert env["VIRTUAL_ENV"] == str(inst.prefix)
    assert env[sdk.PATH_PREPEND] == str(inst.prefix / "bin")
    assert env["CLAUDE_CODE_EXECUTABLE"] == str(pinman_home.shim)  # not installed: the shim resolves it
    claude = Store(pinman_home, npm=str(fake_npm)).install(CLAUDE_CODE, "2.1.331")
    assert profile_env(pinman_home, profile)["CLAUDE_CODE_EXECUTABLE"] == str(claude.binary)
    run = sdk_env.merge_env(os.environ, env)
    out = subprocess.run(["python", "-c", "import pinmantoy, sys; print(pinmantoy.__version__, sys.prefix)"],
                         env=run, capture_output=True, text=True)
    assert out.stdout.split() == ["1.0.0", str(inst.prefix)]


def test_untrusted_project_sdk_is_not_installed_run_or_on_path_until_trusted(
        pinman_home: Paths, wheelhouse: Path, tmp_path: Path) -> None:
    from pinman.profile import trust
    from pinman.runtime.resolution import profile_env

    repo = tmp_path / "repo"
    (repo / "profiles").mkdir(parents=True)
    (repo / ".pinman.toml").write_text('profile = "team"\n')
    (repo / "profiles" / "team.toml").write_text(
        '[claude-code]\nversion = "2.1.331"\n[sdk]\npackage = "pinmantoy"\nversion = "1.0.0"\n')
    profile = find_profile("team", repo, pinman_home)
    assert sdk_env.untrusted_project(pinman_home, profile)
    log = tmp_path / "python.log"
    store = sdk.SdkStore(pinman_home, python=counting_python(tmp_path / "py", log), env=local_env(wheelhouse))
    assert sdk_env.ensure_installed(pinman_home, profile, refresh=True, store=store) is None
    assert not log.exists()  # neither pip nor any venv's python ran
    assert store.get("pypi", "pinmantoy", "1.0.0") is None
    env = profile_env(pinman_home, profile)
    assert not {"VIRTUAL_ENV", "NODE_PATH", sdk.PATH_PREPEND} & set(env)
    assert sdk_coupling.describe(pinman_home, profile, "2.1.331")["withheld"] is True

    trust.trust_project(pinman_home, repo)
    profile = find_profile("team", repo, pinman_home)
    inst = sdk_env.ensure_installed(pinman_home, profile, store=store)
    assert inst is not None and not inst.only_binary  # as for the user's own profiles
    assert "--only-binary=:all:" not in pip_runs(log)[0]
    env = profile_env(pinman_home, profile)
    assert env["VIRTUAL_ENV"] == str(inst.prefix) and env[sdk.PATH_PREPEND] == str(inst.prefix / "bin")


def test_profile_without_sdk_gets_only_the_executable(pinman_home: Paths, tmp_path: Path) -> None:
    from pinman.runtime.resolution import profile_env

    user_profile(pinman_home, "plain", "")
    env = profile_env(pinman_home, find_profile("plain", tmp_path, pinman_home))
    assert env == {"CLAUDE_CODE_EXECUTABLE": str(pinman_home.shim), "DISABLE_AUTOUPDATER": "1"}


# --------------------------------------------------------------------------- coupling


def test_python_agent_sdk_coupling_reads_the_bundled_version(store: sdk.SdkStore, pinman_home: Paths,
                                                              tmp_path: Path) -> None:
    from pinman.health.doctor import check_sdk_coupling

    user_profile(pinman_home, "agent", '[sdk]\npackage = "claude-agent-sdk"\nversion = "0.1.5"\n')
    profile = find_profile("agent", tmp_path, pinman_home)
    assert sdk_coupling.coupling(pinman_home, profile, "2.1.331") is None  # not installed: unknown, not a guess
    inst = store.install("pypi", "claude-agent-sdk", "0.1.5")
    assert inst.cli_version == "2.0.99"
    fit = sdk_coupling.coupling(pinman_home, profile, "2.1.331")
    assert fit is not None and not fit.matches
    assert fit.message("agent") == "agent: claude-agent-sdk 0.1.5 is built for Claude Code 2.0.99, but agent runs 2.1.331"
    assert fit.fix == 'pin [claude-code] version = "2.0.99"'
    found = [f for f in check_sdk_coupling(pinman_home, tmp_path) if "agent" in f.message]
    assert [f.level for f in found] == ["warn"] and "2.0.99" in found[0].fix


def test_ts_agent_sdk_coupling_suggests_both_pairs(pinman_home: Paths, tmp_path: Path, fake_npm: Path) -> None:
    user_profile(pinman_home, "ts", '[sdk]\npackage = "npm:@anthropic-ai/claude-agent-sdk"\nversion = "0.1.77"\n')
    profile = find_profile("ts", tmp_path, pinman_home)
    fit = sdk_coupling.coupling(pinman_home, profile, "2.1.331")  # known by the numbering, before any install
    assert fit is not None and (fit.expects, fit.runs) == ("2.0.77", "2.1.331")
    assert fit.fix == 'pin [claude-code] version = "2.0.77", or [sdk] version = "0.3.331" (built for 2.1.331)'
    matching = sdk_coupling.coupling(pinman_home, profile, "2.0.77")
    assert matching is not None and matching.matches
    inst = sdk.SdkStore(pinman_home, npm=str(fake_npm)).install("npm", sdk.AGENT_SDK_NPM, "0.1.77")
    assert inst.cli_version == "2.0.77" and inst.env() == {"NODE_PATH": str(inst.prefix / "node_modules")}
    detail = sdk_coupling.describe(pinman_home, profile, "2.1.331")
    assert detail is not None and detail["installed"] == str(inst.prefix) and "built for Claude Code 2.0.77" in detail["warning"]


def test_plain_api_sdks_have_no_coupling(pinman_home: Paths, tmp_path: Path) -> None:
    user_profile(pinman_home, "api", '[sdk]\npackage = "anthropic"\nversion = "0.40.0"\n')
    assert sdk_coupling.coupling(pinman_home, find_profile("api", tmp_path, pinman_home), "2.1.331") is None


# --------------------------------------------------------------------------- the SDK probe


def _sdk_out(**doc: object) -> str:
    return "some warning\n" + json.dumps(doc) + "\n"


def test_sdk_probe_results_are_classified() -> None:
    from pinman.health.classify import classify

    ok = result_from_sdk(_sdk_out(sdk_version="0.40.0", status=200,
                                  body=json.dumps({"type": "message", "content": [{"type": "text", "text": "OK"}]})),
                         "", 0)
    assert (ok.probe, ok.sdk_version, ok.message, classify(ok).kind.value) == ("sdk", "0.40.0", "OK", "ok")
    body = json.dumps({"type": "error", "error": {"type": "invalid_request_error",
                                                  "message": "max_tokens: Extra inputs are not permitted"}})
    bad = result_from_sdk(_sdk_out(sdk_version="0.40.0", status=400, body=body), "", 0)
    outcome = classify(bad)
    assert (outcome.kind.value, outcome.rejected, bad.sdk_version) == ("schema", "max_tokens", "0.40.0")
    down = result_from_sdk(_sdk_out(network="[Errno 111] Connection refused"), "", 0)
    assert classify(down).kind.value == "network"
    assert classify(result_from_sdk(_sdk_out(timeout=True), "", 0)).kind.value == "timeout"
    assert classify(result_from_sdk("", "", None, timed_out=True)).kind.value == "timeout"
    crash = result_from_sdk("", "Traceback...\nSegmentation fault", -11)
    assert crash.is_error and "Segmentation fault" in crash.message


def test_sdk_probe_without_anthropic_cannot_run() -> None:
    with pytest.raises(HealthError, match="cannot import anthropic"):
        result_from_sdk(_sdk_out(cannot_run="cannot import anthropic: No module named 'anthropic'"), "", 0)


def test_sdk_probe_needs_a_pypi_sdk(pinman_home: Paths, tmp_path: Path) -> None:
    from pinman.health.prober import make_prober

    user_profile(pinman_home, "nosdk", '[health]\nprobe = "sdk"\n')
    probe = make_prober(pinman_home, find_profile("nosdk", tmp_path, pinman_home), {})
    with pytest.raises(HealthError, match='probe = "sdk" needs a PyPI'):
        probe("2.1.331")
