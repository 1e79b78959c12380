"""Which profile is active here and why; the `claude` shim; the pointer files it reads.

The shim is POSIX `sh` and starts no Python. For each (context, profile) pair pinman keeps one
small *pointer* file, a `sh` snippet naming the binary and the env to apply:

    <data>/links/g/NAME              outside any project
    <data>/links/r/D/ROOT/NAME       inside the project whose .pinman.toml is at ROOT, which has
                                     D path components (/home/me/repo: D = 3)
    <data>/links/r/D/ROOT/.choice    the profile ROOT/.pinman.toml chooses, as the slow path read it

No project layout can make one of these paths a folder of another: below r/D every file sits
exactly D+1 levels deep and every folder at most D levels deep (a project folder named
`.pinman/stable` or `stable` only makes folders under another D). A switch rewrites one pointer
with a rename, so `claude` always runs a complete install, old or new. When the pointer is missing
or older than what it was made from, the shim falls back to `python -m pinman _shim`, which
resolves, installs if needed, rewrites the pointer and execs — the slow path runs once per change,
never on the hot path.

The shim does not parse `.pinman.toml` itself: `sh` has no bounded read (dash's `read` takes one
byte per system call until a newline, so a 5 MB line costs seconds), and `head -c` would start a
process on every run. The slow path parses the file, whatever its size, and records its choice in
`.choice` with the file's exact modification time; the shim trusts the record only while the file
still has that time, newer or older.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Mapping

from pinman.errors import PinmanError, ProfileError
from pinman.faults import point
from pinman.fsutil import atomic_write, make_dirs
from pinman.paths import Paths

ChoiceSource = Literal["env", "project", "global"]
SHIM_SCHEMA = 4  # 2: a pointer older than the overrides or trust file is stale; 3: links/r/D/ROOT, .choice;
# 4: pinman's hook settings passed with --settings
CHOICE = ".choice"  # beside a project's pointers; profile names never start with a dot


@dataclass(frozen=True)
class Choice:
    """The profile name chosen for a directory, and where that choice came from."""

    name: str
    source: ChoiceSource
    detail: str  # "PINMAN_PROFILE", the .pinman.toml path, or the global choice file
    project_root: Path | None  # nearest .pinman.toml's folder, whatever chose the name


def choose(cwd: Path, paths: Paths, environ: Mapping[str, str] | None = None) -> Choice:
    """Precedence: PINMAN_PROFILE > nearest .pinman.toml > the global choice of `pinman use`."""
    from pinman import profiles

    env = os.environ if environ is None else environ
    root = profiles.find_project_root(cwd)
    if env.get("PINMAN_PROFILE"):
        return Choice(profiles.validate_name(env["PINMAN_PROFILE"]), "env", "PINMAN_PROFILE", root)
    if root is not None:
        project = profiles.read_project_file(root)
        if project.profile:
            return Choice(project.profile, "project", str(project.path), root)
    name = read_global(paths)
    if name:
        return Choice(name, "global", str(paths.global_choice), root)
    raise ProfileError(
        "no profile chosen for this directory",
        hint="run `pinman use stable` (global) or `pinman use --local NAME` (this project)",
    )


def read_global(paths: Paths) -> str | None:
    from pinman.profiles import NAME_RE, show

    path = paths.global_choice
    hint = "choose again with `pinman use NAME`"
    try:
        raw = path.read_bytes().decode("utf-8", "replace").strip()
    except FileNotFoundError:
        return None
    except OSError as e:
        raise PinmanError(f"{path}: cannot read: {e.strerror or e}", hint=hint) from None
    if raw and (not NAME_RE.match(raw) or ".." in raw):
        raise ProfileError(f"{path}: not a profile name: {show(raw)}", hint=hint)
    return raw or None


def write_global(paths: Paths, name: str) -> None:
    point("global.write", name)
    atomic_write(paths.global_choice, name + "\n")


# ---------------------------------------------------------------- overrides (local, per machine)


def profile_key(name: str, project_root: Path | None) -> str:
    return name if project_root is None else f"{project_root}::{name}"


@dataclass(frozen=True)
class Override:
    version: str
    previous: str | None
    reason: str
    at: float
    sdk_version: str | None = None  # the SDK that was known-good with `version`, restored with it
    # The pin it replaced: the profile's spec as written and the exact version that spec ran. When
    # the profile's pin changes, the override no longer applies. None (files written before this
    # was recorded): it belongs to whatever the profile pins now.
    pin_spec: str | None = None
    pin_version: str | None = None


def read_overrides(paths: Paths) -> dict[str, Override]:
    """Every local override; a record that is not a well-formed override is no override."""
    from pinman.statefile import load_json, number, records, text

    doc = load_json(paths.overrides, hint="delete the file to drop all local overrides")
    out: dict[str, Override] = {}
    for key, v in records(doc, "overrides").items():
        version = text(v, "version")
        if version is not None and _exact(version):  # it names a folder in the store
            out[key] = Override(version, text(v, "previous"), text(v, "reason") or "", number(v, "at"),
                                text(v, "sdk_version"), text(v, "pin_spec"), text(v, "pin_version"))
    return out


def _exact(version: str) -> bool:
    from pinman.errors import InstallError
    from pinman.store import validate_version

    try:
        validate_version(version)
    except InstallError:
        return False
    return True


def get_override(paths: Paths, name: str, project_root: Path | None) -> Override | None:
    return read_overrides(paths).get(profile_key(name, project_root))


def set_override(paths: Paths, name: str, project_root: Path | None, override: Override | None) -> None:
    """Write (or with None, drop) the local override; the profile file is never touched."""
    from filelock import FileLock

    make_dirs(paths.locks)
    with FileLock(str(paths.locks / "overrides.lock"), mode=0o600):
        current = read_overrides(paths)
        key = profile_key(name, project_root)
        if current.get(key) == override:
            return  # unchanged: a rewrite would only make every pointer stale
        if override is None:
            current.pop(key, None)
        else:
            current[key] = override
        doc = {"schema": 1, "overrides": {k: vars(v) for k, v in current.items()}}
        point("override.write", name)
        atomic_write(paths.overrides, json.dumps(doc, indent=2, sort_keys=True) + "\n")


# ---------------------------------------------------------------- pointers


def project_folder(paths: Paths, project_root: Path) -> Path:
    """Where the pointers of the project at `project_root` (an absolute path) live."""
    parts = project_root.parts[1:]
    return paths.links.joinpath("r", str(len(parts)), *parts)


def pointer_path(paths: Paths, project_root: Path | None, name: str) -> Path:
    if project_root is None:
        return paths.links / "g" / name
    return project_folder(paths, project_root) / name


def pointers(paths: Paths, name: str = "*") -> list[tuple[Path, Path | None]]:
    """Every pointer file of the current layout (for one profile `name`, or all): (file, project root)."""
    out: list[tuple[Path, Path | None]] = []
    out += [(f, None) for f in sorted((paths.links / "g").glob(name)) if _is_pointer(f)]
    roots = paths.links / "r"
    for depth in sorted(roots.iterdir()) if roots.is_dir() else []:
        if depth.name.isdigit():
            for f in sorted(depth.glob("/".join(["*"] * int(depth.name) + [name]))):
                if _is_pointer(f):
                    out.append((f, Path(os.sep, *f.relative_to(depth).parts[:-1])))
    return out


def _is_pointer(f: Path) -> bool:
    return not f.name.startswith(".") and f.is_file() and not f.is_symlink()


def record_project_choice(paths: Paths, project_root: Path) -> str | None:
    """Parse ROOT/.pinman.toml (a bad file raises with file:line) and record the profile it
    chooses for the shim, stamped with the file's modification time as it was before reading."""
    from pinman.profiles import PROJECT_FILE, read_project_file

    stamp = (project_root / PROJECT_FILE).stat().st_mtime_ns
    name = read_project_file(project_root).profile
    target = project_folder(paths, project_root) / CHOICE
    atomic_write(target, (name or "") + "\n")
    os.utime(target, ns=(stamp, stamp))
    return name


