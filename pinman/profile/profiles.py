"""Profiles: one TOML file per profile, saying which Claude Code (and SDK) to run and with what env.

A profile is `profiles/NAME.toml`. NAME is 1-64 of `A-Z a-z 0-9 . _ -`, starting with a letter or
digit (no `..`). Every key except `[claude-code] version` is optional:

```toml
schema = 1                      # file format version; files without it are schema 1
description = "Known to work with our gateway"

[claude-code]
version = "latest"              # exact ("2.1.331"), dist-tag ("latest") or npm range ("^2.1.0")
locked = "2.1.331"              # tag/range only: the exact version it runs (`pinman lock` writes it)
integrity = "sha512-..."        # the registry's dist.integrity of the exact version that runs
                                # (`version` if exact, else `locked`), checked on install
bad = [                         # known-bad versions: ranges and upgrades skip them
  { version = "2.1.330", reason = "output_config rejected by gateway" },
]

[claude-code.native]            # 2.x: integrity of the platform binary package, per platform
linux-x64 = "sha512-..."        # (@anthropic-ai/claude-code-linux-x64 at the same version)
darwin-arm64 = "sha512-..."

[sdk]                           # the SDK you script Claude Code with
package = "anthropic"           # a PyPI name, or "npm:NAME" for npm ("npm:@anthropic-ai/claude-agent-sdk")
version = ">=0.40,<1"           # PyPI: PEP 440 version or specifier; npm: version, dist-tag or range

[env]                           # exported when the pinned `claude` runs; values are literal strings
ANTHROPIC_BASE_URL = "https://llm-gateway.internal.example"

[health]                        # how `pinman check` probes the endpoint
probe = "cli"                   # "cli": run the pinned claude -p; "http": one direct /v1/messages request
model = "claude-haiku-4-5"      # optional; the client's default when absent
prompt = "Reply with the single word OK."
timeout = 60                    # seconds, > 0
auto_rollback = true            # roll back to the last known-good version on a schema error
auto_recover = true             # on a rollback override, return to the pin once the endpoint accepts it
interval = "6h"                 # periodic check at most this often: "90s", "30m", "6h", "1d", "1h30m" or seconds
```

A `locked` version runs instead of resolving the tag or range: the spec is the intent, the lock is
what everyone runs until `pinman lock` or `pinman upgrade` moves it. The keys of
`[claude-code.native]` are the platforms the team declares (`pinman lock --platform KEY` adds one).

Rules: unknown keys are errors (with the nearest known key suggested); `[env]` keys must be shell
identifiers (`[A-Za-z_][A-Za-z0-9_]*`) and values strings without NUL; `[env]` may not set
`PINMAN_*` (pinman's own controls), `DISABLE_AUTOUPDATER` (pinman sets it so the pin holds) or
`ANTHROPIC_API_KEY`/`ANTHROPIC_AUTH_TOKEN` (keys come from your environment, never from a file).

Lookup, first match wins: `profiles/` beside the nearest `.pinman.toml` (walking up from the working
directory), then the user's `profiles/` config folder, then the built-ins shipped with pinman.

Loading uses stdlib `tomllib` only (it runs on every `pinman current`); `tomlkit` is imported by the
functions that write, so comments and layout survive an edit.
"""

from __future__ import annotations

import bisect
import math
import os
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, NoReturn

from pinman.errors import ProfileError
from pinman.paths import Paths, builtin_profiles_dir
from pinman.profile.project import PROJECT_FILE, ProjectFile, find_project_root, read_project_file, write_project_file

__all__ = [
    "NAME_RE", "ENV_KEY_RE", "SCHEMA", "Source", "BadVersion", "ClaudeCodePin", "SdkPin",
    "HealthConfig", "Profile", "ProfileFileError", "BrokenProfile", "ProfileList", "validate_name",
    "parse_profile", "load_profile", "search_dirs", "find_profile", "list_profiles",
    "update_profile", "PROJECT_FILE", "ProjectFile", "find_project_root", "read_project_file",
    "write_project_file",
]

Source = Literal["project", "user", "builtin"]
KeyPath = tuple["str | int", ...]

SCHEMA = 1
# \Z, not $: `$` also matches before a trailing newline, and a name ends up in file names and sh.
NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}\Z")
ENV_KEY_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_INTEGRITY_RE = re.compile(r"sha512-([A-Za-z0-9+/]{86}==)\Z")
_PYPI_NAME_RE = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?\Z")
_NPM_NAME_RE = re.compile(r"(?:@[a-z0-9~-][a-z0-9._~-]*/)?[a-z0-9~-][a-z0-9._~-]*\Z")
_DURATION_RE = re.compile(r"(?:\s*\d+(?:\.\d+)?\s*[smhd])+\s*\Z", re.ASCII)
_DURATION_PART_RE = re.compile(r"(\d+(?:\.\d+)?)\s*([smhd])", re.ASCII)
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}

