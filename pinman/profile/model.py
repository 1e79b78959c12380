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
remedies = "cheap"              # on a schema error: "cheap" client switches first, then the rollback;
                                # "all": costly switches too (thinking off) before the rollback; "off"

[update]                        # a dist-tag or range only: how it moves forward on this machine
policy = "guarded"              # "pin" (default): npm's resolution; "guarded": only to releases verified here
soak = "7d"                     # a release must be at least this old (registry publish time); "0h": none
auto = true                     # unattended checks may download and try candidates (default false)
```

A `locked` version runs instead of resolving the tag or range: the spec is the intent, the lock is
what everyone runs until `pinman lock` or `pinman upgrade` moves it. The keys of
`[claude-code.native]` are the platforms the team declares (`pinman lock --platform KEY` adds one).

Rules: unknown keys are errors (with the nearest known key suggested); `[env]` keys must be shell
identifiers (`[A-Za-z_][A-Za-z0-9_]*`) and values strings without NUL; `[env]` may not set
`PINMAN_*` (pinman's own controls), `DISABLE_AUTOUPDATER` (pinman sets it so the pin holds) or
`ANTHROPIC_API_KEY`/`ANTHROPIC_AUTH_TOKEN` (keys come from your environment, never from a file).

This module holds the model those files are read into: frozen dataclasses, the key set in the
order pinman writes keys, and the helpers that show a value or a file in a one-line message. It
imports nothing that parses or writes, so every layer can hold a Profile cheaply. Reading is
`profile.tomlfile` + `profile.validate`, lookup `profile.discovery`, writing `profile.edit`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import field
from pathlib import Path
from typing import Literal

from pinman.record import record

Source = Literal["project", "user", "builtin"]
KeyPath = tuple["str | int", ...]

SCHEMA = 1
# \Z, not $: `$` also matches before a trailing newline, and a name ends up in file names and sh.
NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}\Z")
ENV_KEY_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")

# The key set, in the order pinman writes new keys (see update_profile).
KEYS: dict[KeyPath, tuple[str, ...]] = {
    (): ("schema", "description", "claude-code", "sdk", "env", "health", "update"),
    ("claude-code",): ("version", "locked", "integrity", "bad", "native"),
    ("claude-code", "bad", 0): ("version", "reason"),
    ("sdk",): ("package", "version"),
    ("health",): ("probe", "model", "prompt", "timeout", "auto_rollback", "auto_recover", "interval", "remedies"),
    ("update",): ("policy", "soak", "auto"),
}
POLICIES = ("pin", "guarded")
PROBES = ("cli", "http", "sdk")
REMEDIES = ("off", "cheap", "all")  # [health] remedies: which client switches a check may apply
# The suffix of a platform package, @anthropic-ai/claude-code-<key>: "linux-x64", "linux-arm64-musl".
PLATFORM_RE = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+){1,3}\Z")


# --------------------------------------------------------------------------- the data


@record
class BadVersion:
    version: str  # exact, normalised ("v2.1.330" -> "2.1.330")
    reason: str


@record
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
        from pinman.npm.semver import clean
        from pinman.npm.spec import is_exact

        if is_exact(self.version):
            return clean(self.version) or self.version.strip()
        return self.locked


@record
class SdkPin:
    package: str  # as written, e.g. "anthropic" or "npm:@anthropic-ai/claude-agent-sdk"
    version: str
    ecosystem: Literal["pypi", "npm"]
    name: str  # the package name without the "npm:" prefix


@record
class HealthConfig:
    probe: str = "cli"
    prompt: str = "Reply with the single word OK."
    timeout: float = 60.0
    auto_rollback: bool = True
    interval: float = 6 * 3600.0  # seconds
    model: str | None = None
    auto_recover: bool = True  # while on a rollback override, return to the pin once it checks ok
    remedies: str = "cheap"  # one of REMEDIES


@record
class UpdateConfig:
    """How a dist-tag or range moves forward here: "pin" resolves as npm does (on every run, or at
    the lock); "guarded" runs the newest release that passed a probe against this machine's
    endpoint, at least `soak` seconds after it was published. Inert on an exact or locked pin."""

    policy: str = "pin"
    soak: float = 7 * 86400.0  # seconds
    auto: bool = False  # unattended checks may download and probe candidates

    @property
    def guarded(self) -> bool:
        return self.policy == "guarded"


@record
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
    update: UpdateConfig = field(default_factory=UpdateConfig)
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
        return printable(repr(value))[:limit]
    text = value if len(value) <= limit else value[:limit] + "…"
    return '"' + printable(text.replace("\\", "\\\\").replace('"', '\\"')) + '"'


def printable(text: str) -> str:
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