def sh_quote(value: str) -> str:
    """Single-quote for sh: nothing inside single quotes is expanded or executed."""
    if "\0" in value:
        raise PinmanError("a value contains a NUL byte and cannot be passed to a program")
    return "'" + value.replace("'", "'\\''") + "'"


@dataclass(frozen=True)
class Pointer:
    name: str
    version: str
    binary: Path
    source: Path  # the profile file it was made from
    env: dict[str, str]
    basis_ns: int = 0  # state_stamp() taken before the override and trust were read for it


def write_pointer(paths: Paths, project_root: Path | None, pointer: Pointer) -> Path:
    """Atomically (re)write the shim's pointer for one (context, profile)."""
    env = dict(pointer.env)
    prepend = env.pop("PINMAN_PATH_PREPEND", None)  # pinman.sdk.PATH_PREPEND: a venv's bin
    lines = [
        "# generated by pinman: the claude shim reads this; do not edit",
        f"_pm_ver={sh_quote(pointer.version)}",
        f"_pm_bin={sh_quote(str(pointer.binary))}",
        f"_pm_src={sh_quote(str(pointer.source))}",
        "_pm_env() {",
        *(f"  export {k}={sh_quote(v)}" for k, v in sorted(env.items())),
        *([f'  export PATH={sh_quote(prepend)}"${{PATH:+:$PATH}}"'] if prepend else []),
        "  :",
        "}",
    ]
    target = pointer_path(paths, project_root, pointer.name)
    point("pointer.write", pointer.name)
    atomic_write(target, "\n".join(lines) + "\n")
    point("pointer.before_backdate", pointer.name)
    # Backdate to the newest of what it was made from (the profile file; the overrides and trust
    # files as they were *before* being read): any later change of one of them, even within the
    # same second, makes the shim's `-nt` tests see the pointer as stale.
    try:
        st = pointer.source.stat()
        stamp = max(st.st_mtime_ns, pointer.basis_ns)
        os.utime(target, ns=(st.st_atime_ns, stamp))
    except OSError:
        pass
    return target


