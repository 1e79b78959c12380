"""Which values in an environment are credentials, in one place.

Keys come from the user's environment and must never reach pinman's files or output: the probe
results, the journal, the hook log, notices and every message built from what an endpoint said
go through `scrub` with the `secret_values` of the environment. A gateway that echoes a request
back in its error would otherwise hand them over, and it may echo them encoded: `\\/`-escaped,
percent-encoded, base64 or base64url (alone, or inside a whole header line it encoded).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping

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


# ------------------------------------------------------------------------- scrubbing, in every encoding

REDACTED = "<redacted>"
# Shapes that are secrets whatever pinman knows: an Anthropic key, and what follows "Bearer" or
# an `x-api-key:` header name in an echoed request.
PATTERNS = (
    re.compile(r"sk-ant-[A-Za-z0-9_\-]{8,}"),
    re.compile(r"(?i)(\bbearer\s+)[A-Za-z0-9._~+/=\-]{8,}"),
    re.compile(r"(?i)(\bx-api-key[\"']?\s*[:=]\s*[\"']?)[^\s\"',}]{8,}"),
)


def scrub(text: str, secrets: Iterable[str]) -> str:
    """`text` with every secret replaced by `<redacted>`: as is, `\\/`-escaped (JSON), percent-
    encoded (any mix of characters and `%XX`, either case), and base64/base64url-encoded at any
    of the three byte alignments it can have inside a longer encoded string; then the `PATTERNS`.
    Secrets longest first (what `secret_values` returns), so none is left half-scrubbed."""
    for s in secrets:
        text = _plain_forms(s).sub(REDACTED, text)
        for fragment in base64_fragments(s):
            text = text.replace(fragment, REDACTED)
    for pat in PATTERNS:
        text = pat.sub(lambda m: (m.group(1) if m.groups() else "") + REDACTED, text)
    return text


@functools.lru_cache(maxsize=64)
def _plain_forms(secret: str) -> re.Pattern[str]:
    """One character at a time: itself, or its UTF-8 bytes as `%XX`; a `/` also as `\\/` (or with
    more backslashes: an escaped text escaped again)."""
    parts = []
    for ch in secret:
        pct = "".join(f"%(?i:{b:02x})" for b in ch.encode("utf-8", "surrogatepass"))
        alts = [re.escape(ch), pct] + ([r"\\+/"] if ch == "/" else [])
        parts.append("(?:" + "|".join(alts) + ")")
    return re.compile("".join(parts))


@functools.lru_cache(maxsize=64)
def base64_fragments(secret: str) -> tuple[str, ...]:
    """The base64 and base64url characters that only the secret's bytes decide, for each of the
    three alignments the secret can start at inside a longer encoded string (a header echo such
    as `x-api-key: KEY` or `Bearer KEY`, encoded whole). Padding never counts: it is outside."""
    import base64

    raw = secret.encode("utf-8", "surrogatepass")
    out: list[str] = []
    for shift in (0, 1, 2):
        encoded = base64.b64encode(b"\0" * shift + raw).decode()
        start, end = -(-8 * shift // 6), (8 * shift + 8 * len(raw)) // 6  # chars of secret bits only
        fragment = encoded[start:end]
        if fragment:
            out += [fragment, fragment.replace("+", "-").replace("/", "_")]
    return tuple(sorted(set(out), key=len, reverse=True))
