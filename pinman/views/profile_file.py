"""A profile file's values as its author wrote them ("6h", not 21600.0), for `pinman show`."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Sequence

BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def file_values(path: Path, hide: Sequence[str] = ()) -> list[str]:
    """`table.key = value` for every value in the profile file; [env] values are never shown (keys
    only), and any of `hide` (the user's credentials) pasted elsewhere in the file shows as ***."""
    import tomllib

    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return ["(unreadable)"]
    lines: list[str] = []

    def walk(prefix: str, table: dict[str, Any]) -> None:
        for key, value in table.items():
            name = f"{prefix}{_key(key)}"
            if isinstance(value, dict):
                walk(f"{name}.", value)
            elif prefix == "env.":
                lines.append(f"{name} = (set)")
            else:
                lines.append(f"{name} = {toml_value(_scrub(value, hide))}")

    walk("", doc)
    return lines


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_key(k)} = {toml_value(v)}" for k, v in value.items()) + "}"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _key(key: str) -> str:
    """A key as TOML writes it: bare when it can be, else quoted (so no control character reaches the terminal)."""
    return key if BARE_KEY.fullmatch(key) else json.dumps(key)


def _scrub(value: Any, hide: Sequence[str]) -> Any:
    if isinstance(value, str):
        for secret in hide:
            value = value.replace(secret, "***")
        return value
    if isinstance(value, list):
        return [_scrub(v, hide) for v in value]
    if isinstance(value, dict):
        return {k: _scrub(v, hide) for k, v in value.items()}
    return value
