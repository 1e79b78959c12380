"""Validation of a profile's text into a Profile: every rule of the file format, one error per problem.

Errors are ProfileFileErrors naming file, line and key, with a hint; unknown keys get the nearest
known key suggested. Loading uses stdlib `tomllib` only (it runs on every `pinman current`).
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

from pinman.errors import ProfileError
from pinman.names import clean_version, is_exact_version
from pinman.profile.model import ENV_KEY_RE, KEYS, NAME_RE, PLATFORM_RE, POLICIES, PROBES, REMEDIES, SCHEMA, BadVersion, ClaudeCodePin, HealthConfig, KeyPath, Profile, SdkPin, Source, UpdateConfig, format_key, show
from pinman.profile.tomlfile import ProfileFileError, TomlFile, read_toml

_INTEGRITY_RE = re.compile(r"sha512-([A-Za-z0-9+/]{86}==)\Z")
_PYPI_NAME_RE = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?\Z")
_NPM_NAME_RE = re.compile(r"(?:@[a-z0-9~-][a-z0-9._~-]*/)?[a-z0-9~-][a-z0-9._~-]*\Z")
_DURATION_RE = re.compile(r"(?:\s*\d+(?:\.\d+)?\s*[smhd])+\s*\Z", re.ASCII)
_DURATION_PART_RE = re.compile(r"(\d+(?:\.\d+)?)\s*([smhd])", re.ASCII)
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_SOAK_RE = re.compile(r"(?:\s*\d+(?:\.\d+)?\s*[hd])+\s*\Z", re.ASCII)  # hours and days: "7d", "36h", "0h"
_RESERVED_ENV = {
    "DISABLE_AUTOUPDATER": "pinman always sets DISABLE_AUTOUPDATER=1 so the pin holds",
    "ANTHROPIC_API_KEY": "keys are read from your environment, never stored in a profile",
    "ANTHROPIC_AUTH_TOKEN": "keys are read from your environment, never stored in a profile",
}
_SPEC_HINT = 'e.g. "2.1.331" (exact), "latest" (dist-tag), "^2.1.0" or ">=1.0.100 <2" (range)'


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
    from pinman.digest import sha256_hex

    name = validate_name(path.stem if name is None else name)
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
    digest = "sha256:" + sha256_hex(raw)
    f = read_toml(data, path)
    doc = check_table(f, f.data, (), KEYS[()])
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
        update=_update(f, doc.get("update", {})),
        digest=digest,
    )


def _plain_exact(raw: str) -> bool:
    """`2.1.331` as the registry writes it: exact for `parse_spec` too, known without importing
    node-semver (loading a profile is on `pinman current`'s path)."""
    return is_exact_version(raw) and clean_version(raw) == raw


def _npm_spec(f: TomlFile, value: object, key: KeyPath, what: str = "") -> str:
    """An npm version, dist-tag or range, checked by the same parser `pinman resolve` uses."""
    raw = check_str(f, value, key)
    if _plain_exact(raw):
        return raw
    from pinman.npm.spec import parse_spec

    try:
        spec = parse_spec(raw)
    except ValueError as e:
        reason = str(e)
        extra = "" if "is not a version, dist-tag or npm range" in reason else f" ({reason})"
        f.fail(key, f"{show(raw)} is not a version, dist-tag or npm range{extra}", _SPEC_HINT)
    if what == "exact" and spec.kind != "exact":
        f.fail(key, f"{show(raw)} is a {spec.kind}, not an exact version", 'e.g. "2.1.330"')
    return raw


def _kind(spec: str) -> str:
    from pinman.npm.spec import parse_spec

    return parse_spec(spec).kind


def _claude_code(f: TomlFile, value: object) -> ClaudeCodePin:
    key: KeyPath = ("claude-code",)
    cc = check_table(f, value, key, KEYS[key])
    if "version" not in cc:
        f.fail((*key, "version"), "missing", 'add version = "2.1.331" (or "latest", or a range)')
    version = _npm_spec(f, cc["version"], (*key, "version"))
    exact = _plain_exact(version) or _kind(version) == "exact"
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
    if not isinstance(value, list):
        f.fail(key, f"must be an array, not {_type_name(value)}",
                'write bad = [{ version = "2.1.330", reason = "why" }]')
    out = []
    for i, item in enumerate(value):
        entry = check_table(f, item, (*key, i), KEYS[("claude-code", "bad", 0)])
        if "version" not in entry:
            f.fail((*key, i, "version"), "missing", '{ version = "2.1.330", reason = "why" }')
        raw = _npm_spec(f, entry["version"], (*key, i, "version"), "exact")
        reason = check_str(f, entry.get("reason", ""), (*key, i, "reason"))
        out.append(BadVersion(clean_version(raw) or raw.strip(), reason))
    return tuple(out)


def _sdk(f: TomlFile, value: object) -> SdkPin:
    key: KeyPath = ("sdk",)
    sdk = check_table(f, value, key, KEYS[key])
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
    h = check_table(f, value, key, KEYS[key])
    d = HealthConfig()
    probe = check_str(f, h.get("probe", d.probe), (*key, "probe"))
    if probe not in PROBES:
        f.fail((*key, "probe"), f"{show(probe)} is not a probe", f"use one of: {', '.join(PROBES)}")
    model = h.get("model")
    remedies = check_str(f, h.get("remedies", d.remedies), (*key, "remedies"))
    if remedies not in REMEDIES:
        f.fail((*key, "remedies"), f"{show(remedies)} is not a remedies level",
               f"use one of: {', '.join(REMEDIES)}")
    return HealthConfig(
        probe=probe,
        prompt=check_str(f, h.get("prompt", d.prompt), (*key, "prompt"), empty_ok=False),
        timeout=_check_positive(f, h.get("timeout", d.timeout), (*key, "timeout")),
        auto_rollback=_check_bool(f, h.get("auto_rollback", d.auto_rollback), (*key, "auto_rollback")),
        auto_recover=_check_bool(f, h.get("auto_recover", d.auto_recover), (*key, "auto_recover")),
        interval=_interval(f, h.get("interval", d.interval), (*key, "interval")),
        model=None if model is None else check_str(f, model, (*key, "model"), empty_ok=False),
        remedies=remedies,
    )


def _interval(f: TomlFile, value: object, key: KeyPath) -> float:
    if isinstance(value, str):
        if not _DURATION_RE.match(value):
            f.fail(key, f"{show(value)} is not a duration", 'e.g. "90s", "30m", "6h", "1d" or "1h30m"')
        value = sum(float(n) * _UNIT_SECONDS[u] for n, u in _DURATION_PART_RE.findall(value))
    return _check_positive(f, value, key)


def _update(f: TomlFile, value: object) -> UpdateConfig:
    """`[update]`: policy, soak, auto. A guarded policy on an exact or locked pin is allowed and
    inert (an exact version is its own channel), so `pin` and `lock` never leave a file invalid."""
    key: KeyPath = ("update",)
    u = check_table(f, value, key, KEYS[key])
    d = UpdateConfig()
    policy = check_str(f, u.get("policy", d.policy), (*key, "policy"))
    if policy not in POLICIES:
        f.fail((*key, "policy"), f"{show(policy)} is not a policy",
               '"pin" (npm\'s resolution, the default) or "guarded" (only releases verified here)')
    return UpdateConfig(policy=policy, soak=_soak(f, u.get("soak"), (*key, "soak"), d.soak),
                        auto=_check_bool(f, u.get("auto", d.auto), (*key, "auto")))


def _soak(f: TomlFile, value: object, key: KeyPath, default: float) -> float:
    if value is None:
        return default
    if not isinstance(value, str) or not _SOAK_RE.match(value):
        f.fail(key, f"{show(value)} is not a soak time in hours or days", 'e.g. "7d", "36h", or "0h" for none')
    return sum(float(n) * _UNIT_SECONDS[u] for n, u in _DURATION_PART_RE.findall(value))
