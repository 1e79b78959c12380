#!/usr/bin/env python3
"""pinman's performance figures, each measured side by side in one run and printed as a ratio.

    python scripts/bench.py [--runs 40] [--home DIR]

Needs network to the npm registry for the first install of 1.0.100 and 2.1.331 (npm's cache
makes later runs fast); everything else runs offline against pinman's loopback fake API.
Child processes run without PYTHONDONTWRITEBYTECODE so Python start-up is measured as users see it.
Run from an editable install (`pip install -e .`, the test setup), it re-runs itself from a regular
install of this tree in a temporary virtual environment: an editable install's import hook runs at
every interpreter start, `python -c pass` included (about 20 ms here), and would shrink every ratio.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

V1, V2 = "1.0.100", "2.1.331"
ROOT = Path(__file__).resolve().parent.parent
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


def interleaved(a: list[str], b: list[str], env: dict[str, str], runs: int,
                cwd: Path | None = None) -> tuple[float, float]:
    """Median wall time of a and b, alternated so drift hits both alike."""
    for _ in range(3):  # warm caches (page cache, bytecode)
        wall(a, env, cwd), wall(b, env, cwd)
    ta, tb = [], []
    for _ in range(runs):
        ta.append(wall(a, env, cwd))
        tb.append(wall(b, env, cwd))
    return statistics.median(ta), statistics.median(tb)


def row(name: str, value: str, goal: str, ok: bool | None) -> None:
    mark = "" if ok is None else ("  ok" if ok else "  MISSED")
    print(f"| {name:<46} | {value:<34} | {goal:<14} |{mark}")


def _editable() -> bool:
    from importlib.metadata import PackageNotFoundError, distribution

    try:
        raw = distribution("pinman").read_text("direct_url.json")
    except PackageNotFoundError:
        return False
    return bool(raw) and bool(json.loads(raw).get("dir_info", {}).get("editable"))


def on_a_regular_install() -> None:
    """Re-run this script from a regular install of this tree when pinman is installed editable."""
    made = os.environ.get("PINMAN_BENCH_VENV")
    if made:
        import atexit

        atexit.register(shutil.rmtree, made, True)
        return
    if not _editable():
        return
    venv = Path(tempfile.mkdtemp(prefix="pinman-bench-venv-"))
    print(f"pinman is installed editable here: measuring a regular install of {ROOT} ({venv})\n", flush=True)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", str(ROOT)], check=True)
    os.environ["PINMAN_BENCH_VENV"] = str(venv)
    python = str(venv / "bin" / "python")
    os.execv(python, [python, str(Path(__file__).resolve()), *sys.argv[1:]])


def main() -> None:
    on_a_regular_install()
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
    project = work / "project"  # the choice comes from a .pinman.toml the slow path recorded once
    project.mkdir()
    (project / ".pinman.toml").write_text('# the team\'s choice\nprofile = "bench"\n')
    subprocess.run([shim, "--version"], env=env, cwd=project, capture_output=True, check=True)
    d, s = interleaved([direct, "--version"], [shim, "--version"], env, args.runs, project)
    row("same, in a project (.pinman.toml)", f"{s * 1e3:.2f} / {d * 1e3:.2f} ms = x{s / d:.3f}", "<= 1.15", s / d <= 1.15)
    bench_shim_with_hooks(home, env, direct, shim, args.runs)

    p, c = interleaved([sys.executable, "-c", "pass"], [PINMAN, "current"], env, args.runs // 2)
    row("`pinman current` vs `python -c pass`", f"{c * 1e3:.1f} / {p * 1e3:.1f} ms = x{c / p:.2f}", "<= 4", c / p <= 4)

    bench_startup(home, args.runs // 2)
    bench_reinstall(home, env)
    bench_rollback(home, work, prof)
    bench_bisect(home)
    bench_session_hook(home, env)
    from bench_remedies import bench_remedies

    bench_remedies(home, args.runs)
    bench_registry(home, args.runs)
    bench_journal(max(3, args.runs // 8))
    shutil.rmtree(work, ignore_errors=True)


def bench_shim_with_hooks(home: Path, env: dict[str, str], direct: str, shim: str, runs: int) -> None:
    """`claude -p` through the shim without pinman's hooks, with them (`--settings FILE`, and the
    client runs pinman's SessionStart and SessionEnd hooks, nothing due), and with a caller's own
    `--settings` (pinman's hooks as `--plugin-dir`), each against the same arguments run direct."""
    from pinman.fingerprint.fakeapi import FakeAPI

    conf = Path(tempfile.mkdtemp(prefix="pinman-bench-claude-"))  # never the user's own settings
    caller = conf / "caller.json"
    caller.write_text(json.dumps({"env": {"PINMAN_BENCH_CALLER": "1"}}))
    ask = ["-p", "say OK", "--output-format", "json"]
    n = max(5, runs // 4)
    with FakeAPI("ok") as api:
        penv = {**env, "ANTHROPIC_BASE_URL": api.url, "ANTHROPIC_API_KEY": "bench-key", "HOME": str(conf),
                "CLAUDE_CONFIG_DIR": str(conf), "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1"}
        d, s = interleaved([direct, *ask], [shim, *ask], penv, n)
        row("`claude -p` via shim vs direct (2.x), no hooks", f"{s * 1e3:.0f} / {d * 1e3:.0f} ms = x{s / d:.3f}",
            "<= 1.15", s / d <= 1.15)
        r = pinman(home, "hooks", "install", CLAUDE_CONFIG_DIR=str(conf))
        assert r.returncode == 0, r.stderr
        d, s = interleaved([direct, "--version"], [shim, "--version"], env, runs)
        row("`--version`, pinman's hooks installed", f"{s * 1e3:.2f} / {d * 1e3:.2f} ms = x{s / d:.3f}", "<= 1.15",
            s / d <= 1.15)
        (home / "state" / "autopilot" / "next-due").write_text(f"{int(time.time()) + 86400}\n")
        d, s = interleaved([direct, *ask], [shim, *ask], penv, n)
        row("`claude -p` via shim + hooks vs direct (2.x)", f"{s * 1e3:.0f} / {d * 1e3:.0f} ms = x{s / d:.3f}",
            "<= 1.15", s / d <= 1.15)
        mine = ["--settings", str(caller)]
        d, s = interleaved([direct, *mine, *ask], [shim, *mine, *ask], penv, n)
        row("same, with a caller --settings (hooks as plugin)", f"{s * 1e3:.0f} / {d * 1e3:.0f} ms = x{s / d:.3f}",
            "<= 1.15", s / d <= 1.15)
        d, s = interleaved([direct, *mine, "--version"], [shim, *mine, "--version"], env, runs)
        row("`--settings F --version` via shim vs direct", f"{s * 1e3:.1f} / {d * 1e3:.1f} ms = x{s / d:.3f}",
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
    from pinman.fingerprint.fakeapi import FakeAPI

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
    from pinman.fingerprint.fakeapi import CLAUDE_CODE_1_0_100_BETAS, FakeAPI

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
    """pinman's SessionStart hook with no notice and no check due, and its SessionEnd hook after a
    session that ended well (a 2 MB transcript): they must start no Python."""
    conf = Path(tempfile.mkdtemp(prefix="pinman-bench-claude-"))  # never the user's own settings
    r = pinman(home, "hooks", "install", CLAUDE_CONFIG_DIR=str(conf))
    assert r.returncode == 0, r.stderr
    doc = json.loads((home / "data" / "claude-hooks" / "settings.json").read_text())  # what the shim passes
    start, end = ([h["command"] for g in doc["hooks"][e] for h in g["hooks"]][0] for e in ("SessionStart", "SessionEnd"))
    state = home / "state" / "autopilot"
    (state / "next-due").write_text(f"{int(time.time()) + 86400}\n")
    (state / "notice").unlink(missing_ok=True)
    p, h = interleaved([sys.executable, "-c", "pass"], ["/bin/sh", "-c", start], env, 40)
    row("SessionStart hook, nothing due, vs `python -c pass`", f"{h * 1e3:.2f} / {p * 1e3:.2f} ms = x{h / p:.2f}",
        "< 0.5", h / p < 0.5)
    transcript = conf / "t.jsonl"
    transcript.write_text((json.dumps({"type": "assistant", "message": {"content": "x" * 200}}) + "\n") * 10000)
    payload = conf / "end.json"
    payload.write_text(json.dumps({"session_id": "s", "transcript_path": str(transcript), "cwd": str(conf),
                                   "hook_event_name": "SessionEnd", "reason": "other"}))
    p, h = interleaved([sys.executable, "-c", "pass"], ["/bin/sh", "-c", f"{end} < '{payload}'"], env, 40)
    row("SessionEnd hook, no error, vs `python -c pass`", f"{h * 1e3:.2f} / {p * 1e3:.2f} ms = x{h / p:.2f}",
        "< 0.5", h / p < 0.5)
    shutil.rmtree(conf, ignore_errors=True)


@contextlib.contextmanager
def dead_proxy(accepted: list[int]) -> Iterator[str]:
    """A loopback proxy that accepts connections and never answers (a dead corporate proxy)."""
    listener = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.05)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
                accepted.append(1)
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        thread.join()
        for conn in held:
            conn.close()
        listener.close()


def bench_registry(home: Path, runs: int) -> None:
    """Read commands answer from this machine: `status` behind a dead proxy (21 s before), and
    `status` / `list` with a working registry (0.9-1.1 s before: a request on every run)."""
    env = child_env(home)
    assert pinman(home, "status", "--refresh").returncode == 0  # the `latest` profile resolved once
    p, st = interleaved([sys.executable, "-c", "pass"], [PINMAN, "status"], env, runs // 2)
    row("`status`, working registry, vs `python -c pass`", f"{st * 1e3:.0f} / {p * 1e3:.1f} ms = x{st / p:.1f}",
        "no request", None)
    p, ls = interleaved([sys.executable, "-c", "pass"], [PINMAN, "list"], env, runs // 2)
    row("`list`, working registry, vs `python -c pass`", f"{ls * 1e3:.0f} / {p * 1e3:.1f} ms = x{ls / p:.1f}",
        "no request", None)
    accepted: list[int] = []
    with dead_proxy(accepted) as proxy:
        dead = {**env, **{k: proxy for k in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy")},
                "NO_PROXY": "", "no_proxy": ""}
        p, sd = interleaved([sys.executable, "-c", "pass"], [PINMAN, "status"], dead, max(2, runs // 8))
        row("`status` behind a dead proxy (was 21 s)",
            f"{sd * 1e3:.0f} ms = x{sd / p:.1f} `python -c pass`, {len(accepted)} conn.", "no wait",
            not accepted and sd <= 1.5 * st)
        took = wall([PINMAN, "resolve", "latest"], dead)
        row("`resolve latest` behind a dead proxy", f"{took:.1f} s (deadline 15 s, then the cache)", "bounded",
            took <= 15 + 2 * st)
JOURNAL_SIZES = (200, 200_000)
JOURNAL_PROFILES = ["stable"] + [f"p{i:02}" for i in range(1, 15)]
JOURNAL_ENDPOINTS = ("https://api.anthropic.com:443", "https://gw.corp.example:443")
JOURNAL_BEFORE = {"prune --dry-run": "161 s", "status": "13.2 s", "check --if-due": "5.5 s",
                  "history stable": "3.8 s"}  # the JSON Lines journal, 200,000 entries, same machine


def five_years_of_checks(n: int, now: float) -> Iterator[Any]:
    """`n` entries: 15 profiles checked in turn against two endpoints over five years, a new version
    every ~45 checks of a profile, now and then a schema failure and its rollback; the last round of
    checks a minute ago (so `check --if-due` has nothing to run)."""
    from pinman.state.journal import Entry

    span, last_round = 5 * 365 * 86400.0, len(JOURNAL_PROFILES) * len(JOURNAL_ENDPOINTS)
    per_profile = max(1, (n - last_round) // len(JOURNAL_PROFILES))
    for i in range(n - last_round):
        p, k = i % len(JOURNAL_PROFILES), i // len(JOURNAL_PROFILES)
        version = f"2.{k * 300 // per_profile // 100}.{k * 300 // per_profile % 100}"
        ts = now - span + span * i / n
        endpoint = JOURNAL_ENDPOINTS[k % 2]
        if k % 97 == 96:
            yield Entry("rollback", JOURNAL_PROFILES[p], "1.0.100", previous=version, ts=ts, message="bench")
        else:
            outcome = "schema" if k % 89 == 88 else "ok"
            yield Entry("check", JOURNAL_PROFILES[p], version, endpoint=endpoint, outcome=outcome, ts=ts)
    for j in range(last_round):
        yield Entry("check", JOURNAL_PROFILES[j % len(JOURNAL_PROFILES)], "2.1.331",
                    endpoint=JOURNAL_ENDPOINTS[j % 2], outcome="ok", ts=now - 60 + j)


def journal_home(n: int) -> Path:
    """A PINMAN_HOME with 15 exact-version profiles and a journal of `n` entries, bulk-inserted."""
    from pinman.state.journal import Journal
    from pinman.paths import Paths

    home = Path(tempfile.mkdtemp(prefix=f"pinman-bench-journal-{n}-"))
    for name in JOURNAL_PROFILES:
        f = home / "config" / "profiles" / f"{name}.toml"
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text('[claude-code]\nversion = "2.1.331"\n')
    start = time.perf_counter()
    journal = Journal(Paths.from_env({"PINMAN_HOME": str(home)}))
    journal.append_many(five_years_of_checks(n, time.time()))
    kept = len(journal.history(limit=0))
    journal.close()
    row(f"  journal of {n:,} entries written", f"{time.perf_counter() - start:.1f} s, {kept:,} kept", "", None)
    return home


def bench_journal(runs: int = 5) -> None:
    """The commands that read the journal, on a journal of 200 and of 200,000 entries: the same time."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    small, big = (journal_home(n) for n in JOURNAL_SIZES)
    for label, args in (("prune --dry-run", ["prune", "--dry-run"]), ("status", ["status"]),
                        ("check --if-due", ["check", "stable", "--if-due"]),
                        ("history stable", ["history", "stable"])):
        envs = [child_env(h, npm_config_registry=CLOSED_REGISTRY) for h in (small, big)]
        for env in envs:  # warm up, and the command must work on both
            done = subprocess.run([PINMAN, *args], env=env, capture_output=True, text=True)
            assert done.returncode == 0, (args, done.stderr)
        times: tuple[list[float], list[float]] = ([], [])
        for _ in range(runs):
            for env, got in zip(envs, times):
                got.append(wall([PINMAN, *args], env))
        s, b = statistics.median(times[0]), statistics.median(times[1])
        row(f"`{label}`: 200k vs 200 entries", f"{b:.2f} / {s:.2f} s = x{b / s:.2f} (was {JOURNAL_BEFORE[label]})",
            "x <= 1.3", b / s <= 1.3)
    for h in (small, big):
        shutil.rmtree(h, ignore_errors=True)


STARTUP_GOAL = 8.0  # each read command's start-up and parsing, against `python -c pass`


def _timed(cmd: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall and CPU (user + system) seconds of one child: CPU time shows the cost on a loaded machine."""
    import resource

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    took = wall(cmd, env)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return took, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def bench_startup(home: Path, runs: int = 20, profile: str = "bench", to: str = V1) -> dict[str, float]:
    """Start-up and parsing of the everyday commands against `python -c pass`, alternated in one run.

    The registry is a closed port, so a command that still asks it fails fast instead of measuring
    the network; `rollback --to` names an installed version, so it needs no registry at all.
    """
    env = child_env(home, npm_config_registry=CLOSED_REGISTRY)
    commands = {
        "--help": ["--help"],
        "current": ["current"],
        "status": ["status"],
        "list": ["list"],
        "show": ["show", profile],
        "history": ["history"],
        "rollback --to (offline)": ["rollback", profile, "--to", to],
    }
    base = [sys.executable, "-c", "pass"]
    ratios: dict[str, float] = {}
    for label, argv in commands.items():
        for _ in range(2):
            _timed(base, env), _timed([PINMAN, *argv], env)
        pairs = [(_timed(base, env), _timed([PINMAN, *argv], env)) for _ in range(runs)]
        p, c = (statistics.median(x[i][0] for x in pairs) for i in (0, 1))
        pc, cc = (statistics.median(x[i][1] for x in pairs) for i in (0, 1))
        ratios[label] = c / p
        row(f"`pinman {label}` vs `python -c pass`", f"{c * 1e3:.0f}/{p * 1e3:.0f} ms x{c / p:.1f}, cpu x{cc / pc:.1f}",
            f"<= {STARTUP_GOAL:g}", c / p <= STARTUP_GOAL)
    pinman(home, "use", profile, "--reset")
    # `status` and `list` resolve the built-in `latest` from the registry cache (parsing the whole
    # document and loading the registry client); a user profile of the same name pinned exactly
    # shadows it, which leaves start-up, parsing and local state.
    shadow = home / "config" / "profiles" / "latest.toml"
    if not shadow.exists():
        shadow.write_text(f'[claude-code]\nversion = "{V2}"\n')
        for label in ("status", "list"):
            for _ in range(2):
                _timed(base, env), _timed([PINMAN, label], env)
            pairs = [(_timed(base, env), _timed([PINMAN, label], env)) for _ in range(runs)]
            p, c = (statistics.median(x[i][0] for x in pairs) for i in (0, 1))
            pc, cc = (statistics.median(x[i][1] for x in pairs) for i in (0, 1))
            ratios[f"{label} (no registry request)"] = c / p
            row(f"`pinman {label}`, every spec exact (no registry)", f"{c * 1e3:.0f}/{p * 1e3:.0f} ms x{c / p:.1f}, "
                f"cpu x{cc / pc:.1f}", f"<= {STARTUP_GOAL:g}", c / p <= STARTUP_GOAL)
        shadow.unlink()
    return ratios


if __name__ == "__main__":
    main()
