"""Reading pinman's own JSON state files (overrides, trust records) as untrusted input.

pinman writes these files atomically, but people edit them, other tools clobber them and disks
fail. A file that cannot be read or is not JSON is an error naming the file; a record with fields
of the wrong type is skipped, so one bad record never stops every command.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from pinman.errors import PinmanError


def load_json(path: Path, *, hint: str) -> Any:
    """The JSON document at `path`; None when there is no file; PinmanError when unreadable."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as e:
        raise PinmanError(f"{path}: cannot read: {e.strerror or e}", hint=hint) from None
    try:
        return json.loads(data)
    except json.JSONDecodeError as e:
        raise PinmanError(f"{path}:{e.lineno}: not valid JSON: {e.msg}", hint=hint) from None
    except (ValueError, RecursionError):  # not UTF-8, or nested deeper than Python can parse
        raise PinmanError(f"{path}: not valid JSON", hint=hint) from None


def records(doc: Any, key: str) -> dict[str, dict[str, Any]]:
    """`doc[key]` as a table of records: entries that are not objects are dropped."""
    table = doc.get(key) if isinstance(doc, dict) else None
    if not isinstance(table, dict):
        return {}
    return {k: v for k, v in table.items() if isinstance(v, dict)}


def text(record: dict[str, Any], key: str) -> str | None:
    value = record.get(key)
    return value if isinstance(value, str) else None


def number(record: dict[str, Any], key: str) -> float:
    """A finite number of seconds, else 0 (unknown)."""
    value = record.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return 0.0
    try:
        out = float(value)
    except OverflowError:  # an integer too large for a float
        return 0.0
    return out if math.isfinite(out) else 0.0


def strings(record: dict[str, Any], key: str) -> tuple[str, ...]:
    value = record.get(key)
    if not isinstance(value, list):
        return ()
    return tuple(v for v in value if isinstance(v, str))
