"""Run the installed `pinman` console script and the `claude` shim the way a user would."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import secret_guard

from pinman.paths import Paths

PINMAN = str(Path(sys.executable).parent / "pinman")
# Every command runs with a key unless the test hands it credentials of its own, so the secret
# guard (tests/secret_guard.py) watches the whole end-to-end suite.
DEFAULT_KEY = "sk-ant-api03-pinman-e2e-guard-0f1e2d3c4b5a6978"


@dataclass
class Result:
    code: int
    out: str
    err: str

    @property
    def text(self) -> str:
        return self.out + self.err


def user_env(paths: Paths, **extra: str) -> dict[str, str]:
    """The test's environment with the shim first on PATH, as the README tells users."""
    env = {k: v for k, v in os.environ.items() if k != "PINMAN_PROFILE"}
    env["PATH"] = f"{paths.bin}{os.pathsep}{env.get('PATH', '')}"
    env.update(extra)
    if not any(v in extra or env.get(v) for v in secret_guard.SECRET_VARS):
        env["ANTHROPIC_API_KEY"] = DEFAULT_KEY
    return env


def run(args: list[str], paths: Paths, cwd: Path, timeout: float = 300, **extra: str) -> Result:
    env = user_env(paths, **extra)
    secrets = secret_guard.note(env)
    proc = subprocess.run(args, cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    assert "Traceback" not in proc.stderr, proc.stderr
    secret_guard.assert_clean_output(proc.stdout + "\n" + proc.stderr, secrets, " ".join(args[:3]))
    return Result(proc.returncode, proc.stdout, proc.stderr)


def pinman(paths: Paths, cwd: Path, *args: str, **extra: str) -> Result:
    return run([PINMAN, *args], paths, cwd, **extra)


def claude(paths: Paths, cwd: Path, *args: str, **extra: str) -> Result:
    return run([str(paths.shim), *args], paths, cwd, **extra)


def fake_install(paths: Paths, version: str) -> None:
    """A complete install as the store records one (its marker), for commands that only look at
    it (status, rollback by hand); its binary only fails."""
    import json

    from pinman.names import CLAUDE_CODE

    prefix = paths.store / "claude-code" / version
    package = prefix / "node_modules" / CLAUDE_CODE
    package.mkdir(parents=True)
    binary = package / "cli.js"
    binary.write_text("#!/bin/sh\necho 'not a client' >&2\nexit 1\n")  # what a probe of it sees
    binary.chmod(0o755)
    (prefix / ".pinman-install.json").write_text(json.dumps(
        {"schema": 1, "package": CLAUDE_CODE, "version": version, "integrity": None,
         "installed_at": "2026-01-01T00:00:00Z", "bin": "cli.js"}))


def cache_registry(paths: Paths, cwd: Path, versions: list[str], latest: str) -> str:
    """Let pinman cache a registry document naming `versions` (`latest` tagged); returns the URL of
    that registry, closed by then, so what follows answers from the cache or not at all."""
    from e2e_support import serve_packuments

    from pinman.names import CLAUDE_CODE

    doc = {"name": CLAUDE_CODE, "dist-tags": {"latest": latest},
           "versions": {v: {"name": CLAUDE_CODE, "version": v} for v in versions}}
    with serve_packuments({CLAUDE_CODE: doc}) as url:
        done = pinman(paths, cwd, "resolve", "latest", npm_config_registry=url)
    assert done.code == 0, done.text
    return url