def state_stamp(paths: Paths) -> int:
    """Newest mtime (ns) of the local state a pointer also depends on: overrides and trust.

    Take it *before* reading them. A rollback killed after writing its override but before
    repointing, or a trust revoked but not yet applied, then leaves pointers the shim sees as
    stale, so its slow path makes them agree with the state files again.
    """
    out = 0
    for f in (paths.overrides, paths.trust):
        try:
            out = max(out, f.stat().st_mtime_ns)
        except OSError:
            pass
    return out


def read_pointer(path: Path) -> dict[str, str] | None:
    """The `_pm_*` values of a pointer file (for `current`/`which` without resolving again).

    None when there is no usable pointer (missing, damaged, edited): the caller resolves afresh.
    """
    try:
        text = path.read_bytes().decode("utf-8", "surrogateescape")  # paths are bytes on POSIX
    except OSError:
        return None
    out: dict[str, str] = {}
    for line in text.split("\n"):
        if line.startswith("_pm_") and "=" in line and not line.startswith("_pm_env"):
            key, raw = line.split("=", 1)
            out[key[4:]] = _sh_unquote(raw)
    if not out.get("bin") or not _exact(out.get("ver", "")):
        return None
    return out


def _sh_unquote(raw: str) -> str:
    return raw[1:-1].replace("'\\''", "'") if raw.startswith("'") and raw.endswith("'") else raw


# ---------------------------------------------------------------- pinman's hooks for the client

