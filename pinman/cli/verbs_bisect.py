"""`pinman fingerprint`, `pinman diff` and `pinman bisect`: parse, call the core, render through
`cli.ui`.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

import typer

from pinman.cli.common import JSON, complete_profile, get_paths, get_profile
from pinman.cli.ui import emit, err, out, progress
from pinman.errors import UsageError

if TYPE_CHECKING:
    from pinman.bisect.report import BisectReport, Event
    from pinman.fingerprint.fingerprints import Diff, Fingerprint


def fingerprint(
    version: str = typer.Argument(..., help="Exact Claude Code version (installed if needed)."),
    live: bool = typer.Option(False, "--live", help="Send the probe to your endpoint through the "
                              "recording proxy instead of answering it offline (not cached)."),
    profile: Optional[str] = typer.Option(None, "-p", "--profile", autocompletion=complete_profile,
                                          help="With --live: run with this profile's env."),
    refresh: bool = typer.Option(False, "--refresh", help="Take it again instead of the cached one."),
    as_json: bool = JSON,
) -> None:
    """What a version sends: path, body key paths, beta headers (never header values)."""
    from pinman.fingerprint import fingerprints as fp_mod

    paths = get_paths()
    version = _exact(version)
    if not live:
        fp = fp_mod.fingerprint(paths, version, refresh=refresh, progress=progress(version))
        if as_json:
            emit(fp.to_json())
        else:
            _render_fingerprint(fp)
        return
    from pinman.health.prober import run_env

    env = run_env(paths, get_profile(profile), None) if profile else dict(os.environ)
    inst = fp_mod.install_version(paths, version, progress(version))
    fp, outcome = fp_mod.take_live(version, inst.binary, env)
    if as_json:
        doc = fp.to_json()
        doc["outcome"] = {"kind": outcome.kind.value, "status": outcome.status,
                          "rejected": outcome.rejected, "message": outcome.message}
        emit(doc)
        return
    _render_fingerprint(fp)
    status = f"{outcome.status} " if outcome.status else ""
    out(f"  answer:   {outcome.kind.value}" + (f" ({status}{outcome.message})" if
                                              outcome.kind.value != "ok" else ""))


def diff(
    a: str = typer.Argument(..., help="Older version."),
    b: str = typer.Argument(..., help="Newer version."),
    as_json: bool = JSON,
) -> None:
    """Body keys, betas and headers that B sends and A does not (+), and the reverse (-)."""
    from pinman.fingerprint import fingerprints as fp_mod

    paths = get_paths()
    fa = fp_mod.fingerprint(paths, _exact(a), progress=progress(a))
    fb = fp_mod.fingerprint(paths, _exact(b), progress=progress(b))
    d = fp_mod.diff(fa, fb)
    if as_json:
        emit(d.to_json())
    else:
        _render_diff(d)


def bisect_cmd(
    name: str = typer.Argument(..., help="Profile whose endpoint to bisect against.", autocompletion=complete_profile),
    good: Optional[str] = typer.Option(None, "--good", help="A version that works here "
                                       "(default: the last known-good for this endpoint)."),
    bad: Optional[str] = typer.Option(None, "--bad", help="A version that fails here "
                                      "(default: the profile's pinned version)."),
    keep: bool = typer.Option(False, "--keep", help="Keep every install made for a probe."),
    isolated_home: bool = typer.Option(False, "--isolated-home",
                                       help="Run the probes with a throw-away HOME."),
    as_json: bool = JSON,
) -> None:
    """Find the newest version your endpoint accepts, with real installs and real probes."""
    from pinman.bisect import driver as bisect

    paths = get_paths()
    profile = get_profile(name)
    report = bisect.run(paths, profile, good=good, bad=bad, keep=keep,
                        isolated_home=isolated_home, on_event=_Progress(), cwd=Path.cwd())
    if as_json:
        emit(report.to_json())
    else:
        _render_bisect(report)
    raise typer.Exit(int(report.exit_code))


def _exact(raw: str) -> str:
    from pinman.errors import UsageError
    from pinman.names import clean_version

    v = clean_version(raw)
    if v is None:
        raise UsageError(f"{raw!r} is not an exact version", hint="e.g. 2.1.331")
    return v


def _words(items: list[str]) -> str:
    return ", ".join(items) if items else "(none)"


def _render_fingerprint(fp: Fingerprint) -> None:
    how = "offline: pinman answered it" if fp.mode == "offline" else f"live: {fp.endpoint}"
    n = len(fp.requests)
    out(f"claude-code {fp.version}: {n} request{'s' if n != 1 else ''} ({how})")
    for r in fp.requests:
        query = "?" + "&".join(r.query) if r.query else ""
        status = f"  -> {r.status}" if r.status is not None else "  -> no answer"
        out(f"  {r.method} {r.path}{query}  model {r.model or '-'}{status}")
    nested = [k for k in fp.keys if "." in k]
    out(f"  keys:     {_words(fp.top_keys)}")
    out(f"  nested:   {_words(nested)}")
    out(f"  betas:    {_words(fp.betas)}")
    out(f"  headers:  {_words(fp.headers)}  (names only)")


def _render_diff(d: Diff) -> None:
    from pinman.fingerprint.fingerprints import roots

    out(f"{d.a} -> {d.b}")
    if d.empty:
        out("  same body keys, betas and headers")
    for sign, label, items, tree in (
        ("+", "body keys", d.keys_added, True),
        ("-", "body keys", d.keys_removed, True),
        ("+", "betas", d.betas_added, False),
        ("-", "betas", d.betas_removed, False),
        ("+", "headers", d.headers_added, False),
        ("-", "headers", d.headers_removed, False),
    ):
        if not items:
            continue
        shown = roots(items) if tree else items
        more = f"  ({len(items)} paths with nested ones; --json lists all)" if len(shown) < len(items) else ""
        out(f"  {sign} {label}: {', '.join(shown)}{more}")
    if d.models[0] != d.models[1]:
        out(f"  model: {_words(d.models[0])} -> {_words(d.models[1])}")


class _Progress:
    """Probe lines as the issue shows them: `probing 2.1.88 ... schema (output_config: …)`."""

    def __call__(self, e: Event) -> None:
        if e.kind == "window":
            err(f"  {e.detail} candidate version(s) to search")
        elif e.kind == "resume":
            err(f"  resuming: {e.detail} verdict(s) saved by the interrupted bisect")
        elif e.kind == "install":
            err(f"  installing {e.version} ...")
        elif e.kind == "probe":
            sys.stderr.write(f"  probing {e.version} ... ")
            sys.stderr.flush()
        elif e.kind == "result" and e.probe is not None:
            p = e.probe
            if p.known:
                err(f"  {p.version}: {_verdict(p)} (saved)")
            else:
                retry = "; retrying" if not p.is_verdict and p.attempt == 1 else ""
                err(f"{_verdict(p)}  {p.duration:.1f} s{retry}")
        elif e.kind == "fingerprint":
            err(f"  comparing what {' and '.join(e.version.split())} send ...")
        elif e.kind == "remove":
            err(f"  removing probe install {e.version}")


def _verdict(p: Any) -> str:
    if p.kind == "ok":
        return "ok"
    status = f"{p.status} " if p.status and not p.message.startswith(str(p.status)) else ""
    return f"{p.kind} ({status}{p.message})" if p.message else p.kind


def _render_bisect(report: BisectReport) -> None:
    r = report.result
    head = (f"{report.profile} against {report.endpoint}: {r.good} (good) .. {r.bad} (bad), "
            f"{r.n} candidate(s)")
    out(head)
    if report.skipped:
        out("  skipped as known bad: " + ", ".join(f"{v} ({why})" for v, why in report.skipped.items()))
    if r.status == "found":
        adds = f"  ({report.diff.summary()})" if report.diff else ""
        out(f"newest working: {r.newest_working}    first failing: {r.first_failing}{adds}")
        if report.rejected or report.rejected_message:
            out(f"  rejected: {report.rejected or '?'}  ({report.rejected_message})")
        if report.fingerprint_error:
            out(f"  (no fingerprint diff: {report.fingerprint_error})")
        between = report.skipped_between
        if between:
            out(f"  known bad in between, not probed: {', '.join(between)}")
        out(f"  pin it:  {report.pin_command}")
    else:
        out(f"no answer: {r.detail}")
        if r.status == "stopped":
            out("  the state is saved: run the same command to resume")
        elif r.status == "inconsistent":
            seen = ", ".join(f"{v} {'/'.join(p.kind for p in ps)}" for v, ps in r.observed.items())
            out(f"  verdicts: {seen}")
    removed = f"; removed {len(report.removed)} probe install(s)" if report.removed else ""
    out(f"  {r.probes} probe(s) this run, {r.verdicts} verdict(s) of at most {r.budget}; "
        f"{report.duration:.1f} s{removed}")