# The key set, in the order pinman writes new keys (see update_profile).
_KEYS: dict[KeyPath, tuple[str, ...]] = {
    (): ("schema", "description", "claude-code", "sdk", "env", "health"),
    ("claude-code",): ("version", "locked", "integrity", "bad", "native"),
    ("claude-code", "bad", 0): ("version", "reason"),
    ("sdk",): ("package", "version"),
    ("health",): ("probe", "model", "prompt", "timeout", "auto_rollback", "auto_recover", "interval"),
}
PROBES = ("cli", "http", "sdk")
_RESERVED_ENV = {
    "DISABLE_AUTOUPDATER": "pinman always sets DISABLE_AUTOUPDATER=1 so the pin holds",
    "ANTHROPIC_API_KEY": "keys are read from your environment, never stored in a profile",
    "ANTHROPIC_AUTH_TOKEN": "keys are read from your environment, never stored in a profile",
}
# The suffix of a platform package, @anthropic-ai/claude-code-<key>: "linux-x64", "linux-arm64-musl".
PLATFORM_RE = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+){1,3}\Z")
_SPEC_HINT = 'e.g. "2.1.331" (exact), "latest" (dist-tag), "^2.1.0" or ">=1.0.100 <2" (range)'


# --------------------------------------------------------------------------- the data


@dataclass(frozen=True)
class BadVersion:
    version: str  # exact, normalised ("v2.1.330" -> "2.1.330")
    reason: str


@dataclass(frozen=True)
class ClaudeCodePin:
    version: str  # as written: exact, dist-tag or npm range
    integrity: str | None = None  # of `exact`
    bad: tuple[BadVersion, ...] = ()
    locked: str | None = None  # a tag/range's lock: the exact version it runs, normalised
    native: Mapping[str, str] = field(default_factory=dict)  # platform key -> integrity, of `exact`

    def is_bad(self, version: str) -> BadVersion | None:
        return next((b for b in self.bad if b.version == version), None)

    @property
    def exact(self) -> str | None:
        """The exact version the file says runs: `version` if exact, else `locked` (or None)."""
        from pinman.names import clean_version
        from pinman.npm.spec import is_exact

        if is_exact(self.version):
            return clean_version(self.version) or self.version.strip()
        return self.locked


@dataclass(frozen=True)
class SdkPin:
    package: str  # as written, e.g. "anthropic" or "npm:@anthropic-ai/claude-agent-sdk"
    version: str
    ecosystem: Literal["pypi", "npm"]
    name: str  # the package name without the "npm:" prefix


@dataclass(frozen=True)
class HealthConfig:
    probe: str = "cli"
    prompt: str = "Reply with the single word OK."
    timeout: float = 60.0
    auto_rollback: bool = True
    interval: float = 6 * 3600.0  # seconds
    model: str | None = None
    auto_recover: bool = True  # while on a rollback override, return to the pin once it checks ok


@dataclass(frozen=True)
class Profile:
    name: str
    path: Path
    source: Source
    project_root: Path | None
    description: str
    claude_code: ClaudeCodePin
    sdk: SdkPin | None = None
    env: dict[str, str] = field(default_factory=dict)
    health: HealthConfig = field(default_factory=HealthConfig)
    # sha256 of the very bytes this was parsed from: trust judges what was parsed, not a re-read
    digest: str = field(default="", compare=False)
    # a project profile: the user's own profile of the same name that it hides here, if any
    shadows: Path | None = field(default=None, compare=False)


# --------------------------------------------------------------------------- errors that say where


def display_path(path: Path) -> str:
    """`path` relative to the working directory when it is inside it, else as given."""
    try:
        cwd = Path.cwd()
        if cwd != Path(cwd.anchor):  # relative to / would only drop the leading slash
            return str(path.relative_to(cwd))
    except (ValueError, OSError):
        pass
    return str(path)


def show(value: object, limit: int = 60) -> str:
    """A value for a one-line message: quoted, control characters escaped, long ones cut."""
    if not isinstance(value, str):
        return _printable(repr(value))[:limit]
    text = value if len(value) <= limit else value[:limit] + "…"
    return '"' + _printable(text.replace("\\", "\\\\").replace('"', '\\"')) + '"'


def _printable(text: str) -> str:
    return "".join(c if c.isprintable() else f"\\u{ord(c):04x}" for c in text)


def format_key(path: KeyPath) -> str:
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
            continue
        piece = part if re.fullmatch(r"[A-Za-z0-9_-]+", part) else show(part, 40)
        out += f".{piece}" if out else piece
    return out


class ProfileFileError(ProfileError):
    """A profile or project file that does not parse or validate: `file:line: key: problem`."""

    def __init__(self, path: Path, line: int | None, key: str | None, problem: str,
                 hint: str | None = None, *, column: int | None = None) -> None:
        self.path = path
        self.line = line
        self.key = key
        self.problem = problem
        where = display_path(path) + (f":{line}" if line else "") + (f":{column}" if line and column else "")
        message = f"{where}: {key}: {problem}" if key else f"{where}: {problem}"
        super().__init__(_printable(message), hint)


class TomlFile:
    """A parsed TOML file plus what it takes to point at one of its keys in an error."""

    def __init__(self, path: Path, text: str, data: dict[str, Any]) -> None:
        self.path = path
        self.text = text
        self.data = data
        self._lines: dict[KeyPath, int] | None = None

    def line_of(self, key: KeyPath) -> int | None:
        """Line of `key`, or of its nearest enclosing key or table that is written out."""
        if self._lines is None:
            self._lines = key_lines(self.text)
        for n in range(len(key), 0, -1):
            if key[:n] in self._lines:
                return self._lines[key[:n]]
        return None

    def fail(self, key: KeyPath, problem: str, hint: str | None = None) -> NoReturn:
        raise ProfileFileError(self.path, self.line_of(key), format_key(key) or None, problem, hint)


