"""Kill harness: run a real `pinman` command, SIGKILL it at a fault point or a random instant,
then check what it left behind.

A *scenario* builds a state (a PINMAN_HOME, profiles, installs, pointers), names the command to
run and says which states count as whole: the state before the command, the state after it, or
one that heals itself on the next run of `claude`. The harness first runs the command once with
`PINMAN_FAULT_POINTS` set, to learn which fault points it passes (pinman/faults.py); then, each in
a fresh copy of the state, it stops a run at every one of those points (every pass of each) and
kills it there; then it kills more runs at random instants inside the window where the command
writes. After each kill it checks the generic invariants (`problems`) and the scenario's own.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from cli_support import PINMAN

from pinman.runtime.choice import read_global
from pinman.state.channels import read_channels
from pinman.state.overrides import read_overrides
from pinman.paths import Paths
from pinman.errors import ProfileError
from pinman.profile.discovery import list_profiles
from pinman.profile.validate import load_profile
from pinman.profile.project import read_project_file
from pinman.names import CLAUDE_CODE
from pinman.install.store import Store
from pinman.install.layout import validate_version

WORKERS = 3  # 2 cores: one run waits on a kill or a subprocess while others compute
POLL = 0.003


@dataclass
class Run:
    """One isolated world: its own PINMAN_HOME, HOME, working folders and fault log."""

    root: Path
    base_env: dict[str, str]

    @property
    def paths(self) -> Paths:
        return Paths.from_env({"PINMAN_HOME": str(self.root / "home")})

    @property
    def work(self) -> Path:
        return self.root / "work"  # outside any project

    @property
    def repo(self) -> Path:
        return self.root / "repo"  # a project (a scenario writes its .pinman.toml)

    @property
    def faults(self) -> Path:
        return self.root / "faults.log"

    def env(self, **extra: str) -> dict[str, str]:
        env = dict(self.base_env)
        env.update(PINMAN_HOME=str(self.root / "home"), HOME=str(self.root / "user"))
        env["PATH"] = f"{self.paths.bin}{os.pathsep}{env['PATH']}"
        for var in ("PINMAN_PROFILE", "PINMAN_FAULT_POINTS", "PINMAN_FAULT_STOP"):
            env.pop(var, None)
        env.update(extra)
        return env

    def pinman(self, cwd: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run([PINMAN, *args], cwd=cwd, env=self.env(), capture_output=True, text=True,
                              timeout=timeout, stdin=subprocess.DEVNULL)

    def claude_version(self, cwd: Path) -> str:
        """What `claude --version` through the shim prints (its first word), or why it failed."""
        done = subprocess.run([str(self.paths.shim), "--version"], cwd=cwd, env=self.env(),
                              capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
        words = done.stdout.split()
        if done.returncode != 0 or not words:
            said = (done.stdout + done.stderr).strip().splitlines()
            return f"<exit {done.returncode}: {said[-1] if said else ''}>"
        return words[0]


@dataclass
class Scenario:
    name: str
    args: tuple[str, ...]
    setup: Callable[[Run], None]
    verify: Callable[[Run], list[str]]  # the scenario's own invariants after a kill
    cwd: str = "work"  # "work" or "repo"
    repair: tuple[str, ...] | None = None  # pinman args that must finish an interrupted install
    expect_installed: tuple[str, ...] = ()  # versions installed once the repair ran
    run_binaries: bool = False  # run each install's `--version` in the store check (fast fakes)
    random_kills: int = 4
    # What the uninterrupted run must have done (problems, as `verify` returns them): a command
    # that did nothing would leave every kill "whole" and prove nothing.
    effect: Callable[[Run], list[str]] | None = None


@dataclass
class Kill:
    spec: str  # "LABEL#N" or "random+0.0123s"
    reached: bool = True
    problems: list[str] = field(default_factory=list)
    leftovers: list[str] = field(default_factory=list)


@dataclass
class Campaign:
    scenario: str
    trace: list[str]
    kills: list[Kill]

    @property
    def tried(self) -> list[Kill]:
        return [k for k in self.kills if k.reached]

    @property
    def broken(self) -> list[Kill]:
        return [k for k in self.tried if k.problems]

    def row(self) -> str:
        points = [k for k in self.tried if not k.spec.startswith("random")]
        rand = [k for k in self.tried if k.spec.startswith("random")]
        left = sum(1 for k in self.tried if k.leftovers)
        return (f"{self.scenario:12} points {len(points):3}  random {len(rand):2}  tried {len(self.tried):3}  "
                f"broken {len(self.broken)}  temp files left by {left} kills")


# --------------------------------------------------------------------------- running and killing


def _lines(path: Path) -> list[str]:
    try:
        return path.read_text().splitlines()
    except FileNotFoundError:
        return []


def trace(scn: Scenario, run: Run) -> tuple[list[str], float]:
    """The fault points one full run passes, in order, and the seconds from the first to exit."""
    scn.setup(run)
    proc = _start(scn, run)
    first = _wait_first(proc, run)
    code = proc.wait(timeout=120)
    window = time.monotonic() - first if first else 0.0
    assert code == 0, f"{scn.name}: the uninterrupted run failed: {(run.root / 'stderr').read_text()}"
    problems = problems_after(scn, run)
    assert not problems, f"{scn.name}: the uninterrupted run leaves: {problems}"
    missing = scn.effect(run) if scn.effect else ["the scenario names no effect to check"]
    assert not missing, f"{scn.name}: the uninterrupted run did not do its job: {missing}"
    return [ln for ln in _lines(run.faults) if not ln.startswith("!")], window


def specs(labels: Iterable[str]) -> list[str]:
    """Every pass of every point: LABEL#1, LABEL#2, ... in the order the run met them."""
    seen: dict[str, int] = {}
    out = []
    for label in labels:
        seen[label] = seen.get(label, 0) + 1
        out.append(f"{label}#{seen[label]}")
    return out


