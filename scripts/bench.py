#!/usr/bin/env python3
"""pinman's performance figures, each measured side by side in one run and printed as a ratio.

    python scripts/bench.py [--runs 40] [--home DIR]

Needs network to the npm registry for the first install of 1.0.100 and 2.1.331 (npm's cache
makes later runs fast); everything else runs offline against pinman's loopback fake API.
Child processes run without PYTHONDONTWRITEBYTECODE so Python start-up is measured as users see it.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

V1, V2 = "1.0.100", "2.1.331"
CLOSED_REGISTRY = "http://127.0.0.1:9/"
PINMAN = str(Path(sys.executable).parent / "pinman")


def child_env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE", "PINMAN_PROFILE")}
    env["PINMAN_HOME"] = str(home)
    env.update(extra)
    return env


def wall(cmd: list[str], env: dict[str, str], cwd: Path | None = None) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    return time.perf_counter() - start


def pinman(home: Path, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([PINMAN, *args], env=child_env(home, **extra), capture_output=True, text=True)


def interleaved(a: list[str], b: list[str], env: dict[str, str], runs: int) -> tuple[float, float]:
    """Median wall time of a and b, alternated so drift hits both alike."""
    for _ in range(3):  # warm caches (page cache, bytecode)
        wall(a, env), wall(b, env)
    ta, tb = [], []
    for _ in range(runs):
        ta.append(wall(a, env))
        tb.append(wall(b, env))
    return statistics.median(ta), statistics.median(tb)


def row(name: str, value: str, goal: str, ok: bool | None) -> None:
    mark = "" if ok is None else ("  ok" if ok else "  MISSED")
    print(f"| {name:<46} | {value:<34} | {goal:<14} |{mark}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=40)
    ap.add_argument("--home", type=Path, help="reuse a PINMAN_HOME (default: a fresh temp dir)")
    args = ap.parse_args()
    home = args.home or Path(tempfile.mkdtemp(prefix="pinman-bench-"))
    work = Path(tempfile.mkdtemp(prefix="pinman-bench-work-"))
    print(f"PINMAN_HOME={home}\n")
    print(f"| {'measure':<46} | {'result':<34} | {'goal':<14} |")
    print(f"|{'-' * 48}|{'-' * 36}|{'-' * 16}|")

    for v in (V1, V2):
        r = pinman(home, "install", v)
        assert r.returncode == 0, r.stderr
    prof = home / "config" / "profiles" / "bench.toml"
    prof.parent.mkdir(parents=True, exist_ok=True)
    prof.write_text(f'[claude-code]\nversion = "{V2}"\n')
    assert pinman(home, "use", "bench").returncode == 0
    env = child_env(home)
    shim = str(home / "bin" / "claude")  # PINMAN_HOME=DIR: the shim is DIR/bin/claude
    direct = pinman(home, "which").stdout.strip()

    d, s = interleaved([direct, "--version"], [shim, "--version"], env, args.runs)
    row("shim vs direct `claude --version` (2.x)", f"{s * 1e3:.2f} / {d * 1e3:.2f} ms = x{s / d:.3f}", "<= 1.15", s / d <= 1.15)
    bench_shim_with_hooks(home, env, direct, shim, args.runs)

    p, c = interleaved([sys.executable, "-c", "pass"], [PINMAN, "current"], env, args.runs // 2)
    row("`pinman current` vs `python -c pass`", f"{c * 1e3:.1f} / {p * 1e3:.1f} ms = x{c / p:.2f}", "<= 4", c / p <= 4)

    bench_reinstall(home, env)
    bench_rollback(home, work, prof)
    bench_bisect(home)
    bench_session_hook(home, env)
    shutil.rmtree(work, ignore_errors=True)


def bench_shim_with_hooks(home: Path, env: dict[str, str], direct: str, shim: str, runs: int) -> None:
    """With pinman's hooks installed the shim adds `--settings FILE` for a version that knows them."""
    conf = Path(tempfile.mkdtemp(prefix="pinman-bench-claude-"))  # never the user's own settings
    r = pinman(home, "hooks", "install", CLAUDE_CONFIG_DIR=str(conf))
    assert r.returncode == 0, r.stderr
    from pinman.fakeapi import FakeAPI

    d, s = interleaved([direct, "--version"], [shim, "--version"], env, runs)
    row("same, pinman's hooks installed", f"{s * 1e3:.2f} / {d * 1e3:.2f} ms = x{s / d:.3f}", "<= 1.15",
        s / d <= 1.15)
    # A session is where the shim adds `--settings` (and the client runs pinman's SessionStart hook,
    # here with nothing to show and no check due).
    (home / "state" / "autopilot" / "next-due").write_text(f"{int(time.time()) + 86400}\n")
    with FakeAPI("ok") as api:
        extra = {"ANTHROPIC_BASE_URL": api.url, "ANTHROPIC_API_KEY": "bench-key", "HOME": str(conf),
                 "CLAUDE_CONFIG_DIR": str(conf), "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1"}
        ask = ["-p", "say OK", "--output-format", "json"]
        d, s = interleaved([direct, *ask], [shim, *ask], {**env, **extra}, max(5, runs // 4))
    row("`claude -p` via shim + hooks vs direct (2.x)", f"{s * 1e3:.0f} / {d * 1e3:.0f} ms = x{s / d:.3f}",
        "<= 1.15", s / d <= 1.15)
    assert pinman(home, "hooks", "uninstall", CLAUDE_CONFIG_DIR=str(conf)).returncode == 0
    shutil.rmtree(conf, ignore_errors=True)


def bench_reinstall(home: Path, env: dict[str, str]) -> None:
    again = wall([PINMAN, "install", V2], {**env, "npm_config_registry": CLOSED_REGISTRY})
    prefix = Path(tempfile.mkdtemp(prefix="pinman-bench-npm-"))
    npm = wall(["npm", "install", "--prefix", str(prefix), "--no-audit", "--no-fund",
                f"@anthropic-ai/claude-code@{V2}"], {k: v for k, v in env.items() if k != "PINMAN_HOME"})
    shutil.rmtree(prefix, ignore_errors=True)
    row("re-install cached 2.1.331 (registry down)", f"{again:.3f} s vs npm install {npm:.1f} s", "no net, <= 1 s",
        again <= 1.0)


def bench_rollback(home: Path, work: Path, prof: Path) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from pinman.fakeapi import FakeAPI

    with FakeAPI("strict") as api:
        extra = {"ANTHROPIC_BASE_URL": api.url, "ANTHROPIC_API_KEY": "bench-key"}
        prof.write_text(f'[claude-code]\nversion = "{V1}"\n')
        r = pinman(home, "check", "--isolated-home", "--json", **extra)
        assert json.loads(r.stdout)["outcome"] == "ok", r.stdout
        prof.write_text(f'[claude-code]\nversion = "{V2}"\n')

        start = time.perf_counter()
        r = pinman(home, "rollback", "bench", "--to", V1, npm_config_registry=CLOSED_REGISTRY, **extra)
        manual = time.perf_counter() - start
        assert r.returncode == 0, r.stderr
        row("`pinman rollback` by hand, registry down", f"{manual:.3f} s (whole command)", "<= 0.3 s", manual <= 0.3)
        assert pinman(home, "use", "bench", "--reset").returncode == 0

        start = time.perf_counter()
        r = pinman(home, "check", "--isolated-home", "--json", npm_config_registry=CLOSED_REGISTRY, **extra)
        first = time.perf_counter() - start
        doc = json.loads(r.stdout)
        assert doc["rollback"] == {"from": V2, "to": V1}, doc
        t = doc["timings"]
        start = time.perf_counter()
        r = pinman(home, "check", "--isolated-home", "--json", npm_config_registry=CLOSED_REGISTRY, **extra)
        green = time.perf_counter() - start
        assert json.loads(r.stdout)["outcome"] == "ok"
        switch = t["switched"] - t["reprobed"]
        row("rollback itself (override + repoint + journal)", f"{switch:.3f} s", "<= 0.3 s", switch <= 0.3)
        row("check start -> rollback in place", f"{t['switched']:.2f} s (detect {t['detected']:.2f}, "
            f"re-probe {t['reprobed'] - t['detected']:.2f})", "", None)
        cycle = first + green
        row("detect -> rollback -> green (two `check`s)", f"{cycle:.2f} s ({first:.2f} + {green:.2f})", "<= 3 s",
            cycle <= 3)



def bench_bisect(home: Path) -> None:
    """The window where `thinking` first appears (2.1.47): five real candidates, real installs."""
    from pinman.fakeapi import CLAUDE_CODE_1_0_100_BETAS, FakeAPI

    betas = CLAUDE_CODE_1_0_100_BETAS | {"prompt-caching-scope-2026-01-05", "adaptive-thinking-2026-01-28",
                                         "effort-2025-11-24"}
    prof = home / "config" / "profiles" / "gw.toml"
    with FakeAPI("strict", allow_betas=betas) as api:
        extra = {"ANTHROPIC_BASE_URL": api.url, "ANTHROPIC_API_KEY": "bench-key"}
        prof.write_text('[claude-code]\nversion = "2.1.42"\n')
        assert pinman(home, "check", "gw", "--isolated-home", **extra).returncode == 0
        prof.write_text('[claude-code]\nversion = "2.1.50"\n')
        start = time.perf_counter()
        r = pinman(home, "bisect", "gw", "--isolated-home", "--json", **extra)
        took = time.perf_counter() - start
    doc = json.loads(r.stdout)
    n = len(doc["candidates"])
    row("bisect 2.1.42..2.1.50: probes vs ceil(log2 n)+2",
        f"{doc['probes']} / {doc['budget']} (n={n}, {took:.1f} s incl. installs)", "<= budget",
        doc["probes"] <= doc["budget"])
    row("  answer", f"{doc['newest_working']} ok, {doc['first_failing']} {doc['rejected']}", "", None)



def bench_session_hook(home: Path, env: dict[str, str]) -> None:
    """pinman's SessionStart hook with no notice and no check due: it must start no Python."""
    conf = Path(tempfile.mkdtemp(prefix="pinman-bench-claude-"))  # never the user's own settings
    r = pinman(home, "hooks", "install", CLAUDE_CONFIG_DIR=str(conf))
    assert r.returncode == 0, r.stderr
    doc = json.loads((home / "data" / "claude-hooks" / "settings.json").read_text())  # what the shim passes
    (command,) = [h["command"] for g in doc["hooks"]["SessionStart"] for h in g["hooks"]]
    state = home / "state" / "autopilot"
    (state / "next-due").write_text(f"{int(time.time()) + 86400}\n")
    (state / "notice.json").unlink(missing_ok=True)
    p, h = interleaved([sys.executable, "-c", "pass"], ["/bin/sh", "-c", command], env, 40)
    row("SessionStart hook, nothing due, vs `python -c pass`", f"{h * 1e3:.2f} / {p * 1e3:.2f} ms = x{h / p:.2f}",
        "< 0.5", h / p < 0.5)
    shutil.rmtree(conf, ignore_errors=True)


if __name__ == "__main__":
    main()