def read_toml(data: bytes | str, path: Path) -> TomlFile:
    """Decode and parse, turning every failure into a ProfileFileError with a line number."""
    if isinstance(data, bytes):
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as e:
            line = data.count(b"\n", 0, e.start) + 1
            raise ProfileFileError(path, line, None, f"not UTF-8 text (byte {data[e.start]:#04x})",
                                   "save the file as UTF-8") from None
    else:
        text = data
    text = text.removeprefix("\ufeff")  # editors on Windows add a BOM; TOML does not allow one
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise _syntax_error(path, str(e), text) from None
    except RecursionError:
        raise ProfileFileError(path, None, None, "not valid TOML: nested too deeply") from None
    return TomlFile(path, text, doc)


def _syntax_error(path: Path, message: str, text: str) -> ProfileFileError:
    # tomllib puts the place at the end of its message: "... (at line 4, column 9)" or
    # "... (at end of document)", e.g. for a string that is never closed.
    m = re.search(r"\s*\(at line (\d+), column (\d+)\)$", message)
    if m:
        line, column, problem = int(m[1]), int(m[2]), message[: m.start()]
    else:
        line, column = text.count("\n") + 1, None
        problem = message.replace(" (at end of document)", "")
    return ProfileFileError(
        path, line, None, f"not valid TOML: {problem}",
        'strings need quotes (version = "2.1.331"); tables are written [name]', column=column,
    )


# --------------------------------------------------------------------------- validation helpers


def _type_name(value: object) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "a table"
    return "a date/time"


def check_table(f: TomlFile, value: object, key: KeyPath, allowed: tuple[str, ...]) -> dict[str, Any]:
    """`value` must be a table holding only `allowed` keys; a typo gets the nearest key suggested."""
    if not isinstance(value, dict):
        f.fail(key, f"must be a table, not {_type_name(value)}")
    for k in value:
        if k not in allowed:
            import difflib  # only on the error path

            near = difflib.get_close_matches(k, allowed, n=1, cutoff=0.6)
            where = f"known keys in [{format_key(key)}]" if key else "known top-level keys"
            hint = f'did you mean "{near[0]}"? ' if near else ""
            f.fail((*key, k), "unknown key", f"{hint}{where}: {', '.join(allowed)}")
    return value


def check_str(f: TomlFile, value: object, key: KeyPath, *, empty_ok: bool = True) -> str:
    if not isinstance(value, str):
        f.fail(key, f"must be a string, not {_type_name(value)}", f'quote it: {key[-1]} = "..."')
    if not empty_ok and not value.strip():
        f.fail(key, "must not be empty")
    return value


def _check_bool(f: TomlFile, value: object, key: KeyPath) -> bool:
    if not isinstance(value, bool):
        f.fail(key, f"must be true or false, not {_type_name(value)}")
    return value


def _check_positive(f: TomlFile, value: object, key: KeyPath) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        f.fail(key, f"must be a number of seconds, not {_type_name(value)}")
    if not math.isfinite(value) or value <= 0:
        f.fail(key, f"must be a positive number of seconds, not {show(value)}")
    return float(value)


def check_schema(f: TomlFile, doc: dict[str, Any]) -> None:
    value = doc.get("schema", SCHEMA)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        f.fail(("schema",), f"must be a positive integer, not {show(value)}", f"use schema = {SCHEMA}")
    if value > SCHEMA:
        f.fail(("schema",), f"is {value}, this pinman reads schema {SCHEMA}",
               "the file was written by a newer pinman: upgrade pinman")


# --------------------------------------------------------------------------- names


def validate_name(name: str) -> str:
    """`name` if it is a profile name; otherwise ProfileError. Names become file names and reach sh."""
    if not isinstance(name, str) or not NAME_RE.match(name) or ".." in name:
        shown = show(name) if isinstance(name, str) else _type_name(name)
        raise ProfileError(
            f"invalid profile name {shown}",
            "use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit (no '..')",
        )
    return name


# --------------------------------------------------------------------------- loading


def load_profile(path: Path, *, name: str | None = None, source: Source = "user",
                 project_root: Path | None = None) -> Profile:
    """Read and validate one profile file. The name defaults to the file name without `.toml`."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ProfileFileError(path, None, None, "no such profile file") from None
    except OSError as e:
        raise ProfileFileError(path, None, None, f"cannot read: {e.strerror or e}") from None
    return parse_profile(data, path, name=name, source=source, project_root=project_root)


def parse_profile(data: bytes | str, path: Path, *, name: str | None = None,
                  source: Source = "user", project_root: Path | None = None) -> Profile:
    """Validate a profile's text; `path` is where it came from (used in messages)."""
    import hashlib

    name = validate_name(path.stem if name is None else name)
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
    digest = "sha256:" + hashlib.sha256(raw).hexdigest()
    f = read_toml(data, path)
    doc = check_table(f, f.data, (), _KEYS[()])
    check_schema(f, doc)
    if "claude-code" not in doc:
        f.fail(("claude-code", "version"), "missing",
               'every profile pins Claude Code: add [claude-code] with version = "2.1.331" or "latest"')
    return Profile(
        name=name,
        path=path,
        source=source,
        project_root=project_root,
        description=check_str(f, doc.get("description", ""), ("description",)),
        claude_code=_claude_code(f, doc["claude-code"]),
        sdk=_sdk(f, doc["sdk"]) if "sdk" in doc else None,
        env=_env(f, doc.get("env", {})),
        health=_health(f, doc.get("health", {})),
        digest=digest,
    )


