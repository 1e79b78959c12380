"""SDK pins: the profile's SDK installed beside its Claude Code, in the same immutable store.

A PyPI SDK gets one virtual environment per (project, version) at `store/pypi/<name>/<version>/`;
an npm SDK gets an npm prefix per (package, version) where `Store.path_for` puts npm packages.
Both are built aside in `store/.tmp`, verified (the installed distribution must report the pinned
version), marked last and renamed into place under a per-version lock, like Claude Code itself,
and are re-used offline.

PyPI versions are resolved the way pip resolves them (`pip install --dry-run --report`), so the
user's pip configuration (index, mirrors, proxies, certificates) applies; venvs are created with
the Python pinman runs on, without pip (`pip --python` installs into them), which makes them
small and, since nothing can `pip install` into them, immutable in practice. A profile from a
project folder whose content the user has not approved (`pinman trust`) gets no SDK at all: not
resolved, installed, run or put on PATH. Wheels only would not be enough, since a wheel can carry
a `.pth` file that every start of the venv's Python runs, with the user's key in its environment.

Both Agent SDKs start the Claude Code they bundle unless told otherwise; neither reads an
environment variable for it (Python: `ClaudeAgentOptions(cli_path=...)`, else the bundled
`_bundled/claude`, else `claude` on PATH; TypeScript: `pathToClaudeCodeExecutable`, else the
bundled `cli.js` (0.1.x) or native platform package (0.2+)). pinman exports the profile's pinned
binary as CLAUDE_CODE_EXECUTABLE for scripts to pass on, and `coupling` says when the SDK's own
CLI differs from the pin.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

from pinman.errors import InstallError, PinmanError
from pinman.state.fsutil import atomic_write
from pinman.names import Progress
from pinman.paths import Paths

if TYPE_CHECKING:
    from pinman.profile.model import Profile, SdkPin
    from pinman.npm.registry import Registry
    from pinman.install.store import Store


PYPI_DIR = "pypi"
# An env key the consumers of `profile_env` prepend to PATH instead of exporting; a profile's
# [env] cannot set PINMAN_* keys, so it cannot collide with one a user wrote.
PATH_PREPEND = "PINMAN_PATH_PREPEND"
# Inside each venv: only the interpreter, for profiles whose console scripts must not shadow
# commands on PATH (a teammate's pin could ship a `git` script).
PYTHON_ONLY_BIN = ".pinman-bin"
AGENT_SDK_PYPI = "claude-agent-sdk"
AGENT_SDK_NPM = "@anthropic-ai/claude-agent-sdk"
PYPI_CACHE_SCHEMA = 1

_PEP440_SAFE = re.compile(r"[0-9a-z][0-9a-z.+!_-]{0,63}\Z")
_CLI_VERSION_RE = re.compile(r"""__cli_version__\s*=\s*["']([^"']+)["']""")


# --------------------------------------------------------------------------- installs


@dataclass(frozen=True)
class SdkInstall:
    ecosystem: str  # "pypi" | "npm"
    name: str  # canonical PyPI name, or npm package name
    version: str
    prefix: Path  # the venv, or the npm prefix
    installed_at: str = ""
    cli_version: str | None = None  # the Claude Code version an Agent SDK bundles or expects
    only_binary: bool = False  # built from wheels only

    @property
    def label(self) -> str:
        return f"{self.name}=={self.version}" if self.ecosystem == "pypi" else f"{self.name}@{self.version}"

    @property
    def python(self) -> Path:
        return self.prefix / "bin" / "python"

    def env(self, *, interpreter_only: bool = False) -> dict[str, str]:
        """What makes this SDK the one a script finds (see `profile_sdk_env`)."""
        if self.ecosystem == "npm":
            # require() honours NODE_PATH; ESM `import` does not (see the README's SDK section).
            return {"NODE_PATH": str(self.prefix / "node_modules")}
        folder = self.prefix / (PYTHON_ONLY_BIN if interpreter_only else "bin")
        return {"VIRTUAL_ENV": str(self.prefix), PATH_PREPEND: str(folder)}


def canonical_name(name: str) -> str:
    from packaging.utils import canonicalize_name

    return str(canonicalize_name(name))


def exact_pypi(spec: str) -> str | None:
    """The normalised version if `spec` names exactly one (`1.2`, `==1.2`), else None."""
    from packaging.version import InvalidVersion, Version

    raw = spec.strip()
    if raw.startswith("==") and not raw.startswith("==="):
        raw = raw[2:].strip()
    if "*" in raw:
        return None
    try:
        return str(Version(raw))
    except InvalidVersion:
        return None


def _check_pypi_version(version: str) -> None:
    """A normalised PEP 440 version only: it becomes a folder name and a pip argument."""
    if exact_pypi(version) != version or not _PEP440_SAFE.match(version):
        raise InstallError(f"not an exact version: {version!r}", hint="use a version like 0.40.0")


class SdkStore:
    """SDK installs. npm SDKs are plain `Store` installs; PyPI SDKs are venvs built here."""

    def __init__(self, paths: Paths, *, python: str | None = None, env: Mapping[str, str] | None = None,
                 npm: str = "npm", timeout: float = 900.0) -> None:
        from pinman.install.store import Store

        self.paths = paths
        self.python = python or sys.executable
        self.env = dict(env or {})  # extra environment for pip and npm runs only
        self.timeout = timeout
        self.npm_store: Store = Store(paths, npm=npm, npm_env=self.env, timeout=timeout)

    def path_for(self, ecosystem: str, name: str, version: str) -> Path:
        if ecosystem == "npm":
            return self.npm_store.path_for(name, version)
        _check_pypi_version(version)
        canon = canonical_name(name)
        if not _PEP440_SAFE.match(canon):
            raise InstallError(f"not a PyPI project name: {name!r}")
        return self.paths.store / PYPI_DIR / canon / version

    def get(self, ecosystem: str, name: str, version: str) -> SdkInstall | None:
        if ecosystem == "npm":
            inst = self.npm_store.get(name, version)
            return None if inst is None else _npm_install(inst.prefix, name, version, inst.installed_at)
        return _read_pypi(self.path_for(ecosystem, name, version), canonical_name(name), version)

    def list(self) -> list[SdkInstall]:
        """Every PyPI SDK install (npm SDKs are listed by `Store.list`)."""
        root = self.paths.store / PYPI_DIR
        found: list[SdkInstall] = []
        for name_dir in sorted(root.iterdir()) if root.is_dir() else []:
            for version_dir in sorted(name_dir.iterdir()) if name_dir.is_dir() else []:
                inst = _read_pypi(version_dir, name_dir.name, version_dir.name)
                if inst is not None:
                    found.append(inst)
        return found

    def install(self, ecosystem: str, name: str, version: str, *, integrity: str | None = None,
                only_binary: bool = False, progress: Progress | None = None) -> SdkInstall:
        report = progress or (lambda _msg: None)
        if ecosystem == "npm":
            inst = self.npm_store.install(name, version, integrity=integrity, progress=report)
            return _npm_install(inst.prefix, name, version, inst.installed_at)
        canon = canonical_name(name)
        found = self.get("pypi", canon, version)
        if found is None:
            with self._lock(canon, version, report):
                found = self.get("pypi", canon, version)  # another process may have finished it
                if found is None:
                    found = self._build(canon, version, only_binary, report)
        return found

    def remove(self, ecosystem: str, name: str, version: str) -> None:
        if ecosystem == "npm":
            self.npm_store.remove(name, version)
            return
        canon = canonical_name(name)
        final = self.path_for("pypi", canon, version)
        with self._lock(canon, version, lambda _msg: None):
            if final.exists() or final.is_symlink():
                self.npm_store._discard(final)

    def verify(self, inst: SdkInstall) -> str | None:
        """Why `inst` is broken, or None."""
        if inst.ecosystem == "npm":
            from pinman.install.layout import read_install

            npm = read_install(inst.prefix, inst.name, inst.version)
            return "marker missing" if npm is None else self.npm_store.verify(npm, run=False)
        if _read_pypi(inst.prefix, inst.name, inst.version) is None:
            return f"{inst.prefix} has no complete install marker"
        try:
            got = _inspect_venv(inst.python, inst.name, timeout=60)["version"]
        except InstallError as e:
            return e.message
        return None if _same_version(got, inst.version) else f"{inst.name} reports {got}, not {inst.version}"

    # -- building a venv -------------------------------------------------------------------------

    def _build(self, name: str, version: str, only_binary: bool, report: Progress) -> SdkInstall:
        from pinman.install.store import publish

        final = self.path_for("pypi", name, version)
        with self.npm_store.building(final, f"build-pypi-{name}-{version}-") as tmp:
            report("creating venv")
            self._run([self.python, "-m", "venv", "--without-pip", str(tmp)], f"python -m venv {tmp}",
                      name, version)
            report("installing with pip")
            self._pip_install(tmp, name, version, only_binary)
            _relocate(tmp, final)
            report("verifying")
            info = _inspect_venv(tmp / "bin" / "python", name, timeout=120)
            if not _same_version(info["version"], version):
                raise InstallError(f"pip installed {name} {info['version']} instead of {version}")
            _python_only_bin(tmp)
            marker = {
                "schema": 1, "ecosystem": "pypi", "package": name, "version": version,
                "installed_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                "python": info["python"], "only_binary": only_binary, "cli_version": info["cli_version"],
                "distributions": info["distributions"],
            }
            publish(tmp, final, marker, f"{name}-{version}")
        report("done")
        inst = _read_pypi(final, name, version)
        assert inst is not None
        return inst

    def _pip_install(self, venv: Path, name: str, version: str, only_binary: bool) -> None:
        # `pip --python` (pip >= 22.3) installs into a venv that has no pip of its own.
        cmd = [self.python, "-m", "pip", "--python", str(venv / "bin" / "python"), "install",
               "--no-input", "--disable-pip-version-check", "--no-warn-script-location",
               "--progress-bar", "off", *(["--only-binary=:all:"] if only_binary else []),
               f"{name}=={version}"]
        self._run(cmd, f"pip install {name}=={version}", name, version, only_binary=only_binary)

    def run_captured(self, cmd: Sequence[str], what: str, name: str, version: str, *, only_binary: bool = False) -> str:
        from pinman.install.npmrun import run_captured

        try:
            code, output = run_captured(list(cmd), cwd=self.npm_store._tmp_root, env=_pip_env(self.env), timeout=self.timeout)
        except subprocess.TimeoutExpired:
            raise InstallError(f"{what} did not finish in {self.timeout:.0f} s",
                               hint="check the network and the index/proxy settings in your pip config") from None
        if code != 0:
            log = self.paths.state / "logs" / f"pip-{name}-{version}.log"
            atomic_write(log, " ".join(cmd) + "\n\n" + output)
            raise pip_error(output, name, version, log=log, only_binary=only_binary, what=what)
        return output

    def _lock(self, name: str, version: str, report: Progress) -> AbstractContextManager[None]:
        # Store's discipline; its lock names are npm slugs, these cannot collide with them.
        from pinman.install.store import install_lock

        lock = self.paths.locks / f"sdk-pypi-{name}-{version}.lock"
        return install_lock(lock, f"{name} {version}", report, self.timeout + 60)


def _pip_env(extra: Mapping[str, str]) -> dict[str, str]:
    env = {**os.environ, **extra}
    # Settings that would send the install somewhere other than the venv, or leak other packages in.
    for key in ("PIP_USER", "PIP_TARGET", "PIP_PREFIX", "PIP_ROOT", "PYTHONPATH", "PYTHONHOME"):
        env.pop(key, None)
    env.update(PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_NO_INPUT="1")
    return env


def _relocate(tmp: Path, final: Path) -> None:
    """Rewrite the build path to the final one in scripts and pyvenv.cfg before the rename.

    A venv records its own absolute path (console-script shebangs, activate scripts); pyc files
    are fine, Python fixes their file names on import.
    """
    old, new = str(tmp).encode(), str(final).encode()
    candidates = [p for p in (tmp / "bin").iterdir() if p.is_file() and not p.is_symlink()]
    candidates.append(tmp / "pyvenv.cfg")
    for path in candidates:
        data = path.read_bytes()
        if old in data and b"\0" not in data[:1024]:  # text only; binaries keep theirs
            mode = path.stat().st_mode & 0o7777
            atomic_write(path, data.replace(old, new), mode)


def _python_only_bin(venv: Path) -> None:
    folder = venv / PYTHON_ONLY_BIN
    folder.mkdir()
    for entry in (venv / "bin").iterdir():
        if re.fullmatch(r"python[0-9.]*", entry.name):
            os.symlink(os.path.join("..", "bin", entry.name), folder / entry.name)


_INSPECT = r"""
import importlib.metadata as m, json, pathlib, platform, re, sys, sysconfig
name = sys.argv[1]
out = {"version": m.version(name), "python": platform.python_version(), "cli_version": None,
       "distributions": sorted(f"{d.metadata['Name']}=={d.version}" for d in m.distributions())}
