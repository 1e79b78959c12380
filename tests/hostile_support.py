"""Shared pieces of the hostile-input tests: hypothesis settings and what a good failure looks like."""

from __future__ import annotations

import re
from pathlib import Path

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from pinman.errors import PinmanError

# 1,000 generated cases per property, the same ones on every run (no example database).
PROPERTY = settings(
    max_examples=1000,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
)

# Text that stresses parsers: control characters, quotes, shell syntax, lone surrogates.
NASTY = st.sampled_from([
    "", " ", "\n", "\r\n", "\0", "\x1b[31m", "'", '"', "\\", "$(touch x)", "`id`", "${HOME}", ";",
    "|", "&", "\t", "../", "/etc/passwd", "\u2028", "\ud800", "\ufeff", "é", "🙂", "x" * 300,
])
TEXT = st.one_of(st.text(max_size=40), NASTY, st.lists(NASTY, max_size=4).map("".join))


def assert_one_line(error: PinmanError, where: Path | str | None = None) -> None:
    """A PinmanError the CLI can print as one line (plus hint), naming `where` (file:line) if given."""
    assert isinstance(error, PinmanError), repr(error)
    message = str(error)
    assert message and "\n" not in message and "\r" not in message, repr(message)
    assert error.hint is None or "\n" not in error.hint, repr(error.hint)
    if where is not None:
        assert message.startswith(str(where)), (message, str(where))


def assert_file_line(error: PinmanError, path: Path | str) -> None:
    """`path:LINE: …`, `path:LINE:COL: …` or `path: …` (a problem of the whole file)."""
    assert_one_line(error, path)
    rest = str(error)[len(str(path)):]
    assert re.match(r"(:\d+(:\d+)?)?: \S", rest), str(error)
