"""The answers of `status`, `list`, `show`, `history` and `rollback`: typer-free, so the fast path
(`cli.fastpath`) runs them directly; their typer verbs call the same functions. Each returns the
command's exit code. Core modules are imported inside the functions that need them.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from pinman.cli.ui import age, emit, err, out, progress, table
from pinman.names import clean_version
from pinman.paths import Paths


def _paths() -> Paths:
    return Paths.from_env()


def _registry(paths: Paths, refresh: bool) -> Any:
    from pinman.runtime.resolution import fresh_registry, local_registry

    return fresh_registry(paths) if refresh else local_registry(paths)


def _profile(paths: Paths, name: str) -> Any:
    from pinman.profile.discovery import find_profile

    return find_profile(name, Path.cwd(), paths)


# The lines under a profile's status line: (label, key of the row), each shown when the row has it.
DETAILS = (("note", "dropped"), ("problem", "problem"))


def status(as_json: bool = False, refresh: bool = False) -> int:
    from pinman.views.inventory import status_rows

    paths = _paths()
    rows = status_rows(paths, Path.cwd(), _registry(paths, refresh))
    if as_json:
        emit(rows)
        return 0
    for r in rows:
        mark = "*" if r["active"] else " "
        if r["spec"] is None:  # a file that does not load: the problem line says why
            out(f"{mark} {r['name']}: does not load")
        else:
            label, seen = checked(r)
            here = [m["switches"] for m in r.get("remedies") or [] if m["here"]]
            running = (r["version"] or "?") + (f" with {here[0]}" if here else "")
            out(f"{mark} {r['name']}: {running}  {_pinned(r)}  {label}: {seen}")
        for label, key in DETAILS:
            if r.get(key):
                out(f"    {label}: {r[key]}")
        if r.get("channel"):
            from pinman.views.channel import summary

            out(f"    channel: {summary(r['channel'])}")
        _remedy_lines(r)
    from pinman.autopilot.files import HookFiles
    from pinman.autopilot.notices import unseen
    from pinman.cli.hookinfo import hooks_line

    out(hooks_line())
    for line in unseen(HookFiles(paths)):
        out(f"notice: {line}")
    return 0


def _remedy_lines(row: dict[str, Any]) -> None:
    """A profile's remedies under its status line: why, what it costs, the [env] line to share it."""
    for m in row.get("remedies") or []:
        where = "" if m["here"] else " (not applied here: another endpoint)"
        out(f"    remedy: {m['summary']}{where} — {'; '.join(m['tradeoffs'])}")
        out(f"      for everyone: add {' and '.join(m['env_lines'])} to [env] in {Path(row['path']).name}")


def _pinned(row: dict[str, Any]) -> str:
    """How the version a profile runs came about, saying each version once: `pinned` (exact),
    `pinned latest, resolved 3 minutes ago`, `pinned ^2.1.0, locked`, `guarded latest`, or the
    override."""
    spec, version = row["spec"], row["version"]
    if row["override"]:
        was = row.get("override_of")
        was = f" (was {was})" if was and was not in (version, spec) else ""
        reason = f": {row['override_reason']}" if row.get("override_reason") else ""
        return f"pinned {spec}, local override{was}{reason}"
    if version is not None and clean_version(spec) == version:  # an exact pin, however written (v2.1.331)
        return "pinned"
    if row.get("locked") and row["locked"] == version:
        return f"pinned {spec}, locked"
    if (row.get("channel") or {}).get("active"):  # only a verified promotion moves it: see its channel line
        return f"guarded {spec}"
    return f"pinned {spec}, resolved {age(row['resolved_at'])}" if row["resolved_at"] else f"pinned {spec}"


def checked(row: dict[str, Any]) -> tuple[str, str]:
    """(label, text) of the last check of the version that runs. A check of another version is
    named as such, never read as this version's: `last check of 2.1.332`, `never (1.0.100: ok 2
    hours ago)`."""
    running, last, seen = row["version"], row.get("last_check"), _other_check(row)
    if last:
        return "last check", f"{last['outcome']} {age(last['ts'])}" + (f" (since then {seen})" if seen else "")
    if seen and running:
        return f"last check of {running}", f"never ({seen})"
    return "last check", seen or "never"


def _other_check(row: dict[str, Any]) -> str:
    """`1.0.100: ok 2 hours ago`: the newest check, when it is of another version than the one that
    runs and newer than that one's last check; else ""."""
    running, last, newest = row["version"], row.get("last_check"), row.get("newest_check")
    if not newest or newest["version"] == running or (last is not None and newest["ts"] <= last["ts"]):
        return ""
    return f"{newest['version']}: {newest['outcome']} {age(newest['ts'])}"


