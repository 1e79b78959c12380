"""Test isolation: every test gets its own PINMAN_HOME and HOME, so none can touch a real home."""

from __future__ import annotations

from pathlib import Path

import pytest

from pinman.paths import Paths


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