def _start(scn: Scenario, run: Run, stop: str | None = None) -> subprocess.Popen[bytes]:
    extra = {"PINMAN_FAULT_POINTS": str(run.faults)}
    if stop:
        extra["PINMAN_FAULT_STOP"] = stop
    cwd = run.work if scn.cwd == "work" else run.repo
    with open(run.root / "stderr", "wb") as err:
        return subprocess.Popen([PINMAN, *scn.args], cwd=cwd, env=run.env(**extra), stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=err)


def _wait_first(proc: subprocess.Popen[bytes], run: Run) -> float | None:
    """Wait until the run passes its first fault point; None if it exits first."""
    while not run.faults.exists() or run.faults.stat().st_size == 0:
        if proc.poll() is not None:
            return None
        time.sleep(POLL)
    return time.monotonic()


def _wait_stop(proc: subprocess.Popen[bytes], run: Run, spec: str) -> bool:
    """Wait until the run sleeps at `spec`; False if it exits without reaching it."""
    want = f"!{spec}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if want in _lines(run.faults):
            return True
        if proc.poll() is not None:
            return want in _lines(run.faults)
        time.sleep(POLL)
    raise AssertionError(f"{spec}: not reached in 60 s")


def kill_one(scn: Scenario, root: Path, base_env: dict[str, str], spec: str | None,
             delay: float = 0.0) -> Kill:
    run = Run(root, base_env)
    run.root.mkdir(parents=True)
    scn.setup(run)
    proc = _start(scn, run, stop=spec)
    if spec is not None:
        kill = Kill(spec, reached=_wait_stop(proc, run, spec))
    else:
        kill = Kill(f"random+{delay:.4f}s", reached=_wait_first(proc, run) is not None)
        time.sleep(delay)
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    if not kill.reached:
        return kill
    kill.problems = problems_after(scn, run)
    kill.leftovers = leftovers(run)
    if scn.repair and not kill.problems:
        kill.problems = repaired(scn, run)
    return kill


def campaign(scn: Scenario, base: Path, base_env: dict[str, str], seed: int = 7) -> Campaign:
    """Trace the command, then kill it at every point it passes and at random instants."""
    traced = Run(base / f"{scn.name}-trace", base_env)
    traced.root.mkdir(parents=True)
    labels, window = trace(scn, traced)
    rng = random.Random(f"{scn.name}-{seed}")
    jobs: list[tuple[str | None, float]] = [(s, 0.0) for s in specs(labels)]
    jobs += [(None, rng.uniform(0, window)) for _ in range(scn.random_kills)]
    with ThreadPoolExecutor(WORKERS) as pool:
        kills = list(pool.map(lambda ij: kill_one(scn, base / f"{scn.name}-{ij[0]}", base_env, *ij[1]),
                              enumerate(jobs)))
    return Campaign(scn.name, labels, kills)


# --------------------------------------------------------------------------- what must hold after a kill


def problems_after(scn: Scenario, run: Run) -> list[str]:
    out = store_problems(run.paths, run_binaries=scn.run_binaries)
    out += file_problems(run)
    out += journal_problems(run.paths)
    if not out:
        out += scn.verify(run)
    return out


