"""Run the installed `pinman` console script and the `claude` shim the way a user would."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from pinman.paths import Paths

PINMAN = str(Path(sys.executable).parent / "pinman")


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
    return env


def run(args: list[str], paths: Paths, cwd: Path, timeout: float = 300, **extra: str) -> Result:
    proc = subprocess.run(args, cwd=cwd, env=user_env(paths, **extra), capture_output=True,
                          text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    assert "Traceback" not in proc.stderr, proc.stderr
    return Result(proc.returncode, proc.stdout, proc.stderr)


def pinman(paths: Paths, cwd: Path, *args: str, **extra: str) -> Result:
    return run([PINMAN, *args], paths, cwd, **extra)


def claude(paths: Paths, cwd: Path, *args: str, **extra: str) -> Result:
    return run([str(paths.shim), *args], paths, cwd, **extra)
