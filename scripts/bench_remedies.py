#!/usr/bin/env python3
"""Remedies, timed: from the user's failed run to the switch in place, and what a remedy costs the
shim's fast path. Run by `scripts/bench.py`, or on its own:

    python scripts/bench_remedies.py [--runs 40] [--home DIR]

A gateway on loopback (pinman's fake API) refuses `output_config`; 1.0.100 is the known-good and
2.1.331 the pin. Every figure is measured in one run; the offline measurement's cache is emptied
first, so the times include measuring the switch.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import V1, V2, child_env, interleaved, pinman, row  # noqa: E402


def bench_remedies(home: Path, runs: int) -> None:
    from pinman.fingerprint.fakeapi import FakeAPI

    prof = home / "config" / "profiles" / "remedy.toml"
    prof.parent.mkdir(parents=True, exist_ok=True)
    conf = Path(tempfile.mkdtemp(prefix="pinman-bench-claude-"))
    with FakeAPI("deny", deny_keys={"output_config"}) as api:
        extra = {"ANTHROPIC_BASE_URL": api.url, "ANTHROPIC_API_KEY": "bench-key", "HOME": str(conf),
                 "CLAUDE_CONFIG_DIR": str(conf), "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
                 "CLAUDE_CODE_MAX_RETRIES": "1"}
        env = child_env(home, **extra)
        _known_good(home, prof, extra)
        for cached in ("switch-effects", "fingerprints"):  # measured afresh: the first time ever
            shutil.rmtree(home / "cache" / cached, ignore_errors=True)
        start = time.perf_counter()
        r = pinman(home, "check", "remedy", "--json", **extra)
        whole = time.perf_counter() - start
        doc = json.loads(r.stdout)
        assert doc["action"] == "remedied", doc
        t = doc["timings"]
        row("`pinman check`: schema -> remedy in place", f"{t['switched']:.2f} s (detect {t['detected']:.2f}); "
            f"command {whole:.2f} s", "<= 15 s", whole <= 15)
        _by_the_hook(home, prof, extra, env)
        shim, direct = str(home / "bin" / "claude"), pinman(home, "which", **extra).stdout.strip()
        d, s = interleaved([direct, "--version"], [shim, "--version"], env, runs)
        row("shim applying a remedy vs direct `--version`", f"{s * 1e3:.2f} / {d * 1e3:.2f} ms = x{s / d:.3f}",
            "<= 1.10", s / d <= 1.10)
        elsewhere = {**env, "ANTHROPIC_BASE_URL": "http://127.0.0.1:9"}  # the same pointer, no match
        plain, applied = _two_envs([shim, "--version"], elsewhere, env, runs)
        row("shim: remedy applied vs not (other endpoint)", f"{applied * 1e3:.2f} / {plain * 1e3:.2f} ms = "
            f"x{applied / plain:.3f}", "", None)
    shutil.rmtree(conf, ignore_errors=True)


def _two_envs(cmd: list[str], a: dict[str, str], b: dict[str, str], runs: int) -> tuple[float, float]:
    """Median wall time of `cmd` under env a and env b, alternated."""
    import statistics

    from bench import wall

    for _ in range(3):
        wall(cmd, a), wall(cmd, b)
    ta, tb = [], []
    for _ in range(runs):
        ta.append(wall(cmd, a))
        tb.append(wall(cmd, b))
    return statistics.median(ta), statistics.median(tb)


def _known_good(home: Path, prof: Path, extra: dict[str, str]) -> None:
    prof.write_text(f'[claude-code]\nversion = "{V1}"\n')
    assert pinman(home, "use", "remedy").returncode == 0
    r = pinman(home, "check", "remedy", "--json", **extra)
    assert json.loads(r.stdout)["outcome"] == "ok", r.stdout
    prof.write_text(f'[claude-code]\nversion = "{V2}"\n')


def _by_the_hook(home: Path, prof: Path, extra: dict[str, str], env: dict[str, str]) -> None:
    """The user's own `claude -p` fails; the StopFailure hook puts the remedy in place."""
    assert pinman(home, "use", "remedy", "--reset").returncode == 0
    for cached in ("switch-effects", "fingerprints"):
        shutil.rmtree(home / "cache" / cached, ignore_errors=True)
    (home / "state" / "autopilot" / "cooldown.json").unlink(missing_ok=True)
    assert pinman(home, "hooks", "install", CLAUDE_CONFIG_DIR=extra["CLAUDE_CONFIG_DIR"]).returncode == 0
    overrides = home / "state" / "overrides.json"
    start = time.perf_counter()
    r = subprocess.run([str(home / "bin" / "claude"), "-p", "say OK", "--output-format", "json"], env=env,
                       capture_output=True, text=True)
    ended = time.perf_counter()
    assert r.returncode == 1, r.stdout
    while time.perf_counter() - start < 60 and '"remedies": {}' in (overrides.read_text() or '"remedies": {}'):
        time.sleep(0.05)
    done = time.perf_counter()
    row("hook: failed `claude -p` -> remedy in place", f"{done - start:.2f} s from its start, "
        f"{done - ended:.2f} s after it ended", "<= 15 s", done - start <= 15)
    assert pinman(home, "hooks", "uninstall", CLAUDE_CONFIG_DIR=extra["CLAUDE_CONFIG_DIR"]).returncode == 0


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=40)
    ap.add_argument("--home", type=Path, help="reuse a PINMAN_HOME (default: a fresh temp dir)")
    args = ap.parse_args()
    home = args.home or Path(tempfile.mkdtemp(prefix="pinman-bench-"))
    for v in (V1, V2):
        assert pinman(home, "install", v).returncode == 0
    print(f"PINMAN_HOME={home}\n")
    bench_remedies(home, args.runs)