def _npm_spec(f: TomlFile, value: object, key: KeyPath, what: str = "") -> str:
    """An npm version, dist-tag or range, checked by the same parser `pinman resolve` uses."""
    from pinman.npm.spec import parse_spec

    raw = check_str(f, value, key)
    try:
        spec = parse_spec(raw)
    except ValueError as e:
        reason = str(e)
        extra = "" if "is not a version, dist-tag or npm range" in reason else f" ({reason})"
        f.fail(key, f"{show(raw)} is not a version, dist-tag or npm range{extra}", _SPEC_HINT)
    if what == "exact" and spec.kind != "exact":
        f.fail(key, f"{show(raw)} is a {spec.kind}, not an exact version", 'e.g. "2.1.330"')
    return raw


def _claude_code(f: TomlFile, value: object) -> ClaudeCodePin:
    key: KeyPath = ("claude-code",)
    cc = check_table(f, value, key, _KEYS[key])
    if "version" not in cc:
        f.fail((*key, "version"), "missing", 'add version = "2.1.331" (or "latest", or a range)')
    version = _npm_spec(f, cc["version"], (*key, "version"))
    from pinman.names import clean_version
    from pinman.npm.spec import parse_spec

    exact = parse_spec(version).kind == "exact"
    locked = None
    if "locked" in cc:
        raw = _npm_spec(f, cc["locked"], (*key, "locked"), "exact")
        if exact:
            f.fail((*key, "locked"), f"only applies to a dist-tag or range, and {show(version)} is exact",
                   "an exact version is its own lock: remove locked")
        locked = clean_version(raw) or raw.strip()
    integrity = None
    if "integrity" in cc:
        integrity = _integrity(f, cc["integrity"], (*key, "integrity"))
        if not exact and locked is None:
            f.fail((*key, "integrity"), f"only applies to an exact version, and {show(version)} is not one",
                   "run `pinman lock` to record the version it resolves to, or remove integrity")
    bad = _bad_list(f, cc.get("bad", []), (*key, "bad"))
    native = _native(f, cc["native"], (*key, "native")) if "native" in cc else {}
    if native and not exact and locked is None:
        f.fail((*key, "native"), f"only applies to an exact version, and {show(version)} is not one",
               "run `pinman lock` to record the version it resolves to, or remove the table")
    return ClaudeCodePin(version, integrity, bad, locked, native)


def _native(f: TomlFile, value: object, key: KeyPath) -> dict[str, str]:
    if not isinstance(value, dict):
        f.fail(key, f"must be a table, not {_type_name(value)}",
               'write [claude-code.native] with lines like linux-x64 = "sha512-..."')
    out: dict[str, str] = {}
    for k, v in value.items():
        if not PLATFORM_RE.match(k):
            f.fail((*key, k), "not a platform key",
                   "use the suffix of the platform package: linux-x64, linux-arm64-musl, darwin-arm64, win32-x64")
        out[k] = _integrity(f, v, (*key, k))
    return out


def _integrity(f: TomlFile, value: object, key: KeyPath) -> str:
    raw = check_str(f, value, key)
    if not _INTEGRITY_RE.match(raw):
        f.fail(key, f"{show(raw, 24)} is not sha512-<base64 of 64 bytes>",
               "copy it from `npm view @anthropic-ai/claude-code@VERSION dist.integrity`")
    return raw


def _bad_list(f: TomlFile, value: object, key: KeyPath) -> tuple[BadVersion, ...]:
    from pinman.names import clean_version

    if not isinstance(value, list):
        f.fail(key, f"must be an array, not {_type_name(value)}",
                'write bad = [{ version = "2.1.330", reason = "why" }]')
    out = []
    for i, item in enumerate(value):
        entry = check_table(f, item, (*key, i), _KEYS[("claude-code", "bad", 0)])
        if "version" not in entry:
            f.fail((*key, i, "version"), "missing", '{ version = "2.1.330", reason = "why" }')
        raw = _npm_spec(f, entry["version"], (*key, i, "version"), "exact")
        reason = check_str(f, entry.get("reason", ""), (*key, i, "reason"))
        out.append(BadVersion(clean_version(raw) or raw.strip(), reason))
    return tuple(out)


def _sdk(f: TomlFile, value: object) -> SdkPin:
    key: KeyPath = ("sdk",)
    sdk = check_table(f, value, key, _KEYS[key])
    for k in ("package", "version"):
        if k not in sdk:
            f.fail((*key, k), "missing", 'e.g. package = "anthropic" and version = "0.40.0"')
    package = check_str(f, sdk["package"], (*key, "package"))
    if package.startswith("npm:"):
        name = package[4:]
        if len(name) > 214 or not _NPM_NAME_RE.match(name):
            f.fail((*key, "package"), f"{show(name)} is not an npm package name",
                   'e.g. "npm:@anthropic-ai/claude-agent-sdk"')
        return SdkPin(package, _npm_spec(f, sdk["version"], (*key, "version")), "npm", name)
    if not _PYPI_NAME_RE.match(package):
        f.fail((*key, "package"), f"{show(package)} is not a PyPI project name",
               'e.g. "anthropic"; prefix npm packages with "npm:"')
    return SdkPin(package, _pep440(f, sdk["version"], (*key, "version")), "pypi", package)


