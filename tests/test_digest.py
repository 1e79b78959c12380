"""pinman.digest gives hashlib's SHA-256, without OpenSSL on the read path."""

from __future__ import annotations

import hashlib

import pytest

from pinman.digest import sha256_hex


@pytest.mark.parametrize("data", [b"", b"abc", bytes(range(256)) * 300])
def test_the_digest_is_hashlibs(data: bytes) -> None:
    assert sha256_hex(data) == hashlib.sha256(data).hexdigest()
