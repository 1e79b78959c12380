"""The Python that the shim and the hook scripts name: when it is gone they say so, and any pinman
command run by another Python points them at that one."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cli_support import pinman

from pinman.autopilot import scripts
from pinman.autopilot.files import HookFiles
from pinman.autopilot.settings import status
from pinman.errors import ExitCode
from pinman.paths import Paths
from pinman.runtime.shim import shim_text
from pinman.state.interpreter import named_python

GONE = "/nonexistent/old-venv/bin/python"


def _write_shim(paths: Paths, text: str) -> Path:
    paths.shim.parent.mkdir(parents=True, exist_ok=True)
    paths.shim.write_text(text)
    paths.shim.chmod(0o755)
    return paths.shim


def _claude(paths: Paths, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(paths.shim), "-p", "hi"], cwd=cwd, capture_output=True, text=True, timeout=30)


def test_the_shim_says_in_one_line_that_its_python_is_gone(pinman_home: Paths, tmp_path: Path) -> None:
    _write_shim(pinman_home, shim_text(pinman_home, python=GONE))  # no pointer yet: the slow path
    r = _claude(pinman_home, tmp_path)
    assert r.returncode == ExitCode.GONE == 8
    assert r.stdout == "" and r.stderr.count("\n") == 1, r.stderr
    assert r.stderr.startswith(f"pinman: the Python that ran pinman ({GONE}) is gone")
    assert '"pinman doctor"' in r.stderr


def test_the_shim_says_so_when_pinman_is_gone_from_its_python(pinman_home: Paths, tmp_path: Path) -> None:
    package = str(Path(__file__).resolve().parent.parent / "pinman" / "__main__.py")
    text = shim_text(pinman_home)
    assert f"'{package}'" in text
    _write_shim(pinman_home, text.replace(f"'{package}'", "'/nonexistent/site-packages/pinman/__main__.py'"))
    r = _claude(pinman_home, tmp_path)
    assert r.returncode == 8 and f"({sys.executable}) is gone" in r.stderr, r.stderr


def test_hook_scripts_say_that_their_python_is_gone(pinman_home: Paths, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    from pinman.autopilot import notices
    from pinman.autopilot.settings import write_files

    files = HookFiles(pinman_home)
    with monkeypatch.context() as m:
        m.setattr(sys, "executable", GONE)
        scripts.write_scripts(files)
    write_files(files)

    notices.add(files, "pinman: rolled back stable at 14:02")
    env = {**os.environ, "CLAUDE_CODE_ENTRYPOINT": "cli"}
    r = subprocess.run([str(files.session_start)], input="{}", capture_output=True, text=True, env=env, timeout=30)
    assert r.returncode == 0
    msg = json.loads(r.stdout)["systemMessage"]  # one object: the notice, then what to type
    assert msg.split("\n")[0] == "pinman: rolled back stable at 14:02"
    assert msg.split("\n")[1].startswith(f"pinman: the Python that ran pinman ({GONE}) is gone")
    assert "`pinman hooks install`" in msg
    r = subprocess.run([str(files.stop_failure)], input="{}", capture_output=True, text=True, timeout=30)
    assert (r.returncode, r.stdout, r.stderr) == (0, "", "")
    assert f"the Python that ran pinman ({GONE}) is gone: nothing handed over" in files.log.read_text()
    assert status(files).state == "stale" and f"they name the Python {GONE}, which is gone" in status(files).detail


def test_any_pinman_command_points_the_shim_and_hooks_at_its_own_python(pinman_home: Paths, tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    files = HookFiles(pinman_home)
    assert pinman(pinman_home, tmp_path, "hooks", "install").code == 0
    cli = named_python(pinman_home.shim)  # the Python the `pinman` command runs on
    assert cli and os.access(cli, os.X_OK) and named_python(files.stop_failure) == cli
    # The venv pinman ran from moved away: its files name a Python that is gone.
    with monkeypatch.context() as m:
        m.setattr(sys, "executable", GONE)
        scripts.write_scripts(files)
    _write_shim(pinman_home, shim_text(pinman_home, python=GONE))
    pinman_home.interpreter.write_text(GONE + "\n")
    assert named_python(pinman_home.shim) == named_python(files.session_end) == GONE

    r = pinman(pinman_home, tmp_path, "current")  # a read command, from the pinman the user has now
    assert r.err.startswith(f"pinman: the claude shim and pinman's hooks named {GONE}, which is gone; "
                            f"they now use {cli}\n"), r.err
    assert all(named_python(p) == cli for p in (pinman_home.shim, files.stop_failure,
                                                files.session_start, files.session_end))
    assert pinman_home.interpreter.read_text() == f"{cli}\n"
    assert json.loads(pinman(pinman_home, tmp_path, "hooks", "status", "--json").out)[0]["state"] == "installed"
    again = pinman(pinman_home, tmp_path, "current")
    assert "pinman: the claude shim" not in again.err  # said once


def test_a_read_command_on_a_fresh_home_writes_nothing(pinman_home: Paths, tmp_path: Path) -> None:
    pinman(pinman_home, tmp_path, "current")
    assert not pinman_home.data.exists() and not pinman_home.state.exists()


def test_doctor_names_a_shim_whose_python_is_gone(pinman_home: Paths, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from pinman.cli.hookinfo import hook_findings

    _write_shim(pinman_home, shim_text(pinman_home, python=GONE))
    found = [f for f in hook_findings() if GONE in f.message]
    assert len(found) == 1 and found[0].level == "warn" and "pinman hooks install" in found[0].fix


def test_two_names_of_one_venv_python_are_the_same_python(pinman_home: Paths, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """`venv/bin/python3` (the `pinman` script) and `venv/bin/python` (`python -m pinman`): no rewrite
    back and forth; the system Python a venv's link resolves to is another one."""
    from pinman.state.interpreter import current

    venv = tmp_path / "venv" / "bin"
    venv.mkdir(parents=True)
    (venv / "python3").symlink_to(sys.executable)
    (venv / "python").symlink_to("python3")
    pinman_home.interpreter.parent.mkdir(parents=True)
    pinman_home.interpreter.write_text(f"{venv / 'python3'}\n")
    monkeypatch.setattr(sys, "executable", str(venv / "python"))
    assert current(pinman_home)
    monkeypatch.setattr(sys, "executable", os.path.realpath(sys.executable))
    assert not current(pinman_home)
