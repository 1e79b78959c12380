"""What pinman tells the user about what it did unattended, and when a periodic check is next due.

The notice is a few plain lines (`pinman.state.notice`: its format and who shows it): the
SessionStart hook of an interactive session shows them as a `systemMessage`, the `claude` shim
on stderr before a `claude -p` run; whichever comes first removes them, so they are shown once.
Until then `pinman status` shows them too. Several events before that are several lines.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from pinman.autopilot.files import HookFiles
from pinman.state import notice
from pinman.state.fsutil import atomic_write, read_regular
from pinman.state.overrides import profile_key

if TYPE_CHECKING:
    from pinman.profile.model import Profile
    from pinman.health.report import CheckReport


def unseen(files: HookFiles) -> list[str]:
    """The lines of the notice not yet shown (none when unreadable)."""
    return notice.pending(files.notice)


def add(files: HookFiles, line: str, environ: Mapping[str, str] | None = None) -> None:
    """Append one line to the notice (under a lock: two handlers may finish together); a line
    already waiting there is not added twice."""
    from filelock import FileLock

    from pinman.state.journal import scrub, secret_values

    files.private(files.paths.locks)
    files.private(files.folder)
    with FileLock(str(files.lock("notice")), mode=0o600):
        notice.write(files.notice, [*unseen(files), scrub(line, secret_values(environ))])


def carry_old(files: HookFiles) -> None:
    """A notice an earlier pinman left as `notice.json` (`{"systemMessage": …}`) joins the notice."""
    try:
        doc = json.loads(read_regular(files.old_notice, 1 << 16))
        text = doc.get("systemMessage") if isinstance(doc, dict) else None
    except (OSError, ValueError, RecursionError):
        text = None
    if isinstance(text, str):
        for line in filter(None, text.split("\n")):
            add(files, line)
    files.old_notice.unlink(missing_ok=True)


def host(endpoint: str) -> str:
    """`http://127.0.0.1:4000` -> `127.0.0.1:4000` (what a person calls their gateway)."""
    return endpoint.split("://", 1)[-1]


def describe(report: CheckReport, trigger: str) -> str | None:
    """The one line for what a check did unattended, or None when it did nothing worth saying."""
    at = time.strftime("%H:%M")
    o = report.outcome
    what = f"{o.rejected or 'request'} rejected by {host(report.endpoint)}"
    if report.action == "rolled-back" and report.rollback:
        return (f"pinman: rolled back {report.profile} {report.rollback['from']} → {report.rollback['to']} "
                f"at {at} — {what} · pinman status")
    if report.action == "remedied" and report.remedy:
        m = report.remedy
        return (f"pinman: {report.profile} stays on {report.version} with {m['switches']}: {m['reason']} at {at} — "
                f"{'; '.join(m['tradeoffs'])}; for everyone, add {' and '.join(m['env_lines'])} to [env] of "
                f"{report.profile}; pinman status")
    if report.action == "recovered" and report.recovered:
        return f"pinman: {report.recovered['message']} ({host(report.endpoint)}, {at}) · pinman status"
    if report.action in ("no-known-good", "endpoint-changed", "unavailable"):
        return (f"pinman: {report.profile} {report.version} fails at {host(report.endpoint)} ({trigger}, {at}): "
                f"{o.message[:120]} — not rolled back: {report.detail[:160]} · pinman status")
    return None


def describe_any(report: Any, trigger: str) -> list[str]:
    """The lines for what a check did unattended, a guarded channel's included: its check of what
    runs, then its promotion ("stable moved to 2.1.335, verified at gw.internal") or that
    candidates wait (`auto = false`)."""
    from pinman.policy.channel_report import ChannelReport

    if not isinstance(report, ChannelReport):
        line = describe(report, trigger)
        return [line] if line else []
    lines = [line for line in [describe(report.health, trigger) if report.health else None] if line]
    if report.promoted:
        refused = ", ".join(f"{r['version']} ({r['rejected'] or 'request'} rejected)" for r in report.refused)
        lines.append(f"pinman: {report.promoted['message']} ({trigger}, {time.strftime('%H:%M')})"
                     + (f"; refused {refused}" if refused else "") + " · pinman status")
    elif report.refused:
        refused = ", ".join(f"{r['version']} ({r['rejected'] or 'request'} rejected)" for r in report.refused)
        lines.append(f"pinman: {report.profile} stays on {report.runs}: {host(report.endpoint)} refused "
                     f"{refused} · pinman status")
    if report.tell:
        lines.append(report.tell)
    return lines


def note_checked(files: HookFiles, profiles: Iterable[Profile], now: float | None = None) -> None:
    """After checks: the next time any of these profiles is due ([health] interval), for the sh hook."""
    from pinman.profile.trust import applied_health
    from pinman.state.journal import Journal

    journal = Journal(files.paths)
    now = time.time() if now is None else now
    due = []
    for p in profiles:
        last = journal.last_check(profile_key(p.name, p.project_root))
        due.append((last.ts if last else now) + applied_health(files.paths, p).interval)
    if due:
        files.private(files.folder)
        atomic_write(files.next_due, f"{int(min(due))}\n", mode=0o600)
