"""Fingerprints: cached per version, diffed, and taken from the real 1.0.100 and 2.1.331."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from cli_support import pinman

from pinman.fingerprint import fingerprints as fpm
from pinman.errors import InstallError
from pinman.fingerprint.fakeapi import CLAUDE_CODE_1_0_100_BETAS, CLAUDE_CODE_1_0_100_KEYS, CLAUDE_CODE_2_1_331_BETAS, CLAUDE_CODE_2_1_331_KEYS
from pinman.fingerprint.fingerprints import Diff, Fingerprint, diff, mentions, roots
from pinman.paths import Paths
from pinman.fingerprint.proxy import Recorded
from pinman.names import CLAUDE_CODE
from pinman.install.layout import Install
from pinman.install.store import Store


def rec(keys: list[str], betas: list[str], *, path: str = "/v1/messages", headers: list[str] = (),
        model: str = "m") -> Recorded:
    return Recorded("POST", path, ["beta"], list(headers), sorted(keys), betas, "ua", model, 200)


def fp(version: str, *reqs: Recorded) -> Fingerprint:
    return Fingerprint(version, tuple(reqs))


OLD = fp("1.0.0", rec(["model", "messages", "temperature", "tools", "tools.*.name"], ["b1", "b2"],
                      headers=["x-api-key"]),
         rec(["model", "messages"], ["b2"], model="haiku"),
         rec(["x"], ["ignored"], path="/v1/messages/count_tokens"))
NEW = fp("2.0.0", rec(["model", "messages", "thinking", "thinking.type", "output_config",
                       "output_config.effort", "tools", "tools.*.name", "tools.*.defer_loading"],
                      ["b1", "effort-2025-11-24"], headers=["x-api-key", "x-session"]))


def test_fingerprint_unions_messages_requests_only() -> None:
    assert OLD.keys == ["messages", "model", "temperature", "tools", "tools.*.name"]
    assert OLD.top_keys == ["messages", "model", "temperature", "tools"]
    assert OLD.betas == ["b1", "b2"] and OLD.models == ["haiku", "m"]
    assert len(OLD.messages) == 2


def test_json_round_trip() -> None:
    doc = json.loads(json.dumps(NEW.to_json()))
    assert doc["keys"] == NEW.keys and doc["format"] == fpm.FORMAT
    assert Fingerprint.from_json(doc) == NEW


def test_diff_and_summary() -> None:
    d = diff(OLD, NEW)
    assert d.keys_added == ["output_config", "output_config.effort", "thinking", "thinking.type",
                            "tools.*.defer_loading"]
    assert d.keys_removed == ["temperature"]
    assert (d.betas_added, d.betas_removed) == (["effort-2025-11-24"], ["b2"])
    assert (d.headers_added, d.headers_removed) == (["x-session"], [])
    assert d.summary() == ("adds body keys output_config, thinking, tools.*.defer_loading; "
                           "beta effort-2025-11-24")
    assert d.to_json()["keys_added_roots"] == ["output_config", "thinking", "tools.*.defer_loading"]
    assert diff(NEW, NEW).empty and diff(NEW, NEW).summary() == "adds no body key or beta"


def test_roots() -> None:
    assert roots(["a", "a.b", "a.b.c", "x.*.y", "x.*.y.z", "q.r"]) == ["a", "q.r", "x.*.y"]
    assert roots([]) == []


@pytest.mark.parametrize("rejected, named", [
    ("thinking", True),
    ("output_config.effort", True),
    ("tools.3.defer_loading", True),
    ("tools.3.custom.defer_loading", True),  # the API names the tool variant; requests do not
    ("effort-2025-11-24", True),
    ("other-beta, effort-2025-11-24", True),
    ("temperature", False),  # removed, not added
    ("context_management", False),
    (None, False),
])
def test_mentions(rejected: str | None, named: bool) -> None:
    assert mentions(diff(OLD, NEW), rejected) is named


# ------------------------------------------------------------------ the cache


def test_cached_per_version(pinman_home: Paths, fake_npm: Path) -> None:
    Store(pinman_home, npm=str(fake_npm)).install(CLAUDE_CODE, "2.0.0")
    taken: list[str] = []

    def take(version: str, binary: Path) -> Fingerprint:
        taken.append(version)
        assert binary.exists()
        return Fingerprint(version, NEW.requests)

    first = fpm.fingerprint(pinman_home, "2.0.0", take=take)
    again = fpm.fingerprint(pinman_home, "v2.0.0", take=take)
    assert taken == ["2.0.0"] and first == again
    assert fpm.cache_path(pinman_home, "2.0.0").is_file()
    fpm.fingerprint(pinman_home, "2.0.0", take=take, refresh=True)
    assert taken == ["2.0.0", "2.0.0"]


def test_a_cached_fingerprint_needs_no_install(pinman_home: Paths) -> None:
    path = fpm.cache_path(pinman_home, "2.0.0")
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(NEW.to_json()))
    assert fpm.fingerprint(pinman_home, "2.0.0", take=pytest.fail) == NEW  # type: ignore[arg-type]


@pytest.mark.parametrize("content", ["{not json", json.dumps({**NEW.to_json(), "format": -1}),
                                     json.dumps({**NEW.to_json(), "version": "9.9.9"})])
def test_unusable_cache_entries_are_taken_again(pinman_home: Paths, fake_npm: Path,
                                                content: str) -> None:
    Store(pinman_home, npm=str(fake_npm)).install(CLAUDE_CODE, "2.0.0")
    path = fpm.cache_path(pinman_home, "2.0.0")
    path.parent.mkdir(parents=True)
    path.write_text(content)
    got = fpm.fingerprint(pinman_home, "2.0.0", take=lambda v, b: Fingerprint(v, OLD.requests))
    assert got.requests == OLD.requests


def test_versions_become_file_names_only_when_exact(pinman_home: Paths) -> None:
    with pytest.raises(InstallError):
        fpm.cache_path(pinman_home, "../../x")


# ------------------------------------------------------------------ real versions


@pytest.mark.e2e
def test_real_fingerprints_match_what_the_fake_api_recorded(
    pinman_home: Paths, seeded_home: Callable[..., list[Install]], tmp_path: Path,
) -> None:
    seeded_home("1.0.100", "2.1.331")
    old = fpm.fingerprint(pinman_home, "1.0.100")
    new = fpm.fingerprint(pinman_home, "2.1.331")
    assert set(old.top_keys) == CLAUDE_CODE_1_0_100_KEYS
    assert set(old.betas) == CLAUDE_CODE_1_0_100_BETAS
    assert set(new.top_keys) == CLAUDE_CODE_2_1_331_KEYS
    assert set(new.betas) == CLAUDE_CODE_2_1_331_BETAS
    d = diff(old, new)
    assert {"thinking", "context_management", "output_config", "messages.*.output_config",
            "tools.*.defer_loading"} <= set(roots(d.keys_added))
    assert "temperature" in d.keys_removed
    assert "effort-2025-11-24" in d.betas_added
    assert mentions(d, "thinking") and mentions(d, "tools.3.custom.defer_loading")
    # the placeholder key of the scratch environment is the only key the client saw, and even
    # its header value is not in the cached file
    text = fpm.cache_path(pinman_home, "2.1.331").read_text()
    assert "sk-ant" not in text and "x-api-key" in text

    work = tmp_path / "work"
    work.mkdir()
    r = pinman(pinman_home, work, "diff", "1.0.100", "2.1.331")
    assert r.code == 0, r.text
    assert "+ body keys: context_management, messages.*.output_config, output_config, thinking, " \
           "tools.*.defer_loading" in r.out
    assert "- body keys: temperature" in r.out
    doc = json.loads(pinman(pinman_home, work, "fingerprint", "2.1.331", "--json").out)
    assert doc["version"] == "2.1.331" and "thinking" in doc["keys"]
    assert pinman(pinman_home, work, "fingerprint", "2.1.x").code == 2


def test_diff_dataclass_is_plain() -> None:
    d = Diff("a", "b", [], [], [], [], [], [], ([], []))
    assert d.empty and d.to_json()["a"] == "a"


@pytest.mark.e2e
def test_live_fingerprint_shows_what_the_endpoint_saw(real_install: Callable[[str], Install]) -> None:
    import os

    from pinman.fingerprint.fakeapi import FakeAPI

    key = "sk-ant-api03-live-fingerprint-0123456789"
    with FakeAPI("strict") as api:
        env = {"PATH": os.environ["PATH"], "ANTHROPIC_BASE_URL": api.url, "ANTHROPIC_API_KEY": key}
        live, outcome = fpm.take_live("2.1.331", real_install("2.1.331").binary, env,
                                      isolated_home=True)
    assert (outcome.kind.value, outcome.rejected) == ("schema", "thinking")
    assert live.mode == "live" and live.endpoint == f"http://127.0.0.1:{api.port}"
    assert live.messages[0].status == 400 and "thinking" in live.keys
    assert key not in json.dumps(live.to_json())