f = pathlib.Path(sysconfig.get_paths()["purelib"]) / "claude_agent_sdk" / "_cli_version.py"
if f.is_file():
    hit = re.search(sys.argv[2], f.read_text(encoding="utf-8"))
    out["cli_version"] = hit.group(1) if hit else None
print(json.dumps(out))
"""


def _inspect_venv(python: Path, name: str, *, timeout: float) -> dict[str, Any]:
    """Ask the venv's own interpreter what is installed (`-I`: no PYTHONPATH, no user site)."""
    try:
        done = subprocess.run([str(python), "-I", "-c", _INSPECT, name, _CLI_VERSION_RE.pattern],
                              capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise InstallError(f"cannot run {python}: {e}") from None
    if done.returncode != 0:
        said = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise InstallError(f"cannot read the metadata of {name} in {python.parent.parent}: {said}")
    return dict(json.loads(done.stdout))


def _same_version(a: str, b: str) -> bool:
    from packaging.version import InvalidVersion, Version

    try:
        return Version(a) == Version(b)
    except InvalidVersion:
        return a == b


def _read_pypi(prefix: Path, name: str, version: str) -> SdkInstall | None:
    from pinman.install.layout import MARKER
    from pinman.install.npmfiles import read_json

    data = read_json(prefix / MARKER)
    if (data is None or data.get("ecosystem") != "pypi" or not isinstance(data.get("schema"), int)
            or data.get("package") != name or data.get("version") != version):
        return None
    if prefix.name != version or prefix.parent.name != name:
        return None  # a marker copied into another folder does not make an install
    cli = data.get("cli_version")
    return SdkInstall("pypi", name, version, prefix, str(data.get("installed_at", "")),
                      cli if isinstance(cli, str) else None, bool(data.get("only_binary")))


def _npm_install(prefix: Path, name: str, version: str, installed_at: str) -> SdkInstall:
    from pinman.install.npmfiles import read_json

    manifest = read_json(prefix / "node_modules" / name / "package.json") or {}
    cli = manifest.get("claudeCodeVersion")
    if not isinstance(cli, str):
        cli = ts_agent_cli(version) if name == AGENT_SDK_NPM else None
    return SdkInstall("npm", name, version, prefix, installed_at, cli)


# --------------------------------------------------------------------------- pip's answers


def pip_error(output: str, name: str, version: str, *, log: Path | None = None, only_binary: bool = False,
              what: str | None = None) -> InstallError:
    """One line for a failed pip run: nearest versions for an unknown one, else pip's last lines."""
    where = f"full pip output: {log}" if log else ""
    available = _available_versions(output)
    if available is not None and "No matching distribution found" in output:
        if not available:
            hint = "no version at all: check the name, the network, and the index in your pip config"
            if only_binary:
                hint = "only wheels were allowed, and none matches; " + hint
            return InstallError(f"{name} {version}: no matching distribution on the package index",
                                hint="; ".join(h for h in (hint, where) if h))
        near = nearest_pypi(version, available)
        hint = f"see all: pip index versions {name}"
        if only_binary:
            hint = "only wheels were allowed; " + hint
        return InstallError(f"{name} {version} does not exist on the package index (nearest: {', '.join(near)})",
                            hint="; ".join(h for h in (hint, where) if h))
    tail = _last_lines(output)
    if "no such option: --python" in output:
        where = "pinman needs pip >= 22.3 in the Python it runs on (python -m pip install -U pip); " + where
    return InstallError(f"{what or 'pip'} failed: {tail}", hint=where.strip("; ") or None)


def _available_versions(output: str) -> list[str] | None:
    m = re.search(r"\(from versions: ([^)]*)\)", output)
    if m is None:
        return None
    listed = m.group(1).strip()
    return [] if listed in ("", "none") else [v.strip() for v in listed.split(",") if v.strip()]


def _last_lines(output: str, n: int = 3) -> str:
    noise = re.compile(r"^(WARNING: Location .* is ignored|\[notice\]|\s*$)")
    lines = [ln.strip() for ln in output.splitlines() if not noise.match(ln)]
    errors = [ln for ln in lines if ln.startswith("ERROR:")]
    picked = errors[-n:] if errors else lines[-n:]
    return " | ".join(picked) or "no output"


def nearest_pypi(version: str, candidates: list[str], n: int = 3) -> list[str]:
    """The `n` released versions closest to `version` (by release numbers), newest first."""
    from packaging.version import InvalidVersion, Version

    parsed = []
    for c in candidates:
        try:
            parsed.append(Version(c))
        except InvalidVersion:
            continue
    try:
        want = Version(version).release
    except InvalidVersion:
        import difflib

        return difflib.get_close_matches(version, candidates, n=n, cutoff=0.5)

    def distance(v: Any) -> tuple[int, ...]:
        rel = v.release + (0,) * (len(want) - len(v.release))
        return tuple(abs(a - b) for a, b in zip(rel, want))

    best = sorted(sorted(parsed, reverse=True), key=distance)[:n]
    return [str(v) for v in sorted(best, reverse=True)]


# --------------------------------------------------------------------------- resolution


@dataclass(frozen=True)
class SdkTarget:
    pin: SdkPin
    version: str
    why: str
    integrity: str | None = None
    stale: bool = False  # answered from a cache because the index was not asked


def untrusted_project(paths: Paths, profile: Profile) -> bool:
    """A project's profile whose parsed content the user has not approved (`pinman trust`): its
    [sdk] is withheld."""
    from pinman.profile.trust import is_trusted

    return not is_trusted(paths, profile)


def resolve(paths: Paths, pin: SdkPin, *, offline: bool = False, only_binary: bool = False,
            python: str | None = None, env: Mapping[str, str] | None = None,
            registry: Registry | None = None) -> SdkTarget:
    """The exact SDK version a pin means. Exact pins need no network; offline uses caches.

    `python` and `env` are the interpreter and extra environment pip runs with (SdkStore's).
    """
    if pin.ecosystem == "npm":
        return _resolve_npm(paths, pin, offline, registry)
    exact = exact_pypi(pin.version)
    if exact is not None:
        return SdkTarget(pin, exact, f"pinned {pin.version}")
    cache = _PypiCache(paths, canonical_name(pin.name))
    if offline:
        cached = cache.get(pin.version, only_binary)
        if cached is None:
            raise InstallError(f"{pin.name} {pin.version}: offline, and never resolved on this machine",
                               hint="run `pinman install PROFILE` once with network access")
        return SdkTarget(pin, cached, f"{pin.version} -> {cached} (cached)", stale=True)
    version = _pip_resolve(pin, only_binary, python or sys.executable, env or {})
    cache.put(pin.version, only_binary, version)
    return SdkTarget(pin, version, f"{pin.version} -> {version}")


def _resolve_npm(paths: Paths, pin: SdkPin, offline: bool, registry: Registry | None) -> SdkTarget:
    from pinman.npm.registry import Registry
    from pinman.npm.versions import clean, is_exact

    if offline and is_exact(pin.version):
        version = clean(pin.version) or pin.version
        return SdkTarget(pin, version, f"pinned {pin.version}")
    reg = registry or Registry(paths, offline=offline)
    res = reg.resolve(pin.name, pin.version)
    why = f"pinned {pin.version}" if is_exact(pin.version) else f"{pin.version} -> {res.version}"
    return SdkTarget(pin, res.version, why, res.integrity, res.stale)


def _pip_resolve(pin: SdkPin, only_binary: bool, python: str, env: Mapping[str, str]) -> str:
    """Ask pip which version it would install (its dry run honours the user's pip config)."""
    requirement = pin.name + pin.version  # a specifier: exact versions never get here
    cmd = [python, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--no-deps", "--quiet",
           "--report", "-", *(["--only-binary=:all:"] if only_binary else []), requirement]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=_pip_env(env),
                              stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise InstallError(f"pip did not resolve {requirement} in 300 s",
                           hint="check the network and the index in your pip config") from None
    if done.returncode != 0:
        if "No module named pip" in done.stderr:
            raise InstallError(f"resolving {requirement} needs pip in pinman's Python ({python})",
                               hint="install pip there, or pin an exact version")
        raise pip_error(done.stdout + done.stderr, pin.name, pin.version, only_binary=only_binary,
                        what=f"resolving {requirement}")
    try:
        report = json.loads(done.stdout)
        return str(report["install"][0]["metadata"]["version"])
    except (ValueError, KeyError, IndexError, TypeError):
        raise InstallError(f"pip gave no version for {requirement}",
                           hint="pinman needs pip >= 22.2 (for --report)") from None


class _PypiCache:
    """Last resolution of each PyPI spec, so env and offline runs land where the last install did."""

    def __init__(self, paths: Paths, name: str) -> None:
        self.path = paths.cache / "pypi" / f"{name}.json"

    def _load(self) -> dict[str, Any]:
        from pinman.install.npmfiles import read_json

        doc = read_json(self.path) or {}
        specs = doc.get("specs") if doc.get("schema") == PYPI_CACHE_SCHEMA else None
        return specs if isinstance(specs, dict) else {}

    def get(self, spec: str, only_binary: bool) -> str | None:
        entry = self._load().get(f"{spec}|{'wheels' if only_binary else 'any'}")
        return entry.get("version") if isinstance(entry, dict) and isinstance(entry.get("version"), str) else None

    def put(self, spec: str, only_binary: bool, version: str) -> None:
        import time

        specs = self._load()
        specs[f"{spec}|{'wheels' if only_binary else 'any'}"] = {"version": version, "at": time.time()}
        try:
            atomic_write(self.path, json.dumps({"schema": PYPI_CACHE_SCHEMA, "specs": specs}, indent=1))
        except OSError:
            pass  # only costs the next offline run an answer


# --------------------------------------------------------------------------- a profile's SDK


def ensure_installed(paths: Paths, profile: Profile, *, refresh: bool = False,
                     progress: Progress | None = None, store: SdkStore | None = None) -> SdkInstall | None:
    """The profile's SDK install, installing it if missing; None for a profile without [sdk], and
    for an untrusted project's profile (nothing of its [sdk] is fetched or run before trust).

    Without `refresh` an install matching the last resolution is used as is (no network), which
    is what env and exec need; `refresh` asks the index again (`pinman use`, `install`).
    """
    pin = profile.sdk
    if pin is None or untrusted_project(paths, profile):
        return None
    store = store or SdkStore(paths)
    rolled_back = override_version(paths, profile)
    if rolled_back is not None:  # a rollback restored the SDK that was known-good with the CLI
        return store.install(pin.ecosystem, pin.name, rolled_back, progress=progress)
    if not refresh:
        try:
            tgt = resolve(paths, pin, offline=True)
            found = store.get(pin.ecosystem, pin.name, tgt.version)
            if found is not None:
                return found
        except PinmanError:
            pass  # not resolved or not installed yet: ask the index
    tgt = resolve(paths, pin, python=store.python, env=store.env)
    return store.install(pin.ecosystem, pin.name, tgt.version, integrity=tgt.integrity, progress=progress)


def installed_for(paths: Paths, profile: Profile) -> SdkInstall | None:
    """The profile's SDK if it is installed for the last resolution; never touches the network."""
    pin = profile.sdk
    if pin is None or untrusted_project(paths, profile):
        return None
    try:
        version = override_version(paths, profile)
        if version is None:
            version = resolve(paths, pin, offline=True).version
        return SdkStore(paths).get(pin.ecosystem, pin.name, version)
    except PinmanError:
        return None


def override_version(paths: Paths, profile: Profile) -> str | None:
    """The SDK version a rollback override restored for this profile, if any."""
    from pinman.runtime.activation import get_override

    ov = get_override(paths, profile.name, profile.project_root)
    return ov.sdk_version if ov is not None else None


def pinned_binary(paths: Paths, profile: Profile) -> Path | None:
    """The profile's installed Claude Code binary, resolved offline; None if not known here."""
    from pinman.runtime.resolution import installed, target
    from pinman.npm.versions import is_exact

    pin = profile.claude_code
    registry = None
    if not is_exact(pin.version) and pin.locked is None:  # only a floating spec reads the registry cache
        from pinman.npm.registry import Registry

        registry = Registry(paths, offline=True)
    try:
        inst = installed(paths, target(paths, profile, registry=registry).version)
        return inst.binary if inst is not None else None
    except PinmanError:
        return None


def profile_sdk_env(paths: Paths, profile: Profile, binary: Path | None = None) -> dict[str, str]:
    """CLAUDE_CODE_EXECUTABLE (the pinned binary, else the shim that resolves it) and the SDK env.

    The executable comes from the [claude-code] pin, which applies untrusted like for a profile
    without [sdk]; VIRTUAL_ENV, NODE_PATH and the venv's bin come only from a trusted [sdk].
    """
    env = {"CLAUDE_CODE_EXECUTABLE": str(binary or pinned_binary(paths, profile) or paths.shim)}
    inst = ensure_installed(paths, profile)
    if inst is not None:
        env.update(inst.env())
    return env


def merge_env(base: Mapping[str, str], overlay: Mapping[str, str]) -> dict[str, str]:
    """`overlay` over `base`, with PINMAN_PATH_PREPEND put in front of base's PATH instead."""
    env = dict(base)
    extra = dict(overlay)
    prepend = extra.pop(PATH_PREPEND, "")
    env.update(extra)
    if prepend:
        env["PATH"] = prepend + (os.pathsep + base["PATH"] if base.get("PATH") else "")
    return env


# --------------------------------------------------------------------------- SDK <-> CLI coupling


def ts_agent_cli(sdk_version: str) -> str | None:
    """The Claude Code version a TypeScript Agent SDK release is built for.

    0.2.N and 0.3.N carry `claudeCodeVersion: 2.1.N` in package.json (every release checked);
    0.1.N bundles cli.js of Claude Code 2.0.N.
    """
    m = re.fullmatch(r"0\.([123])\.(\d+)", sdk_version)
    if m is None:
        return None
    return f"2.0.{m.group(2)}" if m.group(1) == "1" else f"2.1.{m.group(2)}"


def ts_agent_for_cli(cli_version: str) -> str | None:
    """The TypeScript Agent SDK release built for a Claude Code version (the inverse rule)."""
    m = re.fullmatch(r"2\.([01])\.(\d+)", cli_version)
    if m is None:
        return None
    n = int(m.group(2))
    if m.group(1) == "0":
        return f"0.1.{n}"
    return f"0.3.{n}" if n >= 142 else f"0.2.{n}"  # the minor went to 3 at 0.3.142


@dataclass(frozen=True)
class Coupling:
    sdk: str  # "claude-agent-sdk 0.1.5"
    expects: str  # the CLI version the SDK bundles or is built for
    runs: str  # the CLI version the profile runs
    fix: str  # which pair would match

    @property
    def matches(self) -> bool:
        return self.expects == self.runs

    def message(self, profile: str) -> str:
        return f"{profile}: {self.sdk} is built for Claude Code {self.expects}, but {profile} runs {self.runs}"


def coupling(paths: Paths, profile: Profile, cli_version: str | None) -> Coupling | None:
    """How the pinned Agent SDK and the pinned CLI fit; None when there is nothing to compare."""
    pin = profile.sdk
    if pin is None or cli_version is None:
        return None
    is_ts = pin.ecosystem == "npm" and pin.name == AGENT_SDK_NPM
    is_py = pin.ecosystem == "pypi" and canonical_name(pin.name) == AGENT_SDK_PYPI
    if not (is_ts or is_py):
        return None  # the plain API SDKs are versioned on their own
    inst = installed_for(paths, profile)
    version = inst.version if inst else _offline_version(paths, profile)
    expects = inst.cli_version if inst else (ts_agent_cli(version) if is_ts and version else None)
    if version is None or expects is None:
        return None  # the Python SDK's bundled version is only known once it is installed
    name = pin.name
    fix = f'pin [claude-code] version = "{expects}"'
    other = ts_agent_for_cli(cli_version) if is_ts else None
    if other and other != version and _npm_release_exists(paths, other):
        fix += f', or [sdk] version = "{other}" (built for {cli_version})'
    return Coupling(f"{name} {version}", expects, cli_version, fix)


def _npm_release_exists(paths: Paths, version: str) -> bool:
    """Whether the cached registry data lists this Agent SDK release; without data, assume so."""
    from pinman.npm.registry import Registry

    try:
        return version in Registry(paths, offline=True).packument(AGENT_SDK_NPM).versions
    except PinmanError:
        return True


def _offline_version(paths: Paths, profile: Profile) -> str | None:
    assert profile.sdk is not None
    try:
        return resolve(paths, profile.sdk, offline=True).version
    except PinmanError:
        return None


def describe(paths: Paths, profile: Profile, cli_version: str | None) -> dict[str, Any] | None:
    """For `pinman show`: the pin, what it resolves to here, the install, the CLI it expects."""
    pin = profile.sdk
    if pin is None:
        return None
    if untrusted_project(paths, profile):
        return {"package": pin.package, "version": pin.version, "resolved": None, "installed": None,
                "expects_cli": None, "withheld": True, "warning": None}
    inst = installed_for(paths, profile)
    couple = coupling(paths, profile, cli_version)
    return {
        "package": pin.package,
        "version": pin.version,
        "resolved": inst.version if inst else _offline_version(paths, profile),
        "installed": str(inst.prefix) if inst else None,
        "expects_cli": couple.expects if couple else (inst.cli_version if inst else None),
        "withheld": False,
        "warning": couple.message(profile.name) + f"; {couple.fix}" if couple and not couple.matches else None,
    }
