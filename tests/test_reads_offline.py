"""Read commands answer from this machine; the shim asks the registry only when its cache is older
than PINMAN_REGISTRY_TTL, and a dead proxy costs it one bounded wait.

The registry is a loopback server counting requests (`serve_packuments`); the dead proxy accepts
connections and never answers (`dead_registry`), set as HTTP_PROXY the way a company sets one.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cli_support import claude, pinman
from e2e_support import dead_registry, serve_packuments

from pinman.runtime.shim import ensure_shim
from pinman.paths import Paths
from pinman.names import CLAUDE_CODE

V1 = "1.0.100"
FLOATING = "1.0.100-edge.3"  # what `latest` names on this registry: no live registry knows it


def _doc(latest: str) -> dict[str, object]:
    versions = {v: {"name": CLAUDE_CODE, "version": v, "engines": {"node": ">=18"}} for v in (V1, FLOATING)}
    return {"name": CLAUDE_CODE, "dist-tags": {"latest": latest}, "versions": versions}


@pytest.fixture
def registry(pinman_home: Paths) -> Iterator[tuple[str, list[str]]]:
    """A loopback registry where `latest` is FLOATING; yields (url, requests seen)."""
    hits: list[str] = []
    with serve_packuments({CLAUDE_CODE: _doc(FLOATING)}, hits) as url:
        yield url, hits


def _profile(paths: Paths, name: str, spec: str) -> None:
    p = paths.user_profiles / f"{name}.toml"
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(f'[claude-code]\nversion = "{spec}"\n')


def _age_cache(paths: Paths, seconds: float) -> None:
    for f in paths.registry_cache.glob("*.json"):
        doc = json.loads(f.read_text())
        doc["fetched_at"] -= seconds
        f.write_text(json.dumps(doc))
        os.utime(f, (doc["fetched_at"], doc["fetched_at"]))


def _proxy(url: str) -> dict[str, str]:
    return {"HTTP_PROXY": url, "http_proxy": url, "HTTPS_PROXY": url, "https_proxy": url,
            "NO_PROXY": "", "no_proxy": ""}


READS = [["status"], ["status", "--json"], ["list"], ["list", "--json"], ["show", "edge"], ["show", "edge", "--json"],
         ["current"], ["current", "--json"], ["which"], ["versions"], ["versions", "--json"], ["history"],
         ["prune", "--dry-run"]]


def test_read_commands_never_ask_the_registry(pinman_home: Paths, tmp_path: Path,
                                              registry: tuple[str, list[str]]) -> None:
    url, hits = registry
    _profile(pinman_home, "edge", "latest")
    env = {"npm_config_registry": url, "PINMAN_PROFILE": "edge", "PINMAN_REGISTRY_TTL": "0"}
    assert pinman(pinman_home, tmp_path, "list", "--refresh", **env).code == 0
    assert hits == [CLAUDE_CODE]
    _age_cache(pinman_home, 3 * 3600 + 60)

    accepted: list[int] = []
    with dead_registry(accepted) as dead:
        for args in READS:
            r = pinman(pinman_home, tmp_path, *args, **env, **_proxy(dead))
            if args == ["which"]:  # it resolved, and says the version is not installed
                assert r.code != 0 and f"edge {FLOATING} is not installed" in r.err, r.text
            else:
                assert r.code == 0, (args, r.text)
    assert hits == [CLAUDE_CODE] and accepted == []

    status = pinman(pinman_home, tmp_path, "status", **env).out
    assert f"edge: {FLOATING}  pinned latest, resolved 3 hours ago" in status
    rows = {r["name"]: r for r in json.loads(pinman(pinman_home, tmp_path, "list", "--json", **env).out)}
    assert rows["edge"]["version"] == FLOATING and rows["edge"]["resolved_at"] > 0
    assert re.search(rf"edge\s+user\s+latest\s+{re.escape(FLOATING)}\s+3 hours ago", pinman(
        pinman_home, tmp_path, "list", **env).out)
    show = json.loads(pinman(pinman_home, tmp_path, "show", "edge", "--json", **env).out)
    assert show["why"] == f"latest -> {FLOATING}, resolved 3 hours ago"
    current = json.loads(pinman(pinman_home, tmp_path, "current", "--json", **env).out)
    assert current["why"] == f"pinned latest -> {FLOATING}, resolved 3 hours ago"
    assert hits == [CLAUDE_CODE]


def test_refresh_asks_the_registry(pinman_home: Paths, tmp_path: Path, registry: tuple[str, list[str]]) -> None:
    url, hits = registry
    _profile(pinman_home, "edge", "latest")
    env = {"npm_config_registry": url, "PINMAN_PROFILE": "edge"}
    for n, args in enumerate([["status"], ["list"], ["show", "edge"], ["current"], ["versions", "--remote"]], 1):
        r = pinman(pinman_home, tmp_path, *args, "--refresh" if args[0] != "versions" else "--json", **env)
        assert r.code == 0, r.text
        assert len(hits) == n, args  # one request per command: one answer serves every profile
    assert "resolved just now" in pinman(pinman_home, tmp_path, "status", **env).out


def test_a_tag_never_resolved_here_says_how_to_resolve_it(pinman_home: Paths, tmp_path: Path,
                                                         registry: tuple[str, list[str]]) -> None:
    url, hits = registry
    _profile(pinman_home, "edge", "latest")
    env = {"npm_config_registry": url, "PINMAN_PROFILE": "edge"}
    rows = {r["name"]: r for r in json.loads(pinman(pinman_home, tmp_path, "list", "--json", **env).out)}
    assert rows["edge"]["version"] is None and "--refresh" in rows["edge"]["problem"]
    r = pinman(pinman_home, tmp_path, "current", **env)
    assert r.code == 4 and r.err.splitlines()[0] == "pinman: edge: 'latest' has not been resolved on this machine yet"
    assert "--refresh" in r.err
    assert hits == []
    r = pinman(pinman_home, tmp_path, "current", "--refresh", **env)
    assert r.code == 0 and r.out.startswith(f"edge {FLOATING}") and len(hits) == 1


# --------------------------------------------------------------------------- the shim's slow path


@pytest.fixture
def shim_home(pinman_home: Paths, seeded_home: Callable[..., object]) -> Paths:
    """1.0.100 installed, a profile following `latest`, the shim in place, no pointer yet."""
    seeded_home(V1)
    _profile(pinman_home, "edge", "latest")
    ensure_shim(pinman_home)
    return pinman_home


def _no_pointer(paths: Paths) -> None:
    for ptr in paths.links.rglob("*") if paths.links.is_dir() else []:
        if ptr.is_file():
            ptr.unlink()


@pytest.fixture
def v1_registry(pinman_home: Paths) -> Iterator[tuple[str, list[str]]]:
    hits: list[str] = []
    with serve_packuments({CLAUDE_CODE: _doc(V1)}, hits) as url:
        yield url, hits


@pytest.mark.e2e
def test_shim_uses_a_cache_within_its_ttl_and_asks_once_it_expired(
        shim_home: Paths, tmp_path: Path, v1_registry: tuple[str, list[str]]) -> None:
    url, hits = v1_registry
    env = {"npm_config_registry": url, "PINMAN_PROFILE": "edge"}
    assert claude(shim_home, tmp_path, "--version", **env).out.startswith(V1)  # no cache: asks
    assert len(hits) == 1
    _no_pointer(shim_home)
    assert claude(shim_home, tmp_path, "--version", **env).out.startswith(V1)  # fresh: does not
    assert len(hits) == 1
    _no_pointer(shim_home)
    _age_cache(shim_home, 11 * 60)  # older than the default 10 minutes
    assert claude(shim_home, tmp_path, "--version", **env).out.startswith(V1)
    assert len(hits) == 2
    _no_pointer(shim_home)
    assert claude(shim_home, tmp_path, "--version", PINMAN_REGISTRY_TTL="0", **env).out.startswith(V1)
    assert len(hits) == 3


@pytest.mark.e2e
def test_shim_behind_a_dead_proxy_waits_once_then_runs_the_cached_resolution(
        shim_home: Paths, tmp_path: Path, v1_registry: tuple[str, list[str]]) -> None:
    url, hits = v1_registry
    env = {"npm_config_registry": url, "PINMAN_PROFILE": "edge", "npm_config_fetch_timeout": "500"}
    assert claude(shim_home, tmp_path, "--version", **env).out.startswith(V1)
    _no_pointer(shim_home)
    _age_cache(shim_home, 2 * 86400)
    accepted: list[int] = []
    with dead_registry(accepted) as dead:
        r = claude(shim_home, tmp_path, "--version", **env, **_proxy(dead))
    assert r.code == 0 and r.out.startswith(V1), r.text
    assert r.err.strip() == (f"pinman: registry {url.split('/')[2]}: timed out: no complete answer within 0.5 s; "
                             f"using latest -> {V1}, resolved 2 days ago")
    assert accepted == [1] and len(hits) == 1


@pytest.mark.e2e
def test_shim_behind_a_dead_proxy_without_a_cache_fails_in_one_line(
        shim_home: Paths, tmp_path: Path, v1_registry: tuple[str, list[str]]) -> None:
    url, _ = v1_registry
    env = {"npm_config_registry": url, "PINMAN_PROFILE": "edge", "npm_config_fetch_timeout": "500"}
    with dead_registry() as dead:
        r = claude(shim_home, tmp_path, "--version", **env, **_proxy(dead))
    assert r.code == 4 and r.out == ""
    (line,) = r.err.splitlines()
    assert line.startswith(f"pinman: cannot fetch {CLAUDE_CODE} from {url}: timed out: no complete answer "
                           "within 0.5 s (")
    assert "fetch-timeout" in line


def test_status_behind_a_dead_proxy_without_a_cache_answers_at_once(pinman_home: Paths, tmp_path: Path) -> None:
    """Read commands do not even try: the profile says it is not resolved yet."""
    _profile(pinman_home, "edge", "latest")
    accepted: list[int] = []
    with dead_registry(accepted) as dead:
        r = pinman(pinman_home, tmp_path, "status", npm_config_registry=dead)
    assert r.code == 0 and accepted == []
    assert "edge: ?" in r.out and "not resolved on this machine yet" in r.out
