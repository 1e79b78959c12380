"""A probe shows that it is waiting (on a terminal only), and says what a missing login means."""

from __future__ import annotations

import io
import os
import pty
import select
import subprocess
from pathlib import Path
from typing import Any, Callable

import pytest
from cli_support import PINMAN, pinman, user_env

from pinman.cli import checks
from pinman.runtime import resolution
from pinman.health.outcome import Kind
from pinman.health.classify import classify
from pinman.fingerprint.fakeapi import FakeAPI
from pinman.health.result import Waiting
from pinman.health.cli_probe import probe_cli
from pinman.paths import Paths
from pinman.profile.discovery import find_profile
from pinman.health.prober import make_prober
from pinman.profile.discovery import find_profile
from pinman.health.prober import make_prober

OK_JSON = '{"type":"result","subtype":"success","is_error":false,"result":"OK"}'


def slow_client(folder: Path, seconds: float) -> Path:
    """A stand-in `claude` that thinks for a while, then answers ok."""
    path = folder / "claude"
    path.write_text(f"#!/bin/sh\nsleep {seconds}\necho '{OK_JSON}'\n")
    path.chmod(0o755)
    return path


def test_probe_cli_reports_while_it_waits(tmp_path: Path) -> None:
    seen: list[float] = []
    result = probe_cli(slow_client(tmp_path, 2.5), {"PATH": os.environ["PATH"]}, timeout=30, on_wait=seen.append)
    assert result.is_error is False and result.message == "OK"  # no output lost between slices
    assert seen and seen == sorted(seen) and all(0 < s < 30 for s in seen)


def test_probe_cli_still_times_out_when_watched(tmp_path: Path) -> None:
    seen: list[float] = []
    result = probe_cli(slow_client(tmp_path, 60), {"PATH": os.environ["PATH"]}, timeout=2.5, on_wait=seen.append)
    assert result.timed_out and classify(result).kind is Kind.TIMEOUT
    assert seen and max(seen) < 2.5


def test_the_prober_names_version_and_endpoint_and_says_when_it_is_over(
        pinman_home: Paths, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    client = slow_client(tmp_path, 1.5)
    monkeypatch.setattr(resolution, "installed", lambda paths, version: type("I", (), {"binary": client}))
    p = pinman_home.user_profiles / "team.toml"
    p.parent.mkdir(parents=True)
    p.write_text('[claude-code]\nversion = "2.1.331"\n[health]\ntimeout = 20\n')
    seen: list[Waiting] = []
    probe = make_prober(pinman_home, find_profile("team", tmp_path, pinman_home),
                        {"PATH": os.environ["PATH"], "ANTHROPIC_BASE_URL": "http://127.0.0.1:4000/"},
                        waiting=seen.append)
    assert probe("2.1.331").is_error is False
    assert len(seen) >= 2 and seen[-1].done and not any(w.done for w in seen[:-1])
    assert {(w.version, w.endpoint, w.timeout) for w in seen} == {("2.1.331", "http://127.0.0.1:4000", 20)}


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_meter_rewrites_one_line_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    stream = Tty()
    monkeypatch.setattr("sys.stderr", stream)
    show = checks.probe_meter()
    assert show is not None
    show(Waiting("2.1.331", "http://127.0.0.1:4000", 12.2, 60))
    show(Waiting("2.1.331", "http://127.0.0.1:4000", 0, 60, done=True))
    assert stream.getvalue() == "\r\033[Kprobing 2.1.331 → 127.0.0.1:4000 … 12 s / 60 s\r\033[K"


def test_the_meter_is_silent_when_stderr_is_not_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stderr", io.StringIO())
    assert checks.probe_meter() is None


# -- with the real client --------------------------------------------------------------------------
V1, V2 = "1.0.100", "2.1.331"


@pytest.mark.e2e
def test_a_hanging_endpoint_shows_the_wait_on_a_terminal_only(
        pinman_home: Paths, seeded_home: Callable[..., object], tmp_path: Path) -> None:
    seeded_home(V1)
    p = pinman_home.user_profiles / "slow.toml"
    p.parent.mkdir(parents=True)
    p.write_text(f'[claude-code]\nversion = "{V1}"\n[health]\ntimeout = 3\n')
    with FakeAPI("hang") as api:
        args = ["check", "slow", "--isolated-home"]
        piped = pinman(pinman_home, tmp_path, *args, ANTHROPIC_BASE_URL=api.url)
        assert piped.code == 12 and "timeout" in piped.out
        assert "probing" not in piped.err
        code, on_tty = _run_with_tty_stderr([PINMAN, *args], pinman_home, tmp_path, ANTHROPIC_BASE_URL=api.url)
    assert code == 12
    host = api.url.split("://", 1)[1].rstrip("/")
    assert f"probing {V1} → {host} … 1 s / 3 s" in on_tty, on_tty
    assert on_tty.rstrip().endswith("\r\033[K")  # the line is cleared when the probe is over


def _run_with_tty_stderr(argv: list[str], paths: Paths, cwd: Path, **extra: str) -> tuple[int, str]:
    master, slave = pty.openpty()
    proc = subprocess.Popen(argv, cwd=cwd, env=user_env(paths, **extra), stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=slave)
    os.close(slave)
    chunks: list[bytes] = []
    while True:
        ready, _, _ = select.select([master], [], [], 60)
        if not ready:
            break
        try:
            data = os.read(master, 4096)
        except OSError:  # EIO: the child closed its end
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    return proc.wait(timeout=60), b"".join(chunks).decode("utf-8", "replace")


@pytest.mark.e2e
def test_real_client_without_credentials_is_auth_not_unknown(
        pinman_home: Paths, seeded_home: Callable[..., Any]) -> None:
    (inst,) = seeded_home(V2)
    with FakeAPI("ok") as api:
        result = probe_cli(inst.binary, {"PATH": os.environ["PATH"], "ANTHROPIC_BASE_URL": api.url},
                           timeout=60, isolated_home=True)
    outcome = classify(result)
    assert (outcome.kind, outcome.rule) == (Kind.AUTH, "not_logged_in"), (result.message, result.raw)
    assert "ANTHROPIC_API_KEY" in outcome.advice and "/login" in outcome.advice
    assert "\n" not in outcome.message
