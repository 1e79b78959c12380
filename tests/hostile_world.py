"""A small world for the named hostile cases: a fake registry on loopback, the fake npm first on
PATH, user profiles pinned to fake versions, and the real `pinman` console script and shim.

`World.pinman(...)` / `World.claude(...)` run them the way a user would (tests/cli_support.py: no
traceback, no secret in any output line). The registry's `mode` says how it misbehaves:
  ok | 500 | hang (answers after `hang` seconds) | truncated | wrong-json | html
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from cli_support import Result, claude, pinman
from e2e_support import fake_integrity

from pinman.paths import Paths
from pinman.names import CLAUDE_CODE

VERSIONS = ("1.0.1", "1.0.2", "1.0.3")


def packument(versions: tuple[str, ...] = VERSIONS, integrity: dict[str, str] | None = None) -> dict[str, object]:
    integrity = integrity or {}
    return {
        "name": CLAUDE_CODE,
        "dist-tags": {"latest": versions[-1]},
        "versions": {v: {"name": CLAUDE_CODE, "version": v,
                         "dist": {"integrity": integrity.get(v, fake_integrity(CLAUDE_CODE, v)),
                                  "tarball": f"https://example.invalid/{v}.tgz"}}
                     for v in versions},
    }


@dataclass
class FakeRegistry:
    mode: str = "ok"
    hang: float = 3.0
    doc: dict[str, object] = field(default_factory=packument)
    url: str = ""
    hits: int = 0

    def body(self) -> tuple[int, bytes]:
        raw = json.dumps(self.doc).encode()
        if self.mode == "500":
            return 500, b'{"error": "internal"}'
        if self.mode == "truncated":
            return 200, raw[: len(raw) // 2]
        if self.mode == "wrong-json":
            return 200, b'{"name": "x", "versions": ["1.0.1"]}'
        if self.mode == "html":
            return 200, b"<html><body>Proxy login required</body></html>"
        return 200, raw


@contextmanager
def fake_registry(**kw: object) -> Iterator[FakeRegistry]:
    state = FakeRegistry(**kw)  # type: ignore[arg-type]

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            state.hits += 1
            if state.mode == "hang":
                time.sleep(state.hang)
            status, body = state.body()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                pass

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class World:
    paths: Paths
    cwd: Path
    registry: FakeRegistry
    npm_dir: Path
    env: dict[str, str] = field(default_factory=dict)

    def pinman(self, *args: str, cwd: Path | None = None, **extra: str) -> Result:
        return pinman(self.paths, cwd or self.cwd, *args, **{**self.env, **extra})

    def claude(self, *args: str, cwd: Path | None = None, **extra: str) -> Result:
        return claude(self.paths, cwd or self.cwd, *args, **{**self.env, **extra})

    def profile(self, name: str, version: str, extra: str = "") -> Path:
        path = self.paths.user_profiles / f"{name}.toml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f'[claude-code]\nversion = "{version}"\n{extra}')
        return path

    def installed(self) -> list[str]:
        folder = self.paths.store / "claude-code"
        return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []

    def leftovers(self) -> list[str]:
        tmp = self.paths.store / ".tmp"
        return sorted(p.name for p in tmp.iterdir()) if tmp.is_dir() else []

    def runs(self) -> str:
        """The version `claude` runs here, through the real shim ("" if it does not run)."""
        r = self.claude("--version")
        return r.out.split()[0] if r.code == 0 and r.out.split() else ""


@contextmanager
def world(paths: Paths, tmp_path: Path, fake_npm: Path, **registry: object) -> Iterator[World]:
    """Profiles `a` (1.0.1), `b` (1.0.2) and `latest` (the dist-tag) in the user folder."""
    with fake_registry(**registry) as reg:
        cwd = tmp_path / "work"
        cwd.mkdir(exist_ok=True)
        env = {
            "PATH": os.pathsep.join([str(paths.bin), str(fake_npm.parent), os.environ["PATH"]]),
            "npm_config_registry": reg.url,
            "npm_config_fetch_timeout": "1000",  # ms: a hanging registry costs a second
            "FAKE_NPM_LAYOUT": "js",
        }
        w = World(paths, cwd, reg, fake_npm.parent, env)
        w.profile("a", "1.0.1")
        w.profile("b", "1.0.2")
        w.profile("latest", "latest")
        yield w


def one_line_error(r: Result, *needles: str) -> None:
    """Non-zero, and stderr is `pinman: ...` plus at most a hint line, naming every needle."""
    assert r.code != 0, r.text
    lines = [ln for ln in r.err.splitlines() if ln.strip() and not ln.startswith("  ")]
    errors = [ln for ln in lines if ln.startswith("pinman: ")]
    assert len(errors) == 1, r.err
    for needle in needles:
        assert needle in r.err, (needle, r.err)
