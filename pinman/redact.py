"""Which values in an environment are credentials, in one place.

Keys come from the user's environment and must never reach pinman's files or output: the probe
results, the journal and every message built from what an endpoint said are scrubbed with
`secret_values`. A gateway that echoes a request back in its error would otherwise hand them over.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

CREDENTIAL_VARS = ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN")
# "Name: value" lines that Claude Code adds to every request; gateways put their tokens there.
HEADERS_VAR = "ANTHROPIC_CUSTOM_HEADERS"
# Variables whose values are secrets even when pinman does not know the name (AWS, gateways...).
_SECRET_NAME = re.compile(r"KEY|TOKEN|SECRET|PASSWORD|CREDENTIAL", re.IGNORECASE)
_MIN_NAMED = 4  # a credential pinman knows by name: even a short one is scrubbed
_MIN_GUESSED = 8  # guessed by name or a header value: shorter ones are more likely plain words


def secret_values(env: Mapping[str, str]) -> list[str]:
    """The values in `env` that must never be shown or stored, longest first (so none is left
    half-scrubbed when one contains another)."""
    found: set[str] = set()
    for name, value in env.items():
        if not value:
            continue
        if name in CREDENTIAL_VARS or name == HEADERS_VAR:
            if len(value) >= _MIN_NAMED:
                found.add(value)
        elif _SECRET_NAME.search(name) and len(value) >= _MIN_GUESSED:
            found.add(value)
    found.update(v for v in header_values(env.get(HEADERS_VAR, "")) if len(v) >= _MIN_GUESSED)
    return sorted(found, key=len, reverse=True)


def header_values(headers: str) -> list[str]:
    """The values of `Name: value` lines (as Claude Code parses ANTHROPIC_CUSTOM_HEADERS)."""
    out = []
    for line in headers.splitlines():
        name, sep, value = line.partition(":")
        if sep and name.strip() and value.strip():
            out.append(value.strip())
    return out