def store_problems(paths: Paths, *, run_binaries: bool) -> list[str]:
    """An install that counts (Store.get/list) must be complete; a dir without marker must not count."""
    store = Store(paths)
    out, whole = [], set()
    root = paths.store / "claude-code"
    for d in sorted(root.iterdir()) if root.is_dir() else []:
        inst = store.get(CLAUDE_CODE, d.name)
        if inst is None:
            continue  # not an install: the next `pinman install` of it starts again
        why = store.verify(inst, run=run_binaries)
        if why:
            out.append(f"store: {d.name} counts as installed but {why}")
        else:
            whole.add(d.name)
    for inst in store.list():
        if inst.version not in whole:
            out.append(f"store: list() shows {inst.version}, which is not a complete install")
    return out


def file_problems(run: Run) -> list[str]:
    """Every profile and project file parses; the state files pinman reads are readable."""
    out = []
    paths = run.paths
    folders = [paths.user_profiles, run.repo / "profiles"]
    for folder in folders:
        for f in sorted(folder.glob("*.toml")) if folder.is_dir() else []:
            try:
                load_profile(f)
            except ProfileError as e:
                out.append(f"profile: {e.message}")
    for cwd in (run.work, run.repo):  # what `pinman list` sees: temp files left must not show up
        found = list_profiles(cwd, paths) if cwd.is_dir() else []
        out += [f"profiles: {b.path} does not load: {b.error.message}" for b in getattr(found, "broken", [])]
        out += [f"profiles: {p.path} is listed" for p, _ in found if p.name.startswith(".")]
    if (run.repo / ".pinman.toml").exists():
        try:
            read_project_file(run.repo)
        except ProfileError as e:
            out.append(f"project file: {e.message}")
    for what, read in (("overrides", lambda: read_overrides(paths)), ("global", lambda: read_global(paths)),
                       ("trust", lambda: _trust_records(paths)), ("channels", lambda: read_channels(paths))):
        try:
            read()
        except Exception as e:  # noqa: BLE001 - any failure to read a state file is the finding
            out.append(f"{what}: unreadable: {e}")
    return out


def _trust_records(paths: Paths) -> object:
    from pinman.profile.trust import _load

    return _load(paths)


def journal_problems(paths: Paths) -> list[str]:
    """The journal's database is sound and every entry in it is one whole JSON document."""
    if not paths.journal_db.exists():
        return []
    try:
        with sqlite3.connect(paths.journal_db) as conn:
            check = conn.execute("PRAGMA integrity_check").fetchall()
            docs = conn.execute("SELECT id, doc FROM entries").fetchall() if _has_entries(conn) else []
    except sqlite3.Error as e:
        return [f"journal: unreadable: {e}"]
    out = [] if check == [("ok",)] else [f"journal: integrity check says {check[:3]}"]
    for n, doc in docs:
        try:
            entry = json.loads(doc)
            assert isinstance(entry, dict) and isinstance(entry.get("event"), str)
        except (ValueError, AssertionError):
            out.append(f"journal: entry {n} is not an entry: {doc[:80]!r}")
    return out


def _has_entries(conn: sqlite3.Connection) -> bool:
    """False while a first run was killed before it created the tables (an empty database)."""
    return conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'entries'").fetchone() is not None


def leftovers(run: Run) -> list[str]:
    """Temp files a killed write left: harmless only if nothing reads them (counted, reported)."""
    tmp = run.paths.store / ".tmp"
    found = [str(p.relative_to(run.root)) for p in run.root.rglob(".*.tmp") if tmp not in p.parents]
    found += [f"store/.tmp/{e.name}" for e in tmp.iterdir()] if tmp.is_dir() else []
    return found


def repaired(scn: Scenario, run: Run) -> list[str]:
    """The next `pinman install` finishes what the kill interrupted, and cleans the store's temp dir."""
    assert scn.repair is not None
    done = run.pinman(run.work if scn.cwd == "work" else run.repo, *scn.repair)
    if done.returncode != 0:
        return [f"repair: pinman {' '.join(scn.repair)} exited {done.returncode}: {done.stderr.strip()}"]
    out = store_problems(run.paths, run_binaries=scn.run_binaries)
    have = {i.version for i in Store(run.paths).list()}
    out += [f"repair: {v} is not installed after `pinman {' '.join(scn.repair)}`"
            for v in scn.expect_installed if v not in have]
    tmp = run.paths.store / ".tmp"
    stale = [e.name for e in tmp.iterdir()] if tmp.is_dir() else []
    if stale:
        out.append(f"repair: store/.tmp still holds {stale} of the killed run")
    return out


def python_script(path: Path, body: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"#!{sys.executable}\n{body}")
    path.chmod(0o755)
    return path
