"""Test isolation: every test gets its own PINMAN_HOME and HOME, so none can touch a real home."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings

from pinman.paths import Paths

# Every property checks the same cases on every run and on every machine (a failure found once is
# found again), and never fails on a deadline because the machine is busy (the suite runs its
# workers in parallel on 2 cores). Properties that want more cases say so with their own settings.
settings.register_profile("pinman", derandomize=True, database=None, deadline=None)
settings.load_profile("pinman")


@pytest.fixture(autouse=True)
def pinman_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Paths:
    home = tmp_path / "pinman-home"
    user_home = tmp_path / "user-home"
    user_home.mkdir()
    monkeypatch.setenv("PINMAN_HOME", str(home))
    monkeypatch.setenv("HOME", str(user_home))
    monkeypatch.delenv("PINMAN_PROFILE", raising=False)
    for var in ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "ANTHROPIC_BASE_URL"):
        monkeypatch.delenv(var, raising=False)
    return Paths.from_env()


# --- installs: real Claude Code once per session, and a fake npm (see tests/e2e_support.py) ---

from collections.abc import Callable  # noqa: E402

from e2e_support import real_npm_env, seed, write_fake_npm  # noqa: E402

from pinman.names import CLAUDE_CODE
from pinman.install.layout import Install
from pinman.install.store import Store


@pytest.fixture(scope="session")
def real_store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    """A Store over a session PINMAN_HOME; npm uses the user's real ~/.npmrc and cache.

    With pytest-xdist the workers share one such store (the folder above their own temp folders):
    pinman's own install lock makes a second worker wait for the first one's install instead of
    running npm again."""
    base = tmp_path_factory.getbasetemp()
    home = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "real-pinman-home"
    return Store(Paths.from_env({"PINMAN_HOME": str(home)}), npm_env=real_npm_env())


@pytest.fixture(scope="session")
def real_install(real_store: Store) -> Callable[[str], Install]:
    """`real_install("2.1.331")` -> Install of real Claude Code, downloaded once per session."""
    done: dict[str, Install] = {}

    def install(version: str) -> Install:
        if version not in done:
            done[version] = real_store.install(CLAUDE_CODE, version)
        return done[version]

    return install


@pytest.fixture
def seeded_home(
    pinman_home: Paths, real_store: Store, real_install: Callable[[str], Install]
) -> Callable[..., list[Install]]:
    """`seeded_home("1.0.100", "2.1.331")`: this test's PINMAN_HOME gets those installs as
    hard links of the session installs (read-only; no bytes copied). Returns the test's Installs."""

    def seed_versions(*versions: str) -> list[Install]:
        for version in versions:
            real_install(version)
        return seed(real_store, pinman_home, versions)

    return seed_versions


@pytest.fixture
def fake_npm(tmp_path: Path) -> Path:
    """Path of a fake `npm` that writes a Claude Code-shaped prefix instantly.
    Use as `Store(paths, npm=str(fake_npm))`; knobs are FAKE_NPM_* env vars (e2e_support)."""
    return write_fake_npm(tmp_path / "fake-npm-bin")


# --- secrets: no key or token in any file under PINMAN_HOME (see tests/secret_guard.py) ---


import secret_guard  # noqa: E402


@pytest.fixture(autouse=True)
def no_secrets_under_pinman_home(pinman_home: Paths, request: pytest.FixtureRequest):  # type: ignore[no-untyped-def]
    """After each test, scan its PINMAN_HOME for the credentials the test handed out: those of
    every command `cli_support.run` ran, the environment's, and the module's KEY/TOKEN constants."""
    secret_guard.take()  # drop what an earlier test left (one that failed before its scan)
    yield
    secrets = secret_guard.take() | secret_guard.secrets_in(os.environ)
    secrets |= secret_guard.module_secrets(request.module)
    leaks = secret_guard.leaks_under(pinman_home.config.parent, secrets)
    assert not leaks, "secrets written under PINMAN_HOME:\n" + "\n".join(leaks)


# --- the registry client remembers, per process, a registry that used up a whole deadline ---


@pytest.fixture(autouse=True)
def forget_unresponsive_registries() -> None:
    """A later test's loopback server may get a port an earlier dead one had."""
    from pinman.npm.fetch import forget_unresponsive

    forget_unresponsive()