def _pep440(f: TomlFile, value: object, key: KeyPath) -> str:
    from packaging.specifiers import InvalidSpecifier, SpecifierSet
    from packaging.version import InvalidVersion, Version

    raw = check_str(f, value, key, empty_ok=False)
    try:
        Version(raw)
        return raw
    except InvalidVersion:
        pass
    try:
        SpecifierSet(raw)
        return raw
    except InvalidSpecifier:
        f.fail(key, f"{show(raw)} is not a PEP 440 version or specifier", 'e.g. "0.40.0" or ">=0.40,<1"')


def _env(f: TomlFile, value: object) -> dict[str, str]:
    key: KeyPath = ("env",)
    if not isinstance(value, dict):
        f.fail(key, f"must be a table, not {_type_name(value)}")
    env: dict[str, str] = {}
    for k, v in value.items():
        if not ENV_KEY_RE.match(k):
            f.fail((*key, k), "not a valid environment variable name",
                   "use letters, digits and '_', not starting with a digit (it is exported by sh)")
        if k.startswith("PINMAN_"):
            f.fail((*key, k), "PINMAN_* variables cannot be set by a profile",
                   "they choose the profile and pinman's folders; set them in your shell")
        if k in _RESERVED_ENV:
            f.fail((*key, k), "cannot be set by a profile", _RESERVED_ENV[k])
        if not isinstance(v, str):
            f.fail((*key, k), f"must be a string, not {_type_name(v)}", f'quote it: {k} = "..."')
        if "\0" in v:
            f.fail((*key, k), "contains a NUL character, which no environment variable can hold")
        env[k] = v
    return env


def _health(f: TomlFile, value: object) -> HealthConfig:
    key: KeyPath = ("health",)
    h = check_table(f, value, key, _KEYS[key])
    d = HealthConfig()
    probe = check_str(f, h.get("probe", d.probe), (*key, "probe"))
    if probe not in PROBES:
        f.fail((*key, "probe"), f"{show(probe)} is not a probe", f"use one of: {', '.join(PROBES)}")
    model = h.get("model")
    return HealthConfig(
        probe=probe,
        prompt=check_str(f, h.get("prompt", d.prompt), (*key, "prompt"), empty_ok=False),
        timeout=_check_positive(f, h.get("timeout", d.timeout), (*key, "timeout")),
        auto_rollback=_check_bool(f, h.get("auto_rollback", d.auto_rollback), (*key, "auto_rollback")),
        auto_recover=_check_bool(f, h.get("auto_recover", d.auto_recover), (*key, "auto_recover")),
        interval=_interval(f, h.get("interval", d.interval), (*key, "interval")),
        model=None if model is None else check_str(f, model, (*key, "model"), empty_ok=False),
    )


def _interval(f: TomlFile, value: object, key: KeyPath) -> float:
    if isinstance(value, str):
        if not _DURATION_RE.match(value):
            f.fail(key, f"{show(value)} is not a duration", 'e.g. "90s", "30m", "6h", "1d" or "1h30m"')
        value = sum(float(n) * _UNIT_SECONDS[u] for n, u in _DURATION_PART_RE.findall(value))
    return _check_positive(f, value, key)


# --------------------------------------------------------------------------- discovery


def search_dirs(cwd: Path, paths: Paths) -> list[tuple[Source, Path, Path | None]]:
    """(source, folder, project_root) in precedence order; a folder is listed once."""
    dirs: list[tuple[Source, Path, Path | None]] = []
    root = find_project_root(cwd)
    if root is not None:
        dirs.append(("project", root / "profiles", root))
    dirs.append(("user", paths.user_profiles, None))
    dirs.append(("builtin", builtin_profiles_dir(), None))
    seen: set[Path] = set()
    out = []
    for source, folder, proot in dirs:
        # Inside pinman's own checkout the project folder *is* the built-in one: report it once.
        key = _real(folder)
        if key not in seen:
            seen.add(key)
            out.append((source, folder, proot))
    return out


def _real(folder: Path) -> Path:
    try:
        return folder.resolve()
    except OSError:
        return folder.absolute()


def _names_in(folder: Path) -> list[str]:
    """Profile names in `folder`, sorted; files whose names are not profile names are ignored."""
    try:
        entries = os.listdir(folder)
    except OSError:
        return []
    names = [e[:-5] for e in entries if e.endswith(".toml")]
    return sorted(n for n in names if NAME_RE.match(n) and ".." not in n and (folder / f"{n}.toml").is_file())


