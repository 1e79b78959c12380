"""`pinman doctor`: find whatever would undo the pin, and say how to fix it.

Each check returns findings; none of them changes anything.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Mapping

from pinman.runtime.shim import path_line, shim_text
from pinman.paths import Paths
from pinman.errors import PinmanError
from pinman.profile.discovery import list_profiles
from pinman.runtime.editors import setting_line
from pinman.runtime.resolution import target
from pinman.views.sdk_coupling import coupling
from pinman.record import record

FALSY = {"0", "false", "no", "off", ""}


@record
class Finding:
    level: str  # "ok" | "warn" | "error"
    message: str
    fix: str = ""


def run_checks(paths: Paths, cwd: Path, environ: Mapping[str, str] | None = None) -> list[Finding]:
    env = os.environ if environ is None else environ
    home = Path(env.get("HOME", str(Path.home())))
    return [
        *check_path(paths, env),
        *check_settings(home),
        *check_tools(),
        *check_shim(paths),
        *check_sdk_coupling(paths, cwd),
        *check_installs(paths, cwd),
        *check_editors(paths, home, env),
        *check_managed(paths, cwd, env),
    ]


def claude_on_path(environ: Mapping[str, str]) -> list[Path]:
    found: list[Path] = []
    for folder in environ.get("PATH", "").split(os.pathsep):
        candidate = Path(folder or ".") / "claude"
        if candidate.is_file() and os.access(candidate, os.X_OK) and candidate not in found:
            found.append(candidate)
    return found


def check_path(paths: Paths, environ: Mapping[str, str]) -> list[Finding]:
    found = claude_on_path(environ)
    shim = paths.shim
    if not found or found[0] != shim:
        if shim not in found:
            msg = f"the pinman shim ({shim}) is not on PATH"
        else:
            msg = f"{found[0]} comes before the pinman shim on PATH and runs instead of the pin"
        fix = f"put this last in your shell profile: {path_line(paths)}"
        if shim in found:  # the binary in front is the problem: say how to remove it here, not twice
            fix += f"; or {_removal_hint(found[0])}"
        out = [Finding("error", msg, fix)]
    else:
        out = [Finding("ok", f"`claude` on PATH is the pinman shim ({shim})")]
    for other in found:
        if other != shim and not (other == found[0] and shim in found):
            out.append(Finding("warn", f"another claude binary on PATH: {other}", _removal_hint(other)))
    return out


def _removal_hint(binary: Path) -> str:
    text = str(binary.resolve()) if binary.exists() else str(binary)
    if "node_modules" in text:
        return "npm uninstall -g @anthropic-ai/claude-code   (a global npm install updates itself)"
    if binary == Path.home() / ".local/bin/claude" or ".local/share/claude" in text:
        return f"remove the native installer's copy: rm {binary}  (it auto-updates outside pinman)"
    return f"remove it or move its folder after {binary.parent} on PATH"


def check_settings(home: Path) -> list[Finding]:
    """Claude Code settings that turn the auto-updater back on despite DISABLE_AUTOUPDATER=1.

    ~/.claude.json is Claude Code's own state: it writes `autoUpdates` and `installMethod` there
    itself on first run (1.x does), so a value there is not the user's doing and is not reported.
    """
    out: list[Finding] = []
    updating: list[Path] = []
    for path in (home / ".claude" / "settings.json", home / ".claude" / "settings.local.json"):
        doc = _read_json(path)
        if doc is None:
            continue
        value = (doc.get("env") or {}).get("DISABLE_AUTOUPDATER") if isinstance(doc.get("env"), dict) else None
        if value is not None and str(value).strip().lower() in FALSY:
            out.append(Finding("error", f"{path}: env.DISABLE_AUTOUPDATER={value!r} re-enables auto-updates",
                               f"remove DISABLE_AUTOUPDATER from the env block of {path}"))
        if doc.get("autoUpdates") is True:
            updating.append(path)
    if updating:  # one problem, however many files say it
        where = " and ".join(str(p) for p in updating)
        out.append(Finding("warn", f"{where}: autoUpdates is true (the shim's DISABLE_AUTOUPDATER=1 wins, "
                           "but a claude started outside pinman updates itself)",
                           f'set "autoUpdates": false in {where}'))
    if not out:
        out.append(Finding("ok", "no Claude Code setting re-enables auto-updates"))
    return out


def _read_json(path: Path) -> dict | None:
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) else None


def check_tools() -> list[Finding]:
    out: list[Finding] = []
    for tool, why in (("npm", "pinman installs Claude Code with npm"), ("node", "Claude Code 1.x runs on Node")):
        exe = shutil.which(tool)
        if exe is None:
            out.append(Finding("error" if tool == "npm" else "warn", f"{tool} not found: {why}",
                               "install Node.js (it ships npm)"))
            continue
        try:
            ver = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=20).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            ver = "?"
        out.append(Finding("ok", f"{tool} {ver} ({exe})"))
    return out


def check_shim(paths: Paths) -> list[Finding]:
    old = _old_shim(paths)
    try:
        current = paths.shim.read_text()
    except OSError:
        return [Finding("warn", "the shim is not written yet", "run `pinman use stable`"), *old]
    if current != shim_text(paths):
        return [Finding("warn", "the shim is out of date (pinman moved or was upgraded)",
                        "run `pinman use <profile>` to rewrite it"), *old]
    return [Finding("ok", "shim up to date"), *old]


def _old_shim(paths: Paths) -> list[Finding]:
    """A shim left where earlier pinman versions wrote it under PINMAN_HOME (DIR/data/bin)."""
    old = paths.old_shim
    if old == paths.shim:
        return []
    try:
        with old.open("rb") as f:
            if b"# pinman shim" not in f.read(200):
                return []
    except OSError:
        return []
    return [Finding("warn", f"an old pinman shim is left at {old}; the shim is {paths.shim} now",
                    f"rm {old}, and put this in your shell profile or CI job: {path_line(paths)}")]


def check_sdk_coupling(paths: Paths, cwd: Path) -> list[Finding]:
    """Profiles whose Agent SDK bundles or is built for another Claude Code than the pinned one.

    Offline: versions come from the registry cache and the store; what cannot be known here
    (an Agent SDK for Python that is not installed yet) is skipped.
    """
    from pinman.npm.registry import Registry

    out: list[Finding] = []
    for profile, shadowed in list_profiles(cwd, paths):
        if shadowed or profile.sdk is None:
            continue
        try:
            runs = target(paths, profile, registry=Registry(paths, offline=True)).version
        except PinmanError:
            continue
        fit = coupling(paths, profile, runs)
        if fit is None:
            continue
        if fit.matches:
            out.append(Finding("ok", f"{profile.name}: {fit.sdk} and Claude Code {runs} match"))
        else:
            out.append(Finding("warn", fit.message(profile.name), f"{fit.fix} ({profile.path})"))
    return out


def check_installs(paths: Paths, cwd: Path) -> list[Finding]:
    """The installs of the profiles visible here, compared with the files recorded at install time."""
    from pinman.runtime.verify import for_visible

    out: list[Finding] = []
    checked = for_visible(paths, cwd)
    for v in checked:
        if v.tampered:
            out.append(Finding("error", v.line(), v.repair))
        elif v.check is not None and v.check.state == "unrecorded":
            out.append(Finding("warn", v.line(), f"{v.repair} (installs it again with a manifest)"))
    if checked and not out:
        out.append(Finding("ok", f"{len(checked)} installs match the files recorded when they were installed"))
    return out


def check_editors(paths: Paths, home: Path, environ: Mapping[str, str]) -> list[Finding]:
    """VS Code-family editors: whether their Claude Code extension runs the pin (`runtime.ide`)."""
    from pinman.runtime.ide import global_version, status

    out: list[Finding] = []
    for route in status(paths, home, environ, pinned=global_version(paths)):
        f = route.found
        fix = f"pinman ide install --editor {f.key}   (or add to {f.settings}: {setting_line(paths.shim)})"
        if route.state == "routed":
            out.append(Finding("ok" if route.hooks else "warn", route.line(), "" if route.hooks else "pinman hooks install"))
        elif route.state == "stale-shim":
            out.append(Finding("warn", route.line(), "pinman use <profile> (rewrites the shim)"))
        elif route.state == "other-wrapper":
            out.append(Finding("warn", route.line(), f"pinman ide install --editor {f.key} --force"))
        else:
            out.append(Finding("warn", route.line(), f"fix the file, then: {fix}" if f.problem else fix))
        if route.pin_note:
            out.append(Finding("warn", f"{f.editor}: {route.pin_note}", "pinman use <a 2.x profile>"))
    if not out:
        out.append(Finding("ok", "no editor's Claude Code extension found (VS Code, Cursor, Windsurf, VSCodium)"))
    return out


def check_managed(paths: Paths, cwd: Path, environ: Mapping[str, str]) -> list[Finding]:
    """A managed version range on this machine that stops a profile's version, or its rollback."""
    from pinman.health.managed_guard import warnings
    from pinman.health.prober import offline_registry, run_env
    from pinman.runtime.managed import read
    from pinman.state.journal import endpoint_of

    managed = read(environ)
    out = [Finding("warn", p, "Claude Code ignores that file whole; fix it or tell its owner")
           for p in managed.problems]
    if not managed.describe():
        return out
    for profile, shadowed in list_profiles(cwd, paths):
        if shadowed:
            continue
        try:
            version = target(paths, profile, registry=offline_registry(paths)).version
        except PinmanError:
            continue
        endpoint = endpoint_of(run_env(paths, profile, environ).get("ANTHROPIC_BASE_URL"))
        out += [Finding("warn", w, f"ask the owner of {managed.where} to allow it, or pin another version")
                for w in warnings(paths, profile, version, endpoint, environ) if w not in managed.problems]
    if not any(f.level == "warn" for f in out):
        out.append(Finding("ok", f"managed settings allow Claude Code {managed.describe()} ({managed.where}): "
                           "the profiles here and their known-goods are inside it"))
    return out
