"""Keys and tokens must never reach a file under PINMAN_HOME or a line of output.

`cli_support.run` records the secret values of every command it runs (`note`) and refuses output
that contains one (`assert_clean_output`); the autouse fixture in conftest scans the test's
PINMAN_HOME after the test (`leaks_under`). Secrets are the values of ANTHROPIC_API_KEY and
ANTHROPIC_AUTH_TOKEN, and each header value in ANTHROPIC_CUSTOM_HEADERS ("Name: value" lines).
Each is looked for in every form a gateway may echo it in (`encodings`): as is, `\\/`-escaped,
percent-encoded, and base64/base64url alone or inside an encoded header line. The forms are
derived here, independently of pinman's scrubbing, so a gap in one is not hidden by the other.
"""

from __future__ import annotations

import base64
import json
import os
import re
import urllib.parse
from collections.abc import Iterable, Mapping
from pathlib import Path

SECRET_VARS = ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN")
HEADERS_VAR = "ANTHROPIC_CUSTOM_HEADERS"
MIN_LEN = 8  # shorter values ("sk-x" in a rejected profile) are test data, not credentials
MAX_SCAN = 4 * 1024 * 1024  # bytes; bigger files are binaries npm wrote, not pinman's

_seen: set[str] = set()


def secrets_in(env: Mapping[str, str]) -> set[str]:
    """The credential values `env` hands to pinman and claude."""
    found = {env[v] for v in SECRET_VARS if env.get(v)}
    for line in env.get(HEADERS_VAR, "").splitlines():
        name, sep, value = line.partition(":")
        found.add(value.strip() if sep else name.strip())
    return {s for s in found if len(s) >= MIN_LEN}


def note(env: Mapping[str, str]) -> set[str]:
    """Remember the secrets of one command for this test's after-test scan; return them."""
    found = secrets_in(env)
    _seen.update(found)
    return found


def take() -> set[str]:
    """The secrets noted since the last call (one test's worth), forgetting them."""
    found = set(_seen)
    _seen.clear()
    return found


def encodings(secret: str) -> dict[str, str]:
    """form -> how `secret` reads in that form. Base64 at each of the three byte alignments a
    value can have inside a longer encoded string (`x-api-key: KEY` encoded whole): only the
    characters the secret's own bytes decide, which any encoding of it contains."""
    forms = {"plain": secret, "json-slash": secret.replace("/", "\\/"),
             "percent": urllib.parse.quote(secret, safe=""), "percent-plus": urllib.parse.quote_plus(secret)}
    forms["percent-lower"] = re.sub(r"%[0-9A-F]{2}", lambda m: m.group().lower(), forms["percent"])
    raw = secret.encode()
    for shift in (0, 1, 2):
        text = base64.b64encode(b"\0" * shift + raw).decode()
        fragment = text[-(-8 * shift // 6):(8 * shift + 8 * len(raw)) // 6]
        forms[f"base64+{shift}"] = fragment
        forms[f"base64url+{shift}"] = fragment.replace("+", "-").replace("/", "_")
    # each as it reads inside a JSON string (`--json` output, a journal row): "\\/" becomes "\\\\/"
    forms.update({f"{form} in JSON": json.dumps(text)[1:-1] for form, text in list(forms.items())})
    return forms


def _forms(secrets: Iterable[str]) -> dict[str, str]:
    """encoded text -> "form of secret…" for a message."""
    return {text: f"{form} of {s[:12]}…" for s in secrets for form, text in encodings(s).items()}


def assert_clean_output(text: str, secrets: Iterable[str], what: str) -> None:
    forms = _forms(secrets)
    for line in text.splitlines():
        for encoded, which in forms.items():
            assert encoded not in line, f"{what} shows a secret ({which}): {line!r}"


def _files(root: Path, store: Path) -> Iterable[Path]:
    """Every regular file pinman may have written under `root`.

    In the store only each install's own top-level files (marker, package.json, lock) count: the
    folders below are npm's and pip's, and the big ones are hard links of session installs.
    """
    for folder, dirs, files in os.walk(root):
        here = Path(folder)
        if here.parent.parent == store:  # store/<package>/<version>: its files, not below
            dirs[:] = []
        for name in files:
            path = here / name
            if path.is_file() and not path.is_symlink():
                yield path


def leaks_under(root: Path, secrets: Iterable[str]) -> list[str]:
    """`path: secret…` for every file under `root` that holds one of `secrets`, in any form."""
    wanted = {encoded.encode(): which for encoded, which in _forms(secrets).items()}
    if not wanted or not root.is_dir():
        return []
    out = []
    for path in _files(root, root / "data" / "store"):
        try:
            if path.stat().st_size > MAX_SCAN:
                continue
            data = path.read_bytes()
        except OSError:
            continue
        for s, which in wanted.items():
            if s in data:
                out.append(f"{path}: {which}")
    return out


def module_secrets(module: object) -> set[str]:
    """Credentials a test module hands out as constants: KEY, TOKEN, API_KEY, …, or any `sk-…`."""
    found = set()
    for name, value in vars(module).items():
        if not isinstance(value, str) or len(value) < MIN_LEN or not name.isupper():
            continue
        if name in _CREDENTIAL_NAMES or value.startswith("sk-"):
            found.add(value)
    return found


_CREDENTIAL_NAMES = frozenset({"KEY", "TOKEN", "SECRET", "API_KEY", "AUTH_TOKEN", "BEARER"})
