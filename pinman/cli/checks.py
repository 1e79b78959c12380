"""Health checks as verbs run them (`check`, `use --check`): the probe's live meter, one report per
profile rendered, and the exit code of a multi-profile check (the most severe outcome wins).
"""

from __future__ import annotations

import sys
from typing import Any

from pinman.cli.common import get_paths
from pinman.cli.ui import age, emit, err, notices, out, progress

SEVERITY = [11, 12, 10, 0]  # broken, not-client, rolled-back, ok: the exit code of a multi-profile check


def run_checks(profiles: list[Any], *, as_json: bool, auto_rollback: bool | None,
               isolated_home: bool, quiet_ok: bool = False, may_install: bool = True) -> int:
    paths = get_paths()
    for p in profiles:
        notices(paths, p)
    # --no-rollback means "never switch": neither back nor forward
    reports = [_check_one(paths, p, auto_rollback, isolated_home, may_install) for p in profiles]
    if quiet_ok:  # unattended (`--if-due`): what it did is told to the next session
        from pinman.autopilot.files import HookFiles
        from pinman.autopilot.notices import add, describe_any

        for r in reports:
            for line in describe_any(r, "periodic check"):
                add(HookFiles(paths), line)
    if as_json:
        docs = [r.to_json() for r in reports]
        emit(docs[0] if len(docs) == 1 else docs)
    else:
        for r in reports:
            if not (quiet_ok and _quiet(r)):
                render_any(r)
    codes = {int(r.exit_code) for r in reports}
    return next((c for c in SEVERITY if c in codes), 0)


def _check_one(paths: Any, profile: Any, auto_rollback: bool | None, isolated_home: bool,
               may_install: bool) -> Any:
    """A guarded channel's check (what runs, then newer candidates), else the plain check."""
    from pinman.runtime.channel import is_guarded

    if is_guarded(paths, profile):
        from pinman.policy.channel import check_channel

        return check_channel(paths, profile, auto_rollback=auto_rollback, isolated_home=isolated_home,
                             progress=progress(profile.name), waiting=probe_meter(), periodic=not may_install)
    from pinman.policy.ladder import check as run_check

    # --no-rollback means "never switch": no remedy applied or dropped either
    return run_check(paths, profile, auto_rollback=auto_rollback, auto_recover=auto_rollback,
                     switch=auto_rollback is not False, isolated_home=isolated_home, progress=progress(profile.name),
                     may_install=may_install, waiting=probe_meter())


def _quiet(r: Any) -> bool:
    """Nothing to say unattended: a plain ok, or a channel that checked ok and did not move."""
    health = getattr(r, "health", r)
    return (health is None or health.action == "ok") and not getattr(r, "promoted", None) \
        and not getattr(r, "refused", None)


def render_any(r: Any) -> None:
    from pinman.policy.channel_report import ChannelReport

    if not isinstance(r, ChannelReport):
        render_check(r)
        return
    if r.health is not None:
        render_check(r.health)
    render_channel(r)


def render_channel(r: Any) -> None:
    """What a guarded channel did after the check of what runs."""
    from pinman.cli.progress import human as size

    host = r.endpoint.split("://", 1)[-1]
    for t in r.tried:
        if t["outcome"] not in ("ok", "schema"):
            out(f"  candidate {t['version']}: {t['outcome']}: {t['message']}")
    for t in r.tried:
        if t.get("engines_ok") is False:
            out(f"  note: {t['version']} declares node {t['engines']} (node here: {t['node']}); "
                f"not a reason to skip it: the probe judged it {t['outcome']}")
    for f in r.refused:
        out(f"  refused: {f['version']} ({f['rejected'] or 'request'} rejected by {host}: {f['message']})")
        for note in f.get("tried") or []:
            out(f"    tried: {note}")  # the cheap switches that did not make it pass
    if r.promoted:
        out(f"  {r.promoted['message']}" + (f" (was {r.promoted['from']})" if r.promoted["from"] else ""))
    elif r.verified_now:
        out(f"  {r.profile} {r.runs}: verified at {host}")
    elif r.runs and not r.stopped:
        out(f"  {r.profile} stays on {r.runs}: no newer candidate passes (channel {r.spec})")
    for w in r.waiting:
        ready = f"soak until {_when(w['ready_at'])}" if w.get("ready_at") else "publish time unknown"
        out(f"  waiting: {w['version']} ({ready})")
    if r.stopped:
        out(f"  {r.stopped}")
    if r.problem:
        out(f"  note: registry {r.problem}")
    if r.downloaded or r.removed:
        gone = f"; removed {', '.join(r.removed)}, freed {size(r.freed)}" if r.removed else ""
        out(f"  downloaded {size(r.downloaded)}{gone}")


def _when(ts: float) -> str:
    import time

    return time.strftime("%Y-%m-%d %H:%M", time.localtime(ts))


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
    for line in r.warnings:
        err(f"warning: {line}")
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
