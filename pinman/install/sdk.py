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
binary as CLAUDE_CODE_EXECUTABLE for scripts to pass on (`runtime.sdk_env`), and
`views.sdk_coupling` says when the SDK's own CLI differs from the pin. Which exact version a pin
means is `install.sdk_resolve`; whether an untrusted project's [sdk] applies is decided above.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from contextlib import AbstractContextManager
from typing import Any

from pinman.errors import InstallError
from pinman.install.piperrors import pip_error
from pinman.state.fsutil import atomic_write
from pinman.names import Progress
from pinman.paths import Paths
from pinman.names import PATH_PREPEND
from pinman.install.layout import MARKER
from pinman.install.npmfiles import read_json
from pinman.install.npmrun import run_captured
from pinman.record import record


PYPI_DIR = "pypi"
# Inside each venv: only the interpreter, for profiles whose console scripts must not shadow
# commands on PATH (a teammate's pin could ship a `git` script).
PYTHON_ONLY_BIN = ".pinman-bin"
AGENT_SDK_PYPI = "claude-agent-sdk"
AGENT_SDK_NPM = "@anthropic-ai/claude-agent-sdk"

_PEP440_SAFE = re.compile(r"[0-9a-z][0-9a-z.+!_-]{0,63}\Z")
_CLI_VERSION_RE = re.compile(r"""__cli_version__\s*=\s*["']([^"']+)["']""")


# --------------------------------------------------------------------------- installs


@record
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

    def _run(self, cmd: Sequence[str], what: str, name: str, version: str, *, only_binary: bool = False) -> str:

        try:
            code, output = run_captured(list(cmd), cwd=self.npm_store._tmp_root, env=pip_env(self.env), timeout=self.timeout)
        except subprocess.TimeoutExpired:
            raise InstallError(f"{what} did not finish in {self.timeout:.0f} s",
                               hint="check the network and the index/proxy settings in your pip config") from None
        if code != 0:
            log = self.paths.logs / f"pip-{name}-{version}.log"
            atomic_write(log, " ".join(cmd) + "\n\n" + output)
            raise pip_error(output, name, version, log=log, only_binary=only_binary, what=what)
        return output

    def _lock(self, name: str, version: str, report: Progress) -> AbstractContextManager[None]:
        # Store's discipline; its lock names are npm slugs, these cannot collide with them.
        from pinman.install.store import install_lock

        lock = self.paths.lock(f"sdk-pypi-{name}-{version}")
        return install_lock(lock, f"{name} {version}", report, self.timeout + 60)


def pip_env(extra: Mapping[str, str]) -> dict[str, str]:
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
    folder.mkdir(mode=0o755)  # not the umask's 0777: the install loses group/world write anyway
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

    manifest = read_json(prefix / "node_modules" / name / "package.json") or {}
    cli = manifest.get("claudeCodeVersion")
    if not isinstance(cli, str):
        cli = ts_agent_cli(version) if name == AGENT_SDK_NPM else None
    return SdkInstall("npm", name, version, prefix, installed_at, cli)


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
