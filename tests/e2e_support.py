"""Shared test support for installs: real Claude Code versions and a fake `npm`.

Real installs: the conftest fixtures `real_store` / `real_install` install each real version once
per session into a session PINMAN_HOME; `seeded_home` hard-links them into a test's own
PINMAN_HOME. The links share inodes with the session store, so tests must treat installs as
read-only (remove them with `Store.remove`, never write into their files).

npm runs for real installs get the HOME the test session started with, so npm reads the user's
~/.npmrc (registry, mirror, proxy) and its warm cache; the autouse fixture's fake HOME would
make every session download ~100 MB again.

The fake npm writes a Claude Code-shaped prefix in milliseconds. Environment knobs:
  FAKE_NPM_LOG=FILE          append one line per `install` call
  FAKE_NPM_DELAY=SECONDS     sleep before writing (to widen race windows)
  FAKE_NPM_FAIL=etarget|halfway|hang
  FAKE_NPM_INTEGRITY=SRI     integrity recorded in package-lock.json
  FAKE_NPM_INSTALLED_VERSION=V   write version V instead of the requested one
  FAKE_NPM_LAYOUT=js|native  default: native for claude-code >= 2, js otherwise
  FAKE_NPM_PLATFORM=KEY      platform package for native (default: this machine's; empty: none)
  FAKE_NPM_POSTINSTALL=1     link the native binary over the placeholder, as a postinstall would
  FAKE_NPM_PRINTS=TEXT       what the fake `claude --version` prints
A full disk (ENOSPC) while it writes is reported with npm's own `npm error code ENOSPC` lines.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import shutil
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from pinman.paths import Paths
from pinman.names import CLAUDE_CODE
from pinman.install.layout import Install
from pinman.install.store import Store

CLAUDE_V1 = "1.0.100"  # the 1.x representative: a node script (cli.js)
CLAUDE_V2 = "2.1.331"  # the 2.x representative: a native binary in bin/claude.exe
REAL_VERSIONS = (CLAUDE_V1, CLAUDE_V2)

# Captured at import (conftest imports this before any test patches HOME).
REAL_HOME = os.environ.get("HOME")


def real_npm_env() -> dict[str, str]:
    return {"HOME": REAL_HOME} if REAL_HOME else {}


def fake_integrity(package: str, version: str) -> str:
    digest = hashlib.sha512(f"{package}@{version}".encode()).digest()
    return "sha512-" + base64.b64encode(digest).decode()


def seed(session_store: Store, paths: Paths, versions: tuple[str, ...]) -> list[Install]:
    """Hard-link copies of session installs into `paths.store` (no bytes copied)."""
    target = Store(paths)
    seeded = []
    for version in versions:
        src = session_store.get(CLAUDE_CODE, version)
        assert src is not None, f"{version} is not in the session store"
        dst = target.path_for(CLAUDE_CODE, version)
        if not dst.exists():
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copytree(src.prefix, dst, copy_function=os.link, symlinks=True)
        install = target.get(CLAUDE_CODE, version)
        assert install is not None
        seeded.append(install)
    return seeded


FAKE_NPM = r'''
import json, os, sys, time
from pathlib import Path


def _like_npm(kind, error, tb):  # a full disk is reported the way npm reports it
    if isinstance(error, OSError) and error.errno == 28:
        print("npm error code ENOSPC", file=sys.stderr)
        print("npm error syscall write", file=sys.stderr)
        print("npm error nospc ENOSPC: no space left on device, write", file=sys.stderr)
        return
    sys.__excepthook__(kind, error, tb)


sys.excepthook = _like_npm

args = sys.argv[1:]
if args[:1] == ["--version"]:
    print("10.0.0-fake")
    sys.exit(0)
assert args[:1] == ["install"], args
if os.environ.get("FAKE_NPM_LOG"):
    with open(os.environ["FAKE_NPM_LOG"], "a") as f:
        f.write(" ".join(args) + "\n")
prefix = Path(args[args.index("--prefix") + 1])
spec = [a for a in args[1:] if not a.startswith("-") and a != str(prefix)][-1]
package, _, version = spec.rpartition("@")
time.sleep(float(os.environ.get("FAKE_NPM_DELAY", "0")))
fail = os.environ.get("FAKE_NPM_FAIL", "")
if fail == "hang":
    time.sleep(3600)
if fail == "etarget":
    print('npm warn Unknown user config "nodedir".', file=sys.stderr)
    print("npm error code ETARGET", file=sys.stderr)
    print(f"npm error notarget No matching version found for {spec}.", file=sys.stderr)
    print("npm error notarget In most cases you or one of your dependencies", file=sys.stderr)
    print("npm error A complete log of this run can be found in: /x/debug-0.log", file=sys.stderr)
    sys.exit(1)

installed = os.environ.get("FAKE_NPM_INSTALLED_VERSION", version)
pkg_dir = prefix / "node_modules" / package
pkg_dir.mkdir(parents=True)
native = os.environ.get("FAKE_NPM_LAYOUT") == "native" or (
    "FAKE_NPM_LAYOUT" not in os.environ
    and package == "@anthropic-ai/claude-code"
    and int(version.split(".")[0]) >= 2
)
prints = os.environ.get("FAKE_NPM_PRINTS", f"{installed} (Claude Code)")
script = f"#!/bin/sh\necho '{prints}'\n"

if fail == "halfway":
    (pkg_dir / "cli.js").write_text(script)
    print("npm error code ECONNRESET", file=sys.stderr)
    print("npm error network aborted", file=sys.stderr)
    sys.exit(1)

manifest = {"name": package, "version": installed}
packages = {}
if native:
    manifest["bin"] = {"claude": "bin/claude.exe"}
    (pkg_dir / "bin").mkdir()
    placeholder = pkg_dir / "bin" / "claude.exe"
    placeholder.write_text('#!/bin/sh\necho "claude native binary not installed." >&2\nexit 1\n')
    placeholder.chmod(0o755)
    key = os.environ.get("FAKE_NPM_PLATFORM")
    if key is None:
        from pinman.install.native import native_platform_keys
        key = native_platform_keys()[0]
    if key:
        name = f"{package}-{key}"
        plat = prefix / "node_modules" / name
        plat.mkdir(parents=True)
        (plat / "package.json").write_text(json.dumps({"name": name, "version": installed}))
        (plat / "claude").write_text(script)
        (plat / "claude").chmod(0o755)
        packages[f"node_modules/{name}"] = {"version": installed, "integrity": "sha512-native"}
        if os.environ.get("FAKE_NPM_POSTINSTALL"):
            placeholder.unlink()
            os.link(plat / "claude", placeholder)
else:
    manifest["bin"] = {"claude": "cli.js"}
    (pkg_dir / "cli.js").write_text(script)
    (pkg_dir / "cli.js").chmod(0o755)
(pkg_dir / "package.json").write_text(json.dumps(manifest))
bindir = prefix / "node_modules" / ".bin"
bindir.mkdir()
os.symlink(os.path.relpath(pkg_dir / manifest["bin"]["claude"], bindir), bindir / "claude")
integrity = os.environ.get("FAKE_NPM_INTEGRITY", "")
if not integrity:
    import base64, hashlib
    integrity = "sha512-" + base64.b64encode(hashlib.sha512(spec.encode()).digest()).decode()
packages[f"node_modules/{package}"] = {"version": installed, "integrity": integrity}
lock = {"lockfileVersion": 3, "packages": {"": {"dependencies": {package: version}}, **packages}}
(prefix / "package-lock.json").write_text(json.dumps(lock))
(prefix / "package.json").write_text(json.dumps({"dependencies": {package: version}}))
print(f"added {len(packages)} packages in 0s")
'''


def write_fake_npm(folder: Path) -> Path:
    """An executable fake `npm` in `folder` (Python, run by this interpreter)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "npm"
    path.write_text(f"#!{sys.executable}\n{FAKE_NPM}")
    path.chmod(0o755)
    return path


@contextlib.contextmanager
def serve_packuments(docs: dict[str, Any], hits: list[str] | None = None) -> Iterator[str]:
    """A loopback npm registry answering GET /<name> from `docs` (404 otherwise); yields its URL.
    Each requested name is appended to `hits` when given; `docs` may change while it runs."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            name = self.path.lstrip("/").replace("%2f", "/").replace("%2F", "/")
            if hits is not None:
                hits.append(name)
            doc = docs.get(name)
            body = json.dumps(doc if doc is not None else {"error": "not found"}).encode()
            self.send_response(200 if doc is not None else 404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


@contextlib.contextmanager
def dead_registry(accepted: list[int] | None = None) -> Iterator[str]:
    """A loopback 'registry' that accepts connections and never answers (a dead proxy); yields
    its URL. One item is appended to `accepted` per connection it took."""
    import socket

    listener = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.05)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            held.append(conn)  # kept open, never read or answered
            if accepted is not None:
                accepted.append(1)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/"
    finally:
        stop.set()
        thread.join()
        for conn in held:
            conn.close()
        listener.close()
