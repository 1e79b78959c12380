"""Progress of long steps (installs, probes) as people read it.

On a terminal: one live line per step with a bar, the bytes written so far and the time elapsed
(rich, imported only when a step starts). Piped or redirected: plain lines, one per phase, that a log
keeps readable. The core reports phases through a plain `(message) -> None` callback; this module
only renders them. Bytes come from watching the folder the store builds in, so no core code changes.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable, TextIO

START = "downloading with npm"  # the store's first phase of a build: the live line starts here
END = "done"
POLL = 0.25  # seconds between two measurements of the build folder

_live: list[_LiveLine] = []


def reporter(label: str, watch: Path | None = None, *, stream: TextIO | None = None,
             interactive: bool | None = None, console: Any = None) -> Callable[[str], None]:
    """A progress callback for one labelled step. `watch` is the folder whose growth counts as bytes."""
    stream = stream or sys.stderr
    if interactive is None:
        interactive = _is_terminal(stream)
    state = _Plain(label, watch, stream)
    if not interactive:
        return state
    return _Interactive(state, console)


def stop_all() -> None:
    """End every live line (before an error message is printed, and at exit)."""
    while _live:
        _live.pop().stop()


def _is_terminal(stream: TextIO) -> bool:
    if os.environ.get("TERM") == "dumb" or os.environ.get("PINMAN_PLAIN_PROGRESS"):
        return False
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def folder_bytes(folder: Path | None) -> int:
    """Bytes of the regular files under `folder` (0 if it is missing); links are not followed, and
    a file with two names counts once (2.x's native binary is hard-linked to `bin/claude.exe`:
    counted twice, the bytes doubled at "verifying")."""
    if folder is None:
        return 0
    total, seen = 0, set()
    for root, _dirs, files in os.walk(folder):
        for name in files:
            try:
                st = os.lstat(os.path.join(root, name))
            except OSError:
                continue  # npm renames and removes while it works
            if st.st_nlink > 1:
                if (st.st_dev, st.st_ino) in seen:
                    continue
                seen.add((st.st_dev, st.st_ino))
            total += st.st_size
    return total


def human(n: int) -> str:
    size = float(n)
    for unit in ("B", "kB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{n} B"  # pragma: no cover


class _Plain:
    """`  2.1.331: verifying (214.3 MB, 6.5 s)`: one line per phase."""

    def __init__(self, label: str, watch: Path | None, stream: TextIO) -> None:
        self.label, self.watch, self.stream = label, watch, stream
        self.start = time.monotonic()
        self.base = 0  # bytes already in the watched folder when the build started
        self.building = False
        self.peak = 0  # the finished build moves out of the watched folder: keep what it reached

    def written(self) -> int:
        if self.building:
            self.peak = max(self.peak, folder_bytes(self.watch) - self.base)
        return self.peak

    def phase(self, message: str) -> None:
        if message == START:
            self.base, self.building = folder_bytes(self.watch), True

    def __call__(self, message: str) -> None:
        size = self.written()
        self.phase(message)
        took = f"{time.monotonic() - self.start:.1f} s"
        shown = f"{human(size)}, {took}" if size else took
        print(f"  {self.label}: {message} ({shown})", file=self.stream, flush=True)


class _Interactive:
    """Plain lines until a build starts; then a live line until it is done."""

    def __init__(self, plain: _Plain, console: Any) -> None:
        self.plain, self.console = plain, console
        self.line: _LiveLine | None = None

    def __call__(self, message: str) -> None:
        if message == START and self.line is None:
            self.plain.phase(message)
            self.line = _LiveLine(self.plain, self.console)
            _live.append(self.line)
        if self.line is None:
            self.plain(message)
            return
        self.line.describe(message)
        if message == END:
            self.line.stop(finished=True)
            if self.line in _live:
                _live.remove(self.line)
            self.line = None


class _LiveLine:
    """A rich progress line: spinner, label and phase, pulsing bar, bytes written, elapsed time."""

    def __init__(self, plain: _Plain, console: Any) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        self.plain = plain
        # Named colours: rich's default rgb green becomes grey in a 16-colour terminal, where a
        # finished bar then looks empty.
        self.progress = Progress(
            SpinnerColumn(), TextColumn("{task.description}"),
            BarColumn(complete_style="green", finished_style="green"),
            TextColumn("{task.fields[size]}"), TimeElapsedColumn(),
            console=console or Console(file=plain.stream), transient=False,
        )
        self.task = self.progress.add_task(f"{plain.label}: {START}", total=None, size="")
        self.progress.start()
        self.done = threading.Event()
        self.watcher = threading.Thread(target=self._watch, daemon=True)
        self.watcher.start()

    def _watch(self) -> None:
        while not self.done.wait(POLL):
            self.progress.update(self.task, size=self._size())

    def _size(self) -> str:
        written = self.plain.written()
        return human(written) if written else ""  # a build elsewhere (an SDK's) shows no count

    def describe(self, message: str) -> None:
        self.progress.update(self.task, description=f"{self.plain.label}: {message}", size=self._size())

    def stop(self, *, finished: bool = False) -> None:
        """End the line: a full bar when the step finished, the bar as it was when it failed."""
        if self.done.is_set():
            return
        self.done.set()
        self.watcher.join(timeout=1)
        self.progress.update(self.task, size=self._size(), **({"completed": 1, "total": 1} if finished else {}))
        self.progress.refresh()
        self.progress.stop()