# Measured: a Claude Code version that meets a hook event it does not know in a settings source
# ignores that whole source (1.0.100 and StopFailure: the user's env, permissions and hooks too).
# So pinman writes no hook into the user's settings: the shim hands the version it runs the file
# of pinman's hooks that version knows, with `--settings` (merged with the user's own settings,
# its hooks included; a caller's own later `--settings` replaces it for that run).
SESSION_START_FROM = (1, 0, 62)  # first version with SessionStart
STOP_FAILURE_FROM = (2, 1, 78)  # first version with StopFailure
HOOKS_ALL = "settings.json"  # StopFailure and SessionStart
HOOKS_SESSION = "settings-session-start.json"  # SessionStart only
# The same three ranges as sh patterns, for the shim (hook_settings() is the Python side).
_SH_NO_HOOKS = "0.*|1.0.[0-9]|1.0.[1-5][0-9]|1.0.6[01]"
_SH_SESSION_ONLY = "1.*|2.0.*|2.1.[0-9]|2.1.[1-6][0-9]|2.1.7[0-7]"
# The client's own fast path (a lone `--version`, maybe with `--verbose`) starts no session and
# runs no hook; any other argument before it makes the client start up in full (measured: x12).
VERSION_ARGS = ("--version", "-v", "-V")
_SH_FAST_PATH = "1:-[vV]:|1:--version:|2:-[vV]:--verbose|2:--version:--verbose"


def hook_settings(paths: Paths, version: str) -> Path | None:
    """pinman's hook settings file for Claude Code `version` (None: a version without these hooks)."""
    import re

    m = re.match(r"(\d+)\.(\d+)\.(\d+)", version)
    if m is None:
        return None
    v = tuple(int(x) for x in m.groups())
    if v < SESSION_START_FROM:
        return None
    return paths.claude_hooks / (HOOKS_SESSION if v < STOP_FAILURE_FROM else HOOKS_ALL)


def hook_args(paths: Paths, version: str, argv: list[str]) -> list[str]:
    """What the shim puts before the user's arguments `argv`: `--settings FILE` when pinman's hooks
    are installed (the file exists) and `version` knows them, else nothing."""
    if argv[:1] and argv[0] in VERSION_ARGS and argv[1:] in ([], ["--verbose"]):
        return []
    f = hook_settings(paths, version)
    return ["--settings", str(f)] if f is not None and f.is_file() else []


# ---------------------------------------------------------------- the shim

