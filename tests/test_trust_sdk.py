"""An untrusted project's `[sdk]` is never found installed (`installed_for`), even when the very
same SDK is in the store for the user's own profile, and a rollback never restores it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pinman.health.result import ProbeResult
from pinman.health.rollback import check
from pinman.install import sdk
from pinman.install.store import Store
from pinman.names import CLAUDE_CODE
from pinman.paths import Paths
from pinman.profile import trust
from pinman.profile.discovery import find_profile
from pinman.runtime import sdk_env
from pinman.state.journal import Entry, Journal, endpoint_of
from pinman.state.overrides import get_override, profile_key

EP = "http://127.0.0.1:4000"
SDK = '[sdk]\npackage = "npm:@anthropic-ai/claude-agent-sdk"\nversion = "0.2.31"\n'
SCHEMA = ('API Error: 400 {"type":"error","error":{"type":"invalid_request_error",'
          '"message":"thinking: Extra inputs are not permitted"}}')


@pytest.fixture
def repo(pinman_home: Paths, tmp_path: Path, fake_npm: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project whose `team` pins 2.1.331 and the agent SDK 0.2.31, which is in the store already
    (installed for the user's own profile of the same SDK)."""
    monkeypatch.setenv("ANTHROPIC_BASE_URL", EP + "/")
    monkeypatch.setenv("PATH", f"{fake_npm.parent}{os.pathsep}{os.environ['PATH']}")  # `npm` is the fake
    for version in ("1.0.100", "2.1.331"):
        Store(pinman_home).install(CLAUDE_CODE, version)
    sdk.SdkStore(pinman_home).install("npm", sdk.AGENT_SDK_NPM, "0.2.31")
    root = tmp_path / "repo"
    (root / "profiles").mkdir(parents=True)
    (root / ".pinman.toml").write_text('profile = "team"\n')
    (root / "profiles" / "team.toml").write_text(f'[claude-code]\nversion = "2.1.331"\n\n{SDK}')
    return root


def test_an_untrusted_sdk_is_never_found_installed(pinman_home: Paths, repo: Path) -> None:
    from pinman.health.prober import sdk_version

    profile = find_profile("team", repo, pinman_home)
    assert sdk_env.installed_for(pinman_home, profile) is None
    assert sdk_version(pinman_home, profile) is None  # what checks journal beside the CLI version
    trust.trust_project(pinman_home, repo)
    trusted = find_profile("team", repo, pinman_home)
    found = sdk_env.installed_for(pinman_home, trusted)
    assert found is not None and found.version == "0.2.31"


def test_a_rollback_never_restores_an_untrusted_sdk(pinman_home: Paths, repo: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from pinman.runtime import resolution

    monkeypatch.setattr(resolution, "ensure_installed", lambda *a, **k: None)
    profile = find_profile("team", repo, pinman_home)
    key = profile_key("team", repo)
    # 1.0.100 was known-good with SDK 0.1.30 (recorded when this project was trusted, say)
    Journal(pinman_home).append(Entry("check", key, "1.0.100", endpoint=endpoint_of(EP), outcome="ok",
                                      sdk_version="0.1.30"))
    calls: list[tuple[str, str | None]] = []

    def endpoint(version: str, sdk_version: str | None = None) -> ProbeResult:
        calls.append((version, sdk_version))
        if version == "2.1.331":
            return ProbeResult("cli", 1, 400, "invalid_request_error", SCHEMA, 0.1, is_error=True)
        return ProbeResult("cli", 0, None, None, "OK", 0.1, is_error=False)

    r = check(pinman_home, profile, prober=endpoint)
    assert r.action == "rolled-back" and r.rollback == {"from": "2.1.331", "to": "1.0.100"}
    assert calls == [("2.1.331", None), ("1.0.100", None)]  # re-probed without any SDK
    assert sdk.SdkStore(pinman_home).get("npm", sdk.AGENT_SDK_NPM, "0.1.30") is None  # never installed
    ov = get_override(pinman_home, "team", repo)
    assert ov is not None and ov.version == "1.0.100" and ov.sdk_version is None
