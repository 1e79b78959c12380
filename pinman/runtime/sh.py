"""Quoting a value for the `sh` files pinman generates (the shim, its pointers, hook commands).

Everything pinman writes into `sh` goes through `sh_quote`: inside single quotes nothing is
expanded or executed, whatever the value holds.
"""

from __future__ import annotations

from pinman.errors import PinmanError


def sh_quote(value: str) -> str:
    """Single-quote for sh: nothing inside single quotes is expanded or executed."""
    if "\0" in value:
        raise PinmanError("a value contains a NUL byte and cannot be passed to a program")
    return "'" + value.replace("'", "'\\''") + "'"
