"""How pinman's commands speak: lines on stdout and stderr, `--json` documents, tables, notices and
progress. Every verb renders through here, so a result looks the same whichever verb made it.

Light on purpose: `pinman current` imports this without typer or any heavy module.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from pinman.paths import Paths


def out(line: str = "") -> None:
    print(line)


def err(line: str) -> None:
    print(line, file=sys.stderr)


def emit(data: Any) -> None:
    out(json.dumps(data, indent=2, default=str))


def table(rows: list[dict[str, Any]], columns: list[str]) -> None:
    if not rows:
        out("(none)")
        return
    cells = [[_cell(r.get(c)) for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    out("  ".join(c.upper().ljust(w) for c, w in zip(columns, widths)).rstrip())
    for row in cells:
        out("  ".join(v.ljust(w) for v, w in zip(row, widths)).rstrip())


def _cell(value: Any) -> str:
    if value is True:
        return "yes"
    if value in (None, False):
        return ""
    if isinstance(value, (list, tuple)):
        return ",".join(str(v) for v in value)
    return str(value)


def age(ts: float | None) -> str:
    from pinman.age import ago

    return ago(ts) if ts else "never"


def notice(message: str | None) -> None:
    if message:
        err(f"warning: {message}")


def notices(paths: Paths, profile: Any) -> None:
    """Say once what of `profile` does not apply here: withheld until trust, or hidden by it."""
    from pinman.runtime.resolution import notices as notices_of

    for message in notices_of(paths, profile):
        notice(message)


def progress(label: str) -> Any:
    """Phases of a long step: a live bar with bytes and elapsed time on a terminal, else plain lines.
    Built on the first phase, so a command that finds everything installed imports none of it."""
    shown: list[Any] = []

    def report(message: str) -> None:
        if not shown:
            from pinman.cli.progress import reporter
            from pinman.install.store import Store

            shown.append(reporter(label, Store(Paths.from_env()).build_root))
        shown[0](message)

    return report


def instead_of(cwd: Any, paths: Paths, name: str) -> None:
    """After a command changed or checked `name`: say so when `claude` here runs another profile."""
    from pinman.views.status import runs_instead

    notice_line = runs_instead(cwd, paths, name)
    if notice_line:
        err(f"note: {notice_line}")


def engine_notes(skips: dict[str, Any] | None) -> list[str]:
    """`skipped 2.1.198–2.1.332 (135 releases): engines.node ">=22" (this Node is 20.20.2)`, one per
    constraint, then what to do about it."""
    if not skips:
        return []
    node = (skips["node"] or "?").lstrip("v")
    lines = []
    for g in skips["groups"]:
        span = g["from"] if g["count"] == 1 else f"{g['from']}–{g['to']} ({g['count']} releases)"
        lines.append(f'skipped {span}: engines.node "{g["engines"]}" (this Node is {node}), as npm does')
    newest = skips["versions"][-1]
    if skips["native"]:
        lines.append(f"those releases ship a native binary, which runs on any Node: `pinman install {newest}` "
                     f"or an exact pin runs {newest} here")
    return lines


def path_ready(paths: Paths) -> bool:
    """Whether `claude` typed in this shell runs pinman's shim, or will once the shim is written:
    its folder comes before any other folder with a `claude` on PATH."""
    import os

    from pinman.runtime.shim import shim_on_path

    if shim_on_path(paths):
        return True
    for folder in os.environ.get("PATH", "").split(os.pathsep):
        if folder and os.path.realpath(folder) == os.path.realpath(paths.bin):
            return True
        if os.access(os.path.join(folder or ".", "claude"), os.X_OK):
            return False
    return False


def warn_path(paths: Paths) -> None:
    from pinman.runtime.shim import path_line

    if not path_ready(paths):
        err(f"note: {paths.shim} is not the first `claude` on PATH; add this to your shell profile:")
        err(f"  {path_line(paths)}")
        err('  or, kept free of duplicates however often it runs: eval "$(pinman activate)"')
