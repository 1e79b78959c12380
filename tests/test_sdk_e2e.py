"""End to end: real SDKs from PyPI and npm, used through `pinman exec` with the pinned Claude Code.

Each real SDK is installed once per session into a session PINMAN_HOME (pip and npm use the real
HOME, so their caches make repeat runs fast) and hard-linked into each test's own PINMAN_HOME.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from cli_support import pinman
from e2e_support import real_npm_env

from pinman.install import sdk
from pinman.fingerprint.fakeapi import FakeAPI
from pinman.paths import Paths

pytestmark = pytest.mark.e2e

CLAUDE = "2.1.331"
ANTHROPIC_A, ANTHROPIC_B = "0.40.0", "1.13.0"
# The TypeScript Agent SDK 0.1.x bundles Claude Code 2.0.N as cli.js (93 MB installed; 0.3.x pulls
# a 381 MB native binary), so it is the light one, and its bundled CLI differs from the pin.
TS_AGENT = "0.1.77"
KEY = "sk-ant-test-e2e-0123456789"

SdkFactory = Callable[[str, str, str], sdk.SdkInstall]


@pytest.fixture(scope="session")
def sdk_session(tmp_path_factory: pytest.TempPathFactory) -> sdk.SdkStore:
    home = tmp_path_factory.mktemp("sdk-pinman-home")
    return sdk.SdkStore(Paths.from_env({"PINMAN_HOME": str(home)}), env=real_npm_env())


@pytest.fixture(scope="session")
def real_sdk(sdk_session: sdk.SdkStore) -> SdkFactory:
    done: dict[tuple[str, str, str], sdk.SdkInstall] = {}

    def install(ecosystem: str, name: str, version: str) -> sdk.SdkInstall:
        key = (ecosystem, name, version)
        if key not in done:
            done[key] = sdk_session.install(ecosystem, name, version)
        return done[key]

    return install


@pytest.fixture
def seeded_sdk(pinman_home: Paths, real_sdk: SdkFactory) -> SdkFactory:
    """Like `seeded_home`, for SDKs: hard links of the session install (read-only)."""

    def seed(ecosystem: str, name: str, version: str) -> sdk.SdkInstall:
        src = real_sdk(ecosystem, name, version)
        store = sdk.SdkStore(pinman_home)
        dst = store.path_for(ecosystem, name, version)
        if not dst.exists():
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copytree(src.prefix, dst, copy_function=os.link, symlinks=True)
        found = store.get(ecosystem, name, version)
        assert found is not None
        return found

    return seed


def profile(paths: Paths, name: str, package: str, version: str, extra: str = "") -> None:
    paths.user_profiles.mkdir(parents=True, exist_ok=True)
    (paths.user_profiles / f"{name}.toml").write_text(
        f'[claude-code]\nversion = "{CLAUDE}"\n\n[sdk]\npackage = "{package}"\nversion = "{version}"\n{extra}')


def test_two_profiles_import_their_own_anthropic(pinman_home: Paths, seeded_sdk: SdkFactory, tmp_path: Path) -> None:
    a = seeded_sdk("pypi", "anthropic", ANTHROPIC_A)
    b = seeded_sdk("pypi", "anthropic", ANTHROPIC_B)
    profile(pinman_home, "a", "anthropic", ANTHROPIC_A)
    profile(pinman_home, "b", "anthropic", ANTHROPIC_B)
    show = "import anthropic, sys; print(anthropic.__version__, sys.prefix)"
    for name, inst in (("a", a), ("b", b)):
        env = json.loads(pinman(pinman_home, tmp_path, "env", "--json", name).out)
        assert env["VIRTUAL_ENV"] == str(inst.prefix)
        r = pinman(pinman_home, tmp_path, "exec", "-p", name, "--", "sh", "-c", f'"$VIRTUAL_ENV/bin/python" -c "{show}"')
        assert r.code == 0, r.text
        assert r.out.split() == [inst.version, str(inst.prefix)]
    assert str(a.prefix / "bin") in env_path(pinman_home, tmp_path, "a")
    for name, inst in (("a", a), ("b", b)):
        r = pinman(pinman_home, tmp_path, "exec", "-p", name, "--", "python", "-c", show)
        assert r.code == 0, r.text
        assert r.out.split() == [inst.version, str(inst.prefix)]


def test_shim_pointer_carries_the_sdk(pinman_home: Paths, seeded_home: Callable[..., object],
                                      seeded_sdk: SdkFactory, tmp_path: Path) -> None:
    """What `claude` runs with (its Bash tool's `python` included) comes from the pointer."""
    seeded_home(CLAUDE)
    a = seeded_sdk("pypi", "anthropic", ANTHROPIC_A)
    profile(pinman_home, "a", "anthropic", ANTHROPIC_A)
    assert pinman(pinman_home, tmp_path, "use", "a").code == 0
    pointer = pinman_home.links / "g" / "a"
    text = pointer.read_text()
    assert f"export VIRTUAL_ENV='{a.prefix}'" in text and "claude.exe" in text
    assert f"export CLAUDE_CODE_EXECUTABLE='{pinman_home.store}/claude-code/{CLAUDE}/" in text
    assert sdk.PATH_PREPEND not in text  # prepended to PATH, not exported as a variable
    r = run_sh(f'. "{pointer}"; _pm_env; python -c "import anthropic; print(anthropic.__version__)"')
    assert r.stdout.strip() == ANTHROPIC_A, r.stderr


def run_sh(script: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["sh", "-c", script], capture_output=True, text=True, timeout=60)


def env_path(paths: Paths, cwd: Path, name: str) -> list[str]:
    return json.loads(pinman(paths, cwd, "env", "--json", name).out)["PATH"].split(os.pathsep)


def test_npm_sdk_is_found_by_require(pinman_home: Paths, seeded_sdk: SdkFactory, tmp_path: Path) -> None:
    inst = seeded_sdk("npm", sdk.AGENT_SDK_NPM, TS_AGENT)
    profile(pinman_home, "ts", f"npm:{sdk.AGENT_SDK_NPM}", TS_AGENT)
    r = pinman(pinman_home, tmp_path, "exec", "-p", "ts", "--", "node", "-e",
               f"const m = require('{sdk.AGENT_SDK_NPM}'); "
               f"console.log(require.resolve('{sdk.AGENT_SDK_NPM}'), typeof m.query)")
    assert r.code == 0, r.text
    assert r.out.split() == [str(inst.prefix / "node_modules" / sdk.AGENT_SDK_NPM / "sdk.mjs"), "function"]


AGENT_SCRIPT = """\
// ESM ignores NODE_PATH; createRequire's resolver honours it.
import { createRequire } from "node:module";
const require = createRequire(import.meta.url);
const { query } = await import(require.resolve("@anthropic-ai/claude-agent-sdk"));
const options = { maxTurns: 1, pathToClaudeCodeExecutable: process.env.CLAUDE_CODE_EXECUTABLE };
for await (const m of query({ prompt: "Reply with OK", options })) {
  if (m.type === "result") console.log(JSON.stringify({ result: m.result, is_error: m.is_error }));
}
"""


def test_agent_sdk_runs_the_pinned_cli(pinman_home: Paths, seeded_home: Callable[..., object],
                                       seeded_sdk: SdkFactory, tmp_path: Path) -> None:
    seeded_home(CLAUDE)
    seeded_sdk("npm", sdk.AGENT_SDK_NPM, TS_AGENT)
    profile(pinman_home, "agent", f"npm:{sdk.AGENT_SDK_NPM}", TS_AGENT)
    script = tmp_path / "agent.mjs"
    script.write_text(AGENT_SCRIPT)
    with FakeAPI("ok") as api:
        r = pinman(pinman_home, tmp_path, "exec", "-p", "agent", "--", "node", str(script),
                   ANTHROPIC_BASE_URL=api.url, ANTHROPIC_API_KEY=KEY, CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC="1")
        agents = {req.user_agent for req in api.messages_requests()}
    assert r.code == 0, r.text
    assert json.loads(r.out.splitlines()[-1]) == {"result": "OK", "is_error": False}
    # the pinned CLI, not the 2.0.77 that this SDK release bundles
    assert agents == {f"claude-cli/{CLAUDE} (external, sdk-ts, agent-sdk/{TS_AGENT})"}

    shown = pinman(pinman_home, tmp_path, "show", "agent", "--json")
    assert json.loads(shown.out)["sdk"]["expects_cli"] == "2.0.77"
    assert f"is built for Claude Code 2.0.77, but agent runs {CLAUDE}" in shown.err
    assert '[sdk] version = "0.3.331"' in shown.err
    doctor = json.loads(pinman(pinman_home, tmp_path, "doctor", "--json").out)
    warned = [f for f in doctor if f["level"] == "warn" and "agent-sdk 0.1.77" in f["message"]]
    assert len(warned) == 1 and 'pin [claude-code] version = "2.0.77"' in warned[0]["fix"]


@pytest.mark.parametrize("mode, outcome", [("ok", "ok"), ("strict", "schema")])
def test_sdk_probe_check(pinman_home: Paths, seeded_home: Callable[..., object], seeded_sdk: SdkFactory,
                         tmp_path: Path, mode: str, outcome: str) -> None:
    seeded_home(CLAUDE)
    seeded_sdk("pypi", "anthropic", ANTHROPIC_A)
    profile(pinman_home, "api", "anthropic", ANTHROPIC_A,
            '\n[health]\nprobe = "sdk"\nmodel = "claude-haiku-4-5"\ntimeout = 30\nauto_rollback = false\n')
    # strict: a gateway whose allow-list lacks a field every messages request carries
    with FakeAPI(mode, allow_keys={"model", "messages"}) as api:
        r = pinman(pinman_home, tmp_path, "check", "api", "--json", ANTHROPIC_BASE_URL=api.url, ANTHROPIC_API_KEY=KEY)
        seen = api.messages_requests()
    report = json.loads(r.out)
    assert report["outcome"] == outcome, r.text
    assert [req.user_agent for req in seen] == [f"Anthropic/Python {ANTHROPIC_A}"]
    assert seen[0].headers["x-api-key"] == "<redacted>" and KEY not in r.text
    if outcome == "schema":
        assert report["rejected"] == "max_tokens" and r.code == 11
        assert report["action"] == "reported"
    else:
        assert r.code == 0
