"""SHA-256 of bytes, without loading OpenSSL on the read path.

`hashlib` loads OpenSSL's libcrypto, which costs more than a third of a bare interpreter start;
read commands hash every profile file they parse (trust judges the very bytes parsed) and the
registry cache's file names. CPython's own SHA-256 module gives the same digest at a tenth of that
cost; where a Python has none, hashlib does it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def _sha256() -> Callable[[bytes], Any]:
    try:
        from _sha256 import sha256  # type: ignore[import-not-found]  # CPython 3.11
    except ImportError:
        try:
            from _sha2 import sha256  # type: ignore[import-not-found]  # CPython 3.12+
        except ImportError:
            from hashlib import sha256
    return sha256  # type: ignore[no-any-return]


def sha256_hex(data: bytes) -> str:
    return _sha256()(data).hexdigest()  # type: ignore[no-any-return]