def list_profiles(as_json: bool = False, refresh: bool = False) -> int:
    from pinman.views.inventory import profile_rows

    paths = _paths()
    rows = profile_rows(paths, Path.cwd(), _registry(paths, refresh))
    if as_json:
        emit(rows)
        return 0
    shown = [{**r, "resolved": age(r["resolved_at"]) if r["resolved_at"] else None} for r in rows]
    table(shown, ["active", "name", "source", "spec", "version", "resolved", "installed", "problem"])
    return 0


def show(name: str, as_json: bool = False, refresh: bool = False) -> int:
    from pinman.views.inventory import profile_detail

    paths = _paths()
    data = profile_detail(paths, Path.cwd(), name, _registry(paths, refresh))
    warning = (data.get("sdk") or {}).get("warning")
    if as_json:
        emit(data)
    else:
        _render_show(data)
    if warning:
        err(f"warning: {warning}")
    return 0


SHOWN = ("name", "description", "file", "source", "shadows", "version", "why", "installed", "last check",
         "withheld")


def _render_show(data: dict[str, Any]) -> None:
    """What pinman made of the profile, then the file's own values as written ("6h", not 21600.0)."""
    for key in SHOWN:
        value = data.get(key)
        if key == "installed" and value is None and data.get("version"):
            value = "no (`pinman install` or run claude once)"
        if key == "shadows" and value:
            value = f"{value} (hidden by this project's profile of the same name)"
        if key == "withheld":
            value = ", ".join(value) + " (until `pinman trust`)" if value else None
        if key == "last check":
            label, value = checked(data)
            value = value if label == key else f"never of {data['version']} ({_other_check(data)})"
        if value not in (None, ""):
            out(f"{key + ':':14} {value}")
    for m in data.get("remedies") or []:
        out(f"{'remedy:':14} {m['summary']} — {'; '.join(m['tradeoffs'])}")
        out(f"{'':14} for everyone: add {' and '.join(m['env_lines'])} to [env]")
    sdk = data.get("sdk")
    if sdk:
        out(f"{'sdk:':14} {json.dumps(sdk)}")
    if data.get("channel"):
        from pinman.views.channel import summary

        out(f"{'channel:':14} {summary(data['channel'])}")
    out(f"in {Path(data['file']).name}:")
    from pinman.redact import secret_values
    from pinman.views.profile_file import file_values

    for line in file_values(Path(data["file"]), hide=secret_values(os.environ)):
        out(f"  {line}")


def history(name: str | None = None, limit: int = 50, as_json: bool = False) -> int:
    from pinman.state.journal import Journal
    from pinman.state.overrides import profile_key

    paths = _paths()
    key = None
    if name:
        p = _profile(paths, name)
        key = profile_key(p.name, p.project_root)
    entries = Journal(paths).history(key, limit)
    if as_json:
        emit([e.to_json() for e in entries])
        return 0
    for e in entries:
        doc = e.to_json()
        bits = [doc["time"], e.event, e.profile, e.version]
        if e.outcome:
            bits.append(e.outcome)
        if isinstance(e.extra.get("remedy"), dict) and e.event in ("check", "candidate"):
            bits.append("with " + ", ".join(f"{k}={v}" for k, v in e.extra["remedy"].items()))
        if e.previous:
            bits.append(f"(from {e.previous})")
        if e.endpoint:
            bits.append(e.endpoint)
        if e.message:
            bits.append(f"- {e.message}")
        out("  ".join(bits))
    if not entries:
        out("(no entries)")
    return 0


def _also_chosen(paths: Paths, name: str) -> str:
    """What `use NAME --reset` does besides dropping the override, when that is a change."""
    from pinman.errors import PinmanError
    from pinman.runtime.choice import read_global

    try:
        chosen = read_global(paths)
    except PinmanError:
        chosen = None
    return f", which also makes {name} the global choice" if chosen not in (None, name) else ""


def rollback(name: str | None = None, to: str | None = None, as_json: bool = False) -> int:
    """`name` defaults to the profile `claude` runs here, as for `check`."""
    from pinman.health.manual import manual_rollback
    from pinman.runtime.choice import choose
    from pinman.views.status import runs_instead

    paths, cwd = _paths(), Path.cwd()
    name = name or choose(cwd, paths).name
    before, after = manual_rollback(paths, _profile(paths, name), to, progress=progress(name))
    instead = runs_instead(cwd, paths, name)  # the rollback is done: say if it is not what runs here
    if as_json:
        emit({"profile": name, "from": before, "to": after, **({"not_here": instead} if instead else {})})
        return 0
    out(f"rolled back: {name} {before} -> {after}  (undo: pinman use {name} --reset{_also_chosen(paths, name)})")
    if instead:
        err(f"note: {instead}")
    return 0