def find_profile(name: str, cwd: Path, paths: Paths) -> Profile:
    """The first profile called `name` visible from `cwd` (project, then user, then built-in).

    A malformed file is reported, not skipped: quietly running a different profile of the same
    name would be worse than stopping.
    """
    validate_name(name)
    dirs = search_dirs(cwd, paths)
    for source, folder, root in dirs:
        path = folder / f"{name}.toml"
        # listdir, not just is_file: on a case-insensitive disk "Stable" must not load stable.toml
        if path.is_file() and path.name in os.listdir(folder):
            found = load_profile(path, name=name, source=source, project_root=root)
            return _with_shadowed(found, dirs, paths)
    known = sorted({n for _, folder, _ in dirs for n in _names_in(folder)})
    import difflib

    near = difflib.get_close_matches(name, known, n=1)
    hint = (f'did you mean "{near[0]}"? ' if near else "") + (
        f"known profiles: {', '.join(known)}" if known else "no profiles found")
    where = f"{dirs[0][1]}/{name}.toml" if dirs[0][0] == "project" else f"{paths.user_profiles}/{name}.toml"
    raise ProfileError(f'unknown profile "{name}"', f"{hint}; to add it, create {where}")


def _with_shadowed(profile: Profile, dirs: list[tuple[Source, Path, Path | None]], paths: Paths) -> Profile:
    """Note the user's own profile a project profile of the same name hides: the user's [env]
    (a corporate base URL, say) silently stops applying in that project otherwise."""
    if profile.source != "project":
        return profile
    mine = paths.user_profiles / f"{profile.name}.toml"
    if not any(source == "user" for source, _, _ in dirs) or not mine.is_file():
        return profile
    import dataclasses

    return dataclasses.replace(profile, shadows=mine)


@dataclass(frozen=True)
class BrokenProfile:
    """A profile file that is visible but does not load."""

    name: str
    path: Path
    source: Source
    project_root: Path | None
    error: ProfileError
    shadowed: bool


class ProfileList(list[tuple[Profile, bool]]):
    """`(profile, shadowed)` pairs; files that failed to load are in `.broken`, not dropped."""

    def __init__(self) -> None:
        super().__init__()
        self.broken: list[BrokenProfile] = []


def list_profiles(cwd: Path, paths: Paths) -> ProfileList:
    """Every profile visible from `cwd`, in precedence order. `shadowed` means a profile of the
    same name earlier in the order (loadable or not) wins over this one."""
    out = ProfileList()
    seen: set[str] = set()
    for source, folder, root in search_dirs(cwd, paths):
        for name in _names_in(folder):
            shadowed = name in seen
            seen.add(name)
            path = folder / f"{name}.toml"
            try:
                out.append((load_profile(path, name=name, source=source, project_root=root), shadowed))
            except ProfileError as e:
                out.broken.append(BrokenProfile(name, path, source, root, e, shadowed))
    return out


# --------------------------------------------------------------------------- saving


def update_profile(path: Path, changes: Mapping[str, object],
                   before_write: Callable[[bytes], object] | None = None) -> None:
    """Change values in a profile file, keeping everything else byte for byte.

    Keys are dotted (`"claude-code.version"`, `"env.ANTHROPIC_BASE_URL"`). A value of None removes
    the key. A list that extends the current array (e.g. one more `bad` entry) is appended to it,
    keeping the comments inside the array; any other list replaces it. New keys go after their
    neighbour in the documented order, new tables at the end. The result must be a valid profile,
    or nothing is written. A symlinked profile is edited where it points. `before_write` gets the
    new bytes just before they replace the file (trust uses it to expect pinman's own edit).
    """
    edit_toml(path, changes, lambda text: parse_profile(text, path), before_write)


def edit_toml(path: Path, changes: Mapping[str, object], validate: Callable[[str], object],
              before_write: Callable[[bytes], object] | None = None) -> None:
    """Apply dotted-key `changes` to the TOML file at `path` with tomlkit; atomic; validated first."""
    import tomlkit

    from pinman.state.fsutil import atomic_write

    real = path.resolve() if path.is_symlink() else path
    try:
        data = real.read_bytes()
        mode = real.stat().st_mode & 0o7777
    except OSError as e:
        raise ProfileFileError(path, None, None, f"cannot read: {e.strerror or e}") from None
    original = read_toml(data, path).text  # located syntax errors, before tomlkit sees it
    bom = "\ufeff" if data.startswith(b"\xef\xbb\xbf") else ""
    doc = tomlkit.parse(original)
    for dotted, value in changes.items():
        parts = tuple(dotted.split("."))
        if not all(parts):
            raise ProfileError(f"cannot change {show(dotted)}: not a dotted key like claude-code.version")
        _apply(doc, parts, value)
    text = tomlkit.dumps(doc)
    if "\r\n" in original and not re.search(r"(?<!\r)\n", original):
        text = re.sub(r"(?<!\r)\n", "\r\n", text)  # tomlkit writes new lines with \n only
    if text == original:
        return
    _check_encodable(path, text)
    validate(text)
    from pinman.faults import point

    if before_write is not None:
        before_write((bom + text).encode())
    point("toml.edit", real.name)
    atomic_write(real, bom + text, mode)


def _check_encodable(path: Path, text: str) -> None:
    """A TOML file is UTF-8: a value with a lone surrogate (undecodable bytes in a command-line
    argument arrive as those) cannot be written."""
    try:
        text.encode()
    except UnicodeEncodeError as e:
        bad = e.object[e.start:e.end]
        raise ProfileError(f"{display_path(path)}: cannot save a value holding {show(bad)}: not valid text",
                           hint="pass the value as UTF-8 text") from None


