"""Names every layer shares, defined once: the Claude Code package, the progress callback type,
what an exact version is (and how a written one is cleaned), what an npm package name is.

Plain string rules, no parsing machinery: exact versions and package names become folder names,
file names and npm arguments, so each is checked the same way everywhere, and every place that
accepts `v2.1.0` or `=2.1.0` for `2.1.0` cleans it the same way (node-semver's strict `clean`).
"""

from __future__ import annotations

import re
from collections.abc import Callable

CLAUDE_CODE = "@anthropic-ai/claude-code"

# Installs, checks and bisects report steps as one short line each ("downloading", "verifying");
# the CLI decides how to show them (a live line on a terminal, plain lines when piped).
Progress = Callable[[str], None]

# An env key the consumers of a profile's env prepend to PATH instead of exporting (an [sdk] venv's
# bin); a profile's [env] cannot set PINMAN_* keys, so it cannot collide with one a user wrote.
PATH_PREPEND = "PINMAN_PATH_PREPEND"

MAX_VERSION_LENGTH = 64  # an exact version the store holds; longer ones are no real release
MAX_PACKAGE_LENGTH = 214  # npm's limit

# semver.org 2.0.0 without build metadata: what the registry publishes (npm cleans versions
# before they get there) and what the store, keyed by exact version, can hold. ASCII only: a
# digit from another script is not a digit to npm.
_ID = r"(?:0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*)"
_EXACT = rf"(?:0|[1-9]\d*)\.(?:0|[1-9]\d*)\.(?:0|[1-9]\d*)(?:-{_ID}(?:\.{_ID})*)?"
_EXACT_RX = re.compile(_EXACT, re.ASCII)
# node-semver's strict FULL pattern: an optional `v`, the version, optional build metadata
_WRITTEN_RX = re.compile(rf"v?({_EXACT})(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?", re.ASCII)
_SEMVER_MAX_LENGTH = 256  # node-semver refuses longer version strings
_MAX_SAFE_INTEGER = 2**53 - 1
# npm's rules for new names, minus the rare leading "-"/"~": lowercase, URL-safe, no path tricks.
_PACKAGE_RX = re.compile(r"(?:@([a-z0-9][a-z0-9._~-]*)/)?([a-z0-9][a-z0-9._~-]*)")


def is_exact_version(text: str) -> bool:
    """`text` is one exact version as written in the store and by the registry: `2.1.0`,
    `1.0.0-beta.1`; not `v2.1.0`, `2.1.0+build`, a range or a tag."""
    return (len(text) <= MAX_VERSION_LENGTH and _EXACT_RX.fullmatch(text) is not None
            and _safe_numbers(text))


def clean_version(text: str) -> str | None:
    """node-semver's strict `clean`: ` =v2.1.0+build ` -> `2.1.0`; None if `text` is not one
    exact version (a range, a tag, `1.2`, leading zeros)."""
    rest = re.sub(r"^[=v]+", "", text.strip())
    if len(rest) > _SEMVER_MAX_LENGTH:
        return None
    m = _WRITTEN_RX.fullmatch(rest.strip())
    if m is None:
        return None
    return m[1] if _safe_numbers(m[1]) else None


def _safe_numbers(version: str) -> bool:
    """node-semver refuses a major, minor or patch above Number.MAX_SAFE_INTEGER."""
    core = version.split("-", 1)[0]
    return all(int(n) <= _MAX_SAFE_INTEGER for n in core.split("."))


def is_package_name(name: str) -> bool:
    """`name` is an npm package name pinman will ask for, install and use as a folder name."""
    return len(name) <= MAX_PACKAGE_LENGTH and _PACKAGE_RX.fullmatch(name) is not None


# A client switch pinman may set as a remedy (`pinman/policy/remedies.toml`, the overrides file):
# one of Claude Code's own knobs, never a variable that says where requests go, what they carry as
# credentials, or what runs (ANTHROPIC_BASE_URL, a key, PATH, NODE_OPTIONS, PINMAN_*).
_SWITCH_VAR_RX = re.compile(r"(?:CLAUDE_CODE_|DISABLE_|ENABLE_|MAX_)[A-Z0-9_]{1,60}", re.ASCII)
_SWITCH_VALUE_RX = re.compile(r"[A-Za-z0-9._-]{1,64}", re.ASCII)
_NOT_SWITCHES = re.compile(r"KEY|TOKEN|SECRET|PASSWORD|CREDENTIAL|AUTOUPDATER|EXECUTABLE|PATH|URL|HEADER",
                           re.ASCII)


def is_switch(name: str, value: str) -> bool:
    """`name=value` is a client switch a remedy may set: `CLAUDE_CODE_EFFORT_LEVEL=auto`."""
    return (_SWITCH_VAR_RX.fullmatch(name) is not None and _NOT_SWITCHES.search(name) is None
            and _SWITCH_VALUE_RX.fullmatch(value) is not None)