SHIM_TEMPLATE = r"""#!/bin/sh
# pinman shim (schema {schema}): runs the Claude Code version pinned for this directory.
# Generated by `pinman`; do not edit. It reads a pointer file pinman keeps per profile and
# execs the binary named there; Python only runs when that pointer is missing or stale.
case ${{1-}} in
  # An editor's claudeProcessWrapper (this shim) is handed the CLI its extension bundles first.
  */anthropic.claude-code-[0-9]*/*) shift ;;
esac
_pm_links={links}
_pm_name=${{PINMAN_PROFILE-}}
_pm_root=
_pm_d=$PWD
while :; do
  if [ -f "$_pm_d/.pinman.toml" ]; then _pm_root=${{_pm_d:-/}}; break; fi
  [ -n "$_pm_d" ] || break
  _pm_d=${{_pm_d%/*}}
done
if [ -n "$_pm_root" ]; then
  # This project's pointers are in links/r/D/ROOT, D being ROOT's number of components.
  _pm_n=0 _pm_d=${{_pm_root%/}}
  while [ -n "$_pm_d" ]; do _pm_d=${{_pm_d%/*}}; _pm_n=$((_pm_n + 1)); done
  _pm_p="$_pm_links/r/$_pm_n$_pm_root"
  # .pinman.toml is not read here: the slow path parsed it and recorded its choice in
  # .choice, valid while the file's modification time is exactly the record's.
  if [ -z "$_pm_name" ]; then
    if [ -f "$_pm_p/{choice}" ] && ! [ "$_pm_root/.pinman.toml" -nt "$_pm_p/{choice}" ] \
        && ! [ "$_pm_root/.pinman.toml" -ot "$_pm_p/{choice}" ]; then
      IFS= read -r _pm_name < "$_pm_p/{choice}"
    else
      _pm_name=!
    fi
  fi
fi
if [ -z "$_pm_name" ] && [ -f {global_file} ]; then
  IFS= read -r _pm_name < {global_file}
fi
case $_pm_name in
  ''|.*|*[!A-Za-z0-9._-]*) ;;
  *)
    if [ -n "$_pm_root" ]; then _pm_f="$_pm_p/$_pm_name"; else _pm_f="$_pm_links/g/$_pm_name"; fi
    if [ -f "$_pm_f" ]; then
      . "$_pm_f"
      if [ -x "$_pm_bin" ] && ! [ "$_pm_src" -nt "$_pm_f" ] && ! [ {overrides} -nt "$_pm_f" ] \
          && ! [ {trust} -nt "$_pm_f" ]; then
        _pm_env
        # pinman's hooks, only for a version that knows every event in the file (see hook_args).
        case $#:${{1-}}:${{2-}} in
          {fast_path}) ;;
          *) case $_pm_ver in
               {no_hooks}) ;;
               {session_only}) [ -f {hooks_session} ] && set -- --settings {hooks_session} "$@" ;;
               *) [ -f {hooks_all} ] && set -- --settings {hooks_all} "$@" ;;
             esac ;;
        esac
        exec "$_pm_bin" "$@"
      fi
    fi ;;
esac
exec {python} -m pinman _shim "$@"
"""


def shim_text(paths: Paths, python: str | None = None) -> str:
    return SHIM_TEMPLATE.format(
        schema=SHIM_SCHEMA,
        links=sh_quote(str(paths.links)),
        global_file=sh_quote(str(paths.global_choice)),
        overrides=sh_quote(str(paths.overrides)),
        trust=sh_quote(str(paths.trust)),
        python=sh_quote(python or sys.executable),
        choice=CHOICE,
        fast_path=_SH_FAST_PATH,
        no_hooks=_SH_NO_HOOKS,
        session_only=_SH_SESSION_ONLY,
        hooks_session=sh_quote(str(paths.claude_hooks / HOOKS_SESSION)),
        hooks_all=sh_quote(str(paths.claude_hooks / HOOKS_ALL)),
    )


def ensure_shim(paths: Paths) -> Path:
    """Write the shim if it is missing or differs (e.g. after pinman moved to another venv)."""
    text = shim_text(paths)
    try:
        if paths.shim.read_text() == text:
            return paths.shim
    except OSError:
        pass
    atomic_write(paths.shim, text, mode=0o755)
    _drop_old_layout(paths)
    return paths.shim


def _drop_old_layout(paths: Paths) -> None:
    """Pointers of schema 2 (links/p/ROOT/.pinman/NAME) are read by nothing any more."""
    import shutil

    old = paths.links / "p"
    if old.is_dir() and not old.is_symlink():
        shutil.rmtree(old, ignore_errors=True)


def shim_on_path(paths: Paths, environ: Mapping[str, str] | None = None) -> bool:
    """True when `claude` on PATH is our shim (first match wins, as the shell does)."""
    env = os.environ if environ is None else environ
    for folder in env.get("PATH", "").split(os.pathsep):
        candidate = Path(folder or ".") / "claude"
        if os.access(candidate, os.X_OK) and candidate.is_file():
            try:
                return candidate.resolve() == paths.shim.resolve()
            except OSError:
                return False
    return False


def path_line(paths: Paths) -> str:
    return f'export PATH="{paths.bin}:$PATH"'


def base_env() -> dict[str, str]:
    """What every way pinman runs `claude` sets: the pin must hold."""
    return {"DISABLE_AUTOUPDATER": "1"}