def _apply(doc: Any, parts: tuple[str, ...], value: object) -> None:
    import tomlkit

    container = doc
    for i, part in enumerate(parts[:-1]):
        if part not in container:
            if value is None:
                return  # removing a key under a table that does not exist: nothing to do
            if i:
                _add_table(container, part)
            else:
                container[part] = tomlkit.table()
        container = container[part]
        if not isinstance(container, dict):
            raise ProfileError(f"cannot set {'.'.join(parts)}: {'.'.join(parts[: i + 1])} is not a table")
    leaf = parts[-1]
    if value is None:
        if leaf in container:
            _remove(container, leaf)
        return
    if leaf in container:
        if not _extend_array(container[leaf], value):
            container[leaf] = _to_item(value)  # tomlkit keeps the key's place and trailing comment
        return
    _insert(container, parts[:-1], leaf, _to_item(value))


def _add_table(parent: Any, key: str) -> None:
    """Add an empty sub-table (`[claude-code.native]`) right after the parent's own keys.

    tomlkit would put it after the parent's trailing comments, which usually introduce the *next*
    table; those comments stay below the new table, after a blank line.
    """
    import tomlkit
    import tomlkit.items
    from tomlkit.container import Container

    if isinstance(parent, tomlkit.items.InlineTable):
        parent[key] = tomlkit.inline_table()  # `claude-code = { ... }` stays on its line
        return
    table = tomlkit.table()
    owner = parent.value if isinstance(parent, tomlkit.items.Table) else None
    if not isinstance(owner, Container) or parent.is_super_table():
        parent[key] = table  # a dotted-key parent: tomlkit writes it in its own style
        return
    body = owner.body
    keyed = [i for i, (k, _) in enumerate(body) if k is not None]
    at = (max(keyed) + 1) if keyed else 0
    while at < len(body) and isinstance(body[at][1], tomlkit.items.Comment):
        at += 1  # comments right below the last key belong to it
    table.trivia.indent = "\n"  # a blank line before the new header
    if at < len(body):
        owner._insert_at(at, key, table)
    else:
        parent[key] = table


def _remove(container: Any, key: str) -> None:
    """Delete `key`; a sub-table's trailing comments (after a blank line) stay in the file.

    tomlkit keeps the comments between a table's last key and the next header in that table, so
    deleting `[claude-code.native]` would also delete the comments that introduce the next table.
    """
    import tomlkit.items
    from tomlkit.container import Container

    item = container[key]
    owner = container.value if isinstance(container, tomlkit.items.Table) else container
    if not (isinstance(item, tomlkit.items.Table) and isinstance(owner, Container)
            and isinstance(item.value, Container)):
        del container[key]
        return
    body = item.value.body
    keyed = [i for i, (k, _) in enumerate(body) if k is not None]
    start = (max(keyed) + 1) if keyed else 0
    while start < len(body) and isinstance(body[start][1], tomlkit.items.Comment):
        start += 1  # comments right below the last key go with it
    tail = "".join(v.as_string() for _, v in body[start:])
    slot = next(i for i, (k, v) in enumerate(owner.body) if k is not None and k.key == key and v is item)
    del container[key]  # leaves a placeholder in the same slot
    if slot and isinstance(owner.body[slot - 1][1], tomlkit.items.Whitespace):
        tail = tail.lstrip("\n")  # the blank line before the removed header already separates
    if tail:
        owner.body[slot] = (None, tomlkit.items.Whitespace(tail))


def _extend_array(current: Any, value: object) -> bool:
    """Append to `current` in place when `value` is `current` plus more entries."""
    import tomlkit.items

    if not isinstance(current, tomlkit.items.Array) or not isinstance(value, list):
        return False
    old = current.unwrap()
    if not old or value[: len(old)] != old or len(value) == len(old):
        return False
    for entry in value[len(old):]:
        current.append(_to_item(entry))
    return True


def _to_item(value: object) -> Any:
    """A tomlkit item for a plain value; tables inside arrays are written inline and spaced."""
    import tomlkit

    if isinstance(value, dict):
        body = ", ".join(f"{_toml_key(k)} = {tomlkit.item(v).as_string()}" for k, v in value.items())
        return tomlkit.parse(f"x = {{ {body} }}" if body else "x = {}")["x"]
    if isinstance(value, list) and any(isinstance(v, dict) for v in value):
        arr = tomlkit.array()
        for v in value:
            arr.append(_to_item(v))
        arr.multiline(True)
        return arr
    return tomlkit.item(value)


def _toml_key(key: str) -> str:
    import tomlkit

    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else tomlkit.string(key).as_string()


def _insert(container: Any, table: tuple[str, ...], key: str, item: Any) -> None:
    """Add `key` to a table after its documented predecessor, else after the table's last key.

    Plain assignment would put it after the table's trailing blank lines and comments, which
    usually introduce the *next* table.
    """
    import tomlkit.items
    from tomlkit.container import Container

    body_owner = container.value if isinstance(container, tomlkit.items.Table) else container
    if not isinstance(body_owner, Container) or (
        isinstance(container, tomlkit.items.Table) and container.is_super_table()
    ):
        container[key] = item
        return
    body = body_owner.body
    order = _KEYS.get(table, ())
    before = order[: order.index(key)] if key in order else ()
    keyed = [(i, k.key) for i, (k, v) in enumerate(body)
             if k is not None and not isinstance(v, (tomlkit.items.Table, tomlkit.items.AoT))]
    anchors = [i for i, name in keyed if name in before]
    if anchors or keyed:
        at = max(anchors or [i for i, _ in keyed]) + 1
    elif not table:
        at = len(body)  # top level: tomlkit itself puts a new key before the first table
    else:
        content = [i for i, (k, v) in enumerate(body) if not isinstance(v, tomlkit.items.Whitespace)]
        at = max(content) + 1 if content else 0
    neighbour = body[at - 1][1] if 0 < at <= len(body) else None
    if neighbour is not None and hasattr(neighbour, "trivia") and hasattr(item, "trivia"):
        item.trivia.indent = neighbour.trivia.indent  # an indented table stays indented
    if at >= len(body):
        container[key] = item
    else:
        body_owner._insert_at(at, key, item)


