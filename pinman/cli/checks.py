"""Health checks as verbs run them (`check`, `use --check`): the probe's live meter, one report per
profile rendered, and the exit code of a multi-profile check (the most severe outcome wins).
"""

from __future__ import annotations

import sys
from typing import Any

from pinman.cli.common import get_paths
from pinman.cli.ui import age, emit, notices, out, progress

SEVERITY = [11, 12, 10, 0]  # broken, not-client, rolled-back, ok: the exit code of a multi-profile check


def run_checks(profiles: list[Any], *, as_json: bool, auto_rollback: bool | None,
               isolated_home: bool, quiet_ok: bool = False, may_install: bool = True) -> int:
    from pinman.policy.ladder import check as run_check

    paths = get_paths()
    for p in profiles:
        notices(paths, p)
    # --no-rollback means "never switch": neither back nor forward, no remedy applied or dropped
    reports = [run_check(paths, p, auto_rollback=auto_rollback, auto_recover=auto_rollback,
                         switch=auto_rollback is not False, isolated_home=isolated_home, progress=progress(p.name),
                         may_install=may_install, waiting=probe_meter()) for p in profiles]
    if quiet_ok:  # unattended (`--if-due`): what it did is told to the next session
        from pinman.autopilot.files import HookFiles
        from pinman.autopilot.notices import add, describe

        for line in filter(None, (describe(r, "periodic check") for r in reports)):
            add(HookFiles(paths), line)
    if as_json:
        docs = [r.to_json() for r in reports]
        emit(docs[0] if len(docs) == 1 else docs)
    else:
        for r in reports:
            if not (quiet_ok and r.action == "ok"):
                render_check(r)
    codes = {int(r.exit_code) for r in reports}
    return next((c for c in SEVERITY if c in codes), 0)


def probe_meter() -> Any:
    """`probing 2.1.331 → 127.0.0.1:4000 … 12 s / 60 s`, rewritten in place on a terminal's stderr;
    nothing at all when stderr is not a terminal (logs, cron, pipes)."""
    if not sys.stderr.isatty():
        return None

    def show(w: Any) -> None:
        if w.done:
            sys.stderr.write("\r\033[K")
        else:
            host = w.endpoint.split("://", 1)[-1]
            sys.stderr.write(f"\r\033[Kprobing {w.version} → {host} … {w.elapsed:.0f} s / {w.timeout:.0f} s")
        sys.stderr.flush()

    return show


def render_check(r: Any) -> None:
    o = r.outcome
    head = f"{r.profile} {r.version}  "
    if r.override_dropped:
        out(f"{r.profile}: {r.override_dropped}")
    for note in r.notes if r.action in ("ok", "recovered") else []:
        out(f"  note: {note}")  # a remedy dropped before the probe
    if r.recovered:
        out(f"{head}ok  ({r.duration:.1f} s)")
        what = "remedy" if " with " in r.recovered["from"] else "override"
        out(f"  recovered: {r.detail} (probed {r.recovered['to']} ok, {what} {r.recovered['from']} dropped)")
        return
    if o.kind.value == "ok":
        out(f"{head}ok  ({r.duration:.1f} s)  - {r.detail}")
        return
    label = "schema error" if o.kind.value == "schema" else o.kind.value.replace("_", " ")
    status = f"{o.status} " if o.status and not o.message.startswith(str(o.status)) else ""  # said once
    out(f"{head}{label}: {status}{o.message}")
    for note in r.notes:
        out(f"  tried: {note}")
    if r.rollback:
        checked = f", checked {age(r.known_good_checked_at)}" if r.known_good_checked_at else ""
        out(f"  rolled back: {r.profile} -> {r.rollback['to']} (last known-good for this endpoint{checked}) - verified ok")
    elif r.action == "remedied" and r.remedy:
        m = r.remedy
        out(f"  remedied: {r.detail}")
        out(f"  costs: {'; '.join(m['tradeoffs'])}")
        out(f"  for everyone: add {' and '.join(m['env_lines'])} to [env] in the profile {r.profile}")
    else:
        out(f"  {r.detail}")
