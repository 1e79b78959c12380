"""Running npm (or any build tool) for the store: output captured, the whole process group killed
on timeout or Ctrl-C, npm's error turned into one line and a hint, and the built `claude` asked
for its version with the user's own config untouched.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import tempfile
from pathlib import Path

VERSION_CHECK_TIMEOUT = 60.0  # first run of a 380 MB binary from a cold page cache can be slow
NPM_HINTS = {
    "ECONNREFUSED": "check the network and the registry/proxy settings in ~/.npmrc",
    "ENOTFOUND": "check the network and the registry/proxy settings in ~/.npmrc",
    "EAI_AGAIN": "check the network and the registry/proxy settings in ~/.npmrc",
    "ETIMEDOUT": "check the network and the registry/proxy settings in ~/.npmrc",
    "ECONNRESET": "check the network and the registry/proxy settings in ~/.npmrc",
    "E401": "check the registry credentials in ~/.npmrc",
    "E403": "check the registry credentials in ~/.npmrc",
    "ENOSPC": "free some disk space",
}
_NPM_NOISE = re.compile(
    r"(code|errno|syscall|path|dest|notarget In most cases|A complete log"
    r"|Log files were not written|You can rerun|\d{3}\s*$|\s|[{}]|$)"
)


def npm_error(output: str) -> tuple[str | None, str | None]:
    """npm's error code and most informative line (`npm error` from npm 10, `npm ERR!` before)."""
    code = line = None
    for raw in output.splitlines():
        m = re.match(r"npm (?:error|ERR!) ?(.*)", raw)
        if m is None:
            continue
        text = m.group(1)
        if code is None and text.startswith("code "):
            code = text[5:].strip()
        if line is None and not _NPM_NOISE.match(text):
            line = re.sub(r"^notarget ", "", text).strip()
    return code, line


def run_captured(cmd: list[str], *, cwd: Path, env: dict[str, str], timeout: float) -> tuple[int, str]:
    """Run with output captured; on timeout or Ctrl-C kill npm and everything it started."""
    proc = subprocess.Popen(
        cmd,
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
        start_new_session=True,  # own process group, so one killpg reaches npm's children
    )
    try:
        out, _ = proc.communicate(timeout=timeout)
    except BaseException:
        _kill_group(proc)
        raise
    return proc.returncode, out


def _kill_group(proc: subprocess.Popen[str]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (OSError, AttributeError):
        proc.kill()
    proc.communicate()


def tool_version(cmd: list[str]) -> str | None:
    try:
        done = subprocess.run(
            cmd, capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if done.returncode != 0:
        return None
    return done.stdout.strip().lstrip("v") or None


def version_check(binary: Path, version: str) -> str | None:
    """Run `binary --version`; None when it prints `version`, else why not."""
    # Even `--version` writes .claude.json and statsig files (1.x): keep the user's own untouched.
    with tempfile.TemporaryDirectory(prefix="pinman-check-") as scratch:
        env = {**os.environ, "DISABLE_AUTOUPDATER": "1", "CLAUDE_CONFIG_DIR": scratch}
        try:
            done = subprocess.run(
                [str(binary), "--version"],
                capture_output=True,
                text=True,
                errors="replace",
                timeout=VERSION_CHECK_TIMEOUT,
                env=env,
                stdin=subprocess.DEVNULL,
            )
        except subprocess.TimeoutExpired:
            return f"`{binary.name} --version` did not finish in {VERSION_CHECK_TIMEOUT:.0f} s"
        except OSError as e:
            return f"{binary} cannot be run: {e.strerror}"
    lines = done.stdout.splitlines()
    if done.returncode == 0 and any(line.split()[:1] == [version] for line in lines):
        return None
    said = next((ln.strip() for ln in (done.stdout + done.stderr).splitlines() if ln.strip()), "")
    return f"`{binary.name} --version` exited {done.returncode} and printed {said!r}, not {version}"