# --------------------------------------------------------------------------- key -> line


class _Stop(Exception):
    pass


def key_lines(text: str) -> dict[KeyPath, int]:
    """Line number of every key, table header and array element in a TOML text.

    tomllib reports lines only for syntax errors; semantic errors (a bad version, an unknown key)
    need this small scanner. It is only run while building an error message, and stops quietly at
    anything it does not understand, returning what it found so far.
    """
    scanner = _Scanner(text)
    try:
        scanner.document()
    except (_Stop, IndexError, RecursionError):
        pass
    return scanner.found


_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_SCALAR_END = re.compile(r"[,\]}\n#]")


class _Scanner:
    def __init__(self, text: str) -> None:
        self.t = text
        self.i = 0
        self.found: dict[KeyPath, int] = {}
        self._newlines = [m.start() for m in re.finditer("\n", text)]
        self._aot: dict[KeyPath, int] = {}

    def record(self, key: KeyPath, pos: int) -> None:
        self.found.setdefault(key, bisect.bisect_left(self._newlines, pos) + 1)

    def skip(self, newlines: bool) -> None:
        t = self.t
        while self.i < len(t):
            c = t[self.i]
            if c in " \t\r" or (newlines and c == "\n"):
                self.i += 1
            elif c == "#" and newlines:
                end = t.find("\n", self.i)
                self.i = len(t) if end < 0 else end
            else:
                return

    def end_of_line(self) -> None:
        end = self.t.find("\n", self.i)
        self.i = len(self.t) if end < 0 else end + 1

    def document(self) -> None:
        table: KeyPath = ()
        while True:
            self.skip(newlines=True)
            if self.i >= len(self.t):
                return
            start = self.i
            if self.t[self.i] == "[":
                double = self.t.startswith("[[", self.i)
                self.i += 2 if double else 1
                table = self.keys()
                self.record(table, start)
                if double:
                    n = self._aot[table] = self._aot.get(table, -1) + 1
                    table = (*table, n)
                    self.record(table, start)
                self.end_of_line()
            else:
                key = (*table, *self.keys())
                self.expect("=")
                self.record(key, start)
                self.value(key)
                self.end_of_line()

    def expect(self, char: str) -> None:
        self.skip(newlines=False)
        if not self.t.startswith(char, self.i):
            raise _Stop
        self.i += 1

    def keys(self) -> tuple[str, ...]:
        parts: list[str] = []
        while True:
            self.skip(newlines=False)
            c = self.t[self.i]
            if c in "\"'":
                start = self.i
                self.string()
                raw = self.t[start:self.i]
                try:
                    parts.append(tomllib.loads(f"k = {raw}")["k"])
                except tomllib.TOMLDecodeError:
                    raise _Stop from None
            else:
                m = _BARE_KEY.match(self.t, self.i)
                if not m:
                    raise _Stop
                parts.append(m[0])
                self.i = m.end()
            self.skip(newlines=False)
            if not self.t.startswith(".", self.i):
                return tuple(parts)
            self.i += 1

    def string(self) -> None:
        t, q = self.t, self.t[self.i]
        if t.startswith(q * 3, self.i):
            j = self.i + 3
            while not t.startswith(q * 3, j):
                j += 2 if (q == '"' and t[j] == "\\") else 1
                if j >= len(t):
                    raise _Stop
            end = j + 3
            while end < len(t) and t[end] == q and end - j < 5:  # up to two quotes before the closer
                end += 1
            self.i = end
            return
        j = self.i + 1
        while t[j] != q:
            if t[j] == "\n":
                raise _Stop
            j += 2 if (q == '"' and t[j] == "\\") else 1
        self.i = j + 1

    def value(self, key: KeyPath) -> None:
        self.skip(newlines=False)
        c = self.t[self.i]
        if c in "\"'":
            self.string()
        elif c == "[":
            self.i += 1
            n = 0
            while True:
                self.skip(newlines=True)
                c = self.t[self.i]
                if c == "]":
                    self.i += 1
                    return
                if c == ",":
                    self.i += 1
                    n += 1
                    continue
                self.record((*key, n), self.i)
                self.value((*key, n))
        elif c == "{":
            self.i += 1
            while True:
                self.skip(newlines=False)
                c = self.t[self.i]
                if c == "}":
                    self.i += 1
                    return
                if c == ",":
                    self.i += 1
                    continue
                start = self.i
                sub = (*key, *self.keys())
                self.expect("=")
                self.record(sub, start)
                self.value(sub)
        else:
            m = _SCALAR_END.search(self.t, self.i)
            end = len(self.t) if m is None else m.start()
            if end == self.i:
                raise _Stop
            self.i = end
