"""Fault points: named steps where a test can stop a pinman process and kill it right there.

pinman promises that a process killed at any instant leaves `claude` on a complete install and
every state file readable. `tests/test_kill.py` proves it by stopping pinman at each step that
matters and sending SIGKILL. The steps are marked in the code with `faults.point(NAME)`.

Off unless the environment says otherwise (only tests set these):

    PINMAN_FAULT_POINTS=FILE   every point this process passes appends one line `LABEL` to FILE,
                               where LABEL is `NAME` or `NAME:DETAIL` (e.g. the file written)
    PINMAN_FAULT_STOP=LABEL#N  the N-th pass (from 1) over LABEL appends `!LABEL#N` to FILE and then
                               sleeps until killed, so the harness can SIGKILL exactly there

A run with only PINMAN_FAULT_POINTS is a trace: the harness reads which points a command passes,
then kills one run at each of them. Disabled, `point()` costs one environment lookup.
"""

from __future__ import annotations

import os
import time

POINTS_VAR = "PINMAN_FAULT_POINTS"
STOP_VAR = "PINMAN_FAULT_STOP"

_passes: dict[str, int] = {}  # label -> passes so far in this process


def point(name: str, detail: str | None = None) -> None:
    """Mark a step. Does nothing unless PINMAN_FAULT_POINTS is set."""
    trace = os.environ.get(POINTS_VAR)
    if not trace:
        return
    label = name if detail is None else f"{name}:{detail}"
    count = _passes.get(label, 0) + 1
    _passes[label] = count
    _append(trace, label)
    if os.environ.get(STOP_VAR) == f"{label}#{count}":
        _append(trace, f"!{label}#{count}")
        while True:  # the harness kills us; a forgotten stop still ends with the test's timeout
            time.sleep(60)


def _append(path: str, line: str) -> None:
    # One write on an O_APPEND descriptor: lines from several processes never interleave.
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    try:
        os.write(fd, (line + "\n").encode())
    finally:
        os.close(fd)
