"""`pinman ide install|uninstall|status`: the Claude Code extension of VS Code-family editors runs
the pin, through pinman's shim.

The extension calls `<claudeCode.claudeProcessWrapper> <its bundled CLI> <args…>` (or
`<wrapper> <node> <cli.js> <args…>` for a bundle without a native binary), from the folder the
editor opened, with `CLAUDE_CODE_ENTRYPOINT=claude-vscode`. With pinman's shim as the wrapper, the
shim drops the bundled CLI and runs the version pinned for that folder, with the profile's env and
pinman's hooks, exactly as `claude` typed in that folder's terminal.

The setting lives in the editor's user settings (JSON with comments), edited in place by
`state.jsonc`: every other byte stays. Writes are atomic, through a symbolic link to its target
(as editors write), keep the file's mode, and keep the previous file beside the one the editor
reads (`settings.json.pinman-bak`). `uninstall` puts that previous file back when nothing else
changed since (byte for byte), else removes only the key (or restores the wrapper `--force`
replaced). A file pinman cannot parse, a read-only file and a wrapper set to something else
(without `force`) are refused and left exactly as they were.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping

from pinman.errors import ExitCode, UsageError
from pinman.paths import Paths
from pinman.runtime import editors
from pinman.runtime.client_hooks import HOOKS_ALL, HOOKS_SESSION
from pinman.runtime.editors import EDITORS, SETTING, Editor
from pinman.runtime.shim import shim_text
from pinman.state import jsonc
from pinman.state.fsutil import atomic_write
from pinman.record import record

BACKUP = ".pinman-bak"
RELOAD = "reload its windows (Developer: Reload Window) so Claude Code panels start {how}"


@record
class Change:
    """What `install` or `uninstall` did to one editor's settings file."""

    editor: str
    key: str
    settings: Path
    action: str  # installed | replaced | already | removed | restored | absent | not-ours | refused
    detail: str
    code: int = 0  # an exit code when refused

    @property
    def reload(self) -> bool:
        return self.action in ("installed", "replaced", "removed", "restored")

    def to_json(self) -> dict[str, Any]:
        return {"editor": self.editor, "key": self.key, "settings": str(self.settings), "action": self.action,
                "detail": self.detail, "reload": self.reload}


@record
class Route:
    """Whether one editor's Claude Code runs the pin."""

    found: editors.BundledCli
    shim_current: bool
    hooks: bool
    pin_note: str | None = None  # the pin here cannot serve this extension

    @property
    def state(self) -> str:
        if self.found.problem:
            return "unreadable"
        if self.found.routed:
            return "routed" if self.shim_current else "stale-shim"
        return "other-wrapper" if self.found.wrapper else "not-routed"

    @property
    def runs_pin(self) -> bool:
        return self.state == "routed"

    def line(self) -> str:
        f = self.found
        bundles = f"bundles Claude Code {f.cli_version}" if f.cli_version else \
            f"bundles a Claude Code CLI of unknown version (extension {f.extension_version or '?'})"
        what = {
            "routed": "runs the pin through pinman's shim" + (", with pinman's hooks" if self.hooks else
                                                               ", without pinman's hooks (`pinman hooks install`)"),
            "stale-shim": "names pinman's shim, which is missing or out of date: it does not run the pin",
            "other-wrapper": f"runs {f.wrapper} instead of the pin",
            "not-routed": "runs its bundled CLI, outside the pin",
            "unreadable": f"unknown: {f.problem}",
        }[self.state]
        return f"{f.editor}: {what} ({f.settings}); the extension {bundles}"

    def to_json(self) -> dict[str, Any]:
        f = self.found
        return {"editor": f.editor, "key": f.key, "state": self.state, "runs_pin": self.runs_pin,
                "hooks": self.hooks, "settings": str(f.settings), "wrapper": f.wrapper,
                "extension": str(f.folder), "extension_version": f.extension_version,
                "bundled_cli": f.cli_version, "problem": f.problem, "pin_note": self.pin_note}


def status(paths: Paths, home: Path, environ: Mapping[str, str], hooks: bool | None = None,
           pinned: str | None = None) -> list[Route]:
    """Every editor whose Claude Code extension is installed here. `hooks`: whether pinman's hooks
    are installed (the caller's verdict; default: the hook files the shim passes are there).
    `pinned`: the version the global choice runs, to warn when it cannot serve the extension."""
    current = _shim_current(paths)
    with_hooks = hooks_present(paths) if hooks is None else hooks
    return [Route(f, current, with_hooks, _pin_note(pinned, f)) for f in editors.find(home, paths.shim, environ)]


def install(paths: Paths, home: Path, environ: Mapping[str, str], *, editor: str | None = None,
            force: bool = False) -> list[Change]:
    """Set the wrapper to pinman's shim in the user settings of every editor found (or `editor`)."""
    chosen = _chosen(editor)
    found = [f for f in editors.find(home, paths.shim, environ) if f.key in chosen]
    if editor and not found:
        raise UsageError(f"no Claude Code extension of {_by_key(editor).name} found under {home}",
                         hint="install the extension in that editor first, then run this again")
    return [_install_file(f.editor, f.key, f.settings, paths.shim, force) for f in found]


def uninstall(paths: Paths, home: Path, environ: Mapping[str, str], *, editor: str | None = None) -> list[Change]:
    """Remove what `install` set, from every editor's settings that hold it (or `editor`'s)."""
    out = []
    for e in EDITORS:
        if e.key in _chosen(editor):
            for path in editors.settings_files(e, home, environ):
                if _backup(path).is_file() or SETTING in _peek(path):
                    out.append(_uninstall_file(e.name, e.key, path, paths.shim))
    return out


def _peek(path: Path) -> str:
    try:
        return _target(path).read_bytes().decode("utf-8", "replace")
    except OSError:
        return ""


def global_version(paths: Paths) -> str | None:
    """The version the global choice's pointer names, if the shim has one (nothing resolved)."""
    from pinman.errors import PinmanError
    from pinman.runtime.choice import read_global
    from pinman.runtime.pointers import read_pointer

    try:
        name = read_global(paths)
    except PinmanError:
        return None
    doc = read_pointer(paths.global_pointers / name) if name else None
    return doc.get("ver") if doc else None


def hooks_present(paths: Paths) -> bool:
    """pinman's hook settings files are where the shim passes them from."""
    return all((paths.claude_hooks / name).is_file() for name in (HOOKS_ALL, HOOKS_SESSION))


# -- one settings file ----------------------------------------------------------------------------------
def _install_file(name: str, key: str, path: Path, shim: Path, force: bool) -> Change:
    def change(action: str, detail: str, code: int = 0) -> Change:
        return Change(name, key, path, action, detail, code)

    try:
        raw, text = _read(path)
        doc = _doc(path, text)
    except _Refused as e:
        return change("refused", e.message, e.code)
    wrapper = doc.get(SETTING)
    if isinstance(wrapper, str) and _is(wrapper, shim):
        return change("already", f"{SETTING} already names pinman's shim")
    if wrapper is not None and not force:
        return change("refused", f"{SETTING} is set to {json.dumps(wrapper)}: left as it is (--force replaces "
                      "it; `pinman ide uninstall` puts it back)", int(ExitCode.USAGE))
    new = jsonc.set_member(text, SETTING, str(shim))
    try:
        _write(path, raw, new, expect={**doc, SETTING: str(shim)})
    except _Refused as e:
        return change("refused", e.message, e.code)
    how = "through pinman's shim"
    if wrapper is not None:
        return change("replaced", f"replaced {json.dumps(wrapper)} by pinman's shim; " + RELOAD.format(how=how))
    return change("installed", f"{SETTING} set to pinman's shim; " + RELOAD.format(how=how))


def _uninstall_file(name: str, key: str, path: Path, shim: Path) -> Change:
    def change(action: str, detail: str, code: int = 0) -> Change:
        return Change(name, key, path, action, detail, code)

    try:
        raw, text = _read(path)
        doc = _doc(path, text)
    except _Refused as e:
        return change("refused", e.message, e.code)
    wrapper = doc.get(SETTING)
    if not (isinstance(wrapper, str) and _is(wrapper, shim)):
        _drop_backup(path)  # pinman's wrapper is gone already: its backup is stale
        return change("not-ours" if wrapper else "absent",
                      f"{SETTING} is {json.dumps(wrapper)}: not pinman's, left as it is" if wrapper
                      else f"{SETTING} is not set")
    before = _previous(path)
    how = "with their bundled CLI again"
    try:
        if jsonc.set_member(before or "", SETTING, str(shim)) == text:
            _put_back(path, before)
            _drop_backup(path)
            return change("restored", "the file is back as it was before `pinman ide install`; "
                          + RELOAD.format(how=how))
        new, expect = _without(text, doc, before)
        _write(path, raw, new, expect=expect)
    except _Refused as e:
        return change("refused", e.message, e.code)
    _drop_backup(path)
    what = (f"{SETTING} is {json.dumps(expect[SETTING])} again" if SETTING in expect else f"{SETTING} removed")
    return change("removed", f"{what} (other changes since install kept); " + RELOAD.format(how=how))


def _without(text: str, doc: dict[str, Any], before: str | None) -> tuple[str, dict[str, Any]]:
    """`text` without pinman's wrapper: the wrapper `--force` replaced comes back, else the key goes."""
    try:
        previous = jsonc.value_of(before, SETTING) if before is not None else None
    except jsonc.JsoncError:
        previous = None
    if isinstance(previous, str) and previous:
        return jsonc.set_member(text, SETTING, previous), {**doc, SETTING: previous}
    return jsonc.remove_member(text, SETTING), {k: v for k, v in doc.items() if k != SETTING}


# -- files ------------------------------------------------------------------------------------------------
class _Refused(Exception):
    def __init__(self, message: str, code: ExitCode) -> None:
        super().__init__(message)
        self.message, self.code = message, int(code)


def _target(path: Path) -> Path:
    """Where a write lands: through a symbolic link to its target, as editors write."""
    return path.resolve() if path.is_symlink() else path


def _read(path: Path) -> tuple[bytes | None, str]:
    try:
        raw = _target(path).read_bytes()
    except FileNotFoundError:
        return None, ""
    except OSError as e:
        raise _Refused(f"{path}: cannot read: {e.strerror or e}", ExitCode.SYSTEM) from None
    try:
        return raw, raw.decode("utf-8")
    except UnicodeDecodeError:
        raise _Refused(f"{path}: not UTF-8 text: left as it is", ExitCode.PROFILE) from None


def _doc(path: Path, text: str) -> dict[str, Any]:
    """The settings as the editor reads them: one object (comments and trailing commas allowed), or
    nothing at all yet."""
    try:
        doc = jsonc.loads(text) if jsonc.parse(text).open is not None else {}
    except jsonc.JsoncError as e:
        raise _Refused(f"{path}:{e.line}: {e.message}: left as it is", ExitCode.PROFILE) from None
    assert isinstance(doc, dict)  # parse() accepted a top-level object
    return doc


def _write(path: Path, raw: bytes | None, new: str, expect: dict[str, Any]) -> None:
    """Back up the previous bytes, then replace the file atomically; `expect` is what it must read as."""
    if jsonc.loads(new) != expect:  # the edit touched nothing else: checked before anything is written
        raise _Refused(f"{path}: the edit would change more than {SETTING}: left as it is", ExitCode.ERROR)
    target = _target(path)
    mode = _mode(target)
    if raw is not None:
        _atomic(_backup(path), raw, mode)
    _atomic(target, new.encode("utf-8"), mode)


def _put_back(path: Path, before: str | None) -> None:
    """The previous bytes back in place; no previous file (pinman created it): no file."""
    target = _target(path)
    mode = _mode(target)
    if before is not None:
        _atomic(target, before.encode("utf-8"), mode)
        return
    try:
        target.unlink()
    except OSError as e:
        raise _Refused(f"{target}: cannot remove: {e.strerror or e}", ExitCode.SYSTEM) from None


def _mode(target: Path) -> int:
    """The file's mode; a file without any write permission is the user's way of saying no."""
    try:
        mode = target.stat().st_mode & 0o7777
    except FileNotFoundError:
        return 0o600
    except OSError as e:
        raise _Refused(f"{target}: {e.strerror or e}", ExitCode.SYSTEM) from None
    if not mode & 0o222:
        raise _Refused(f"{target} is read-only: left as it is (make it writable, or add by hand the line "
                       "`pinman doctor` prints)", ExitCode.SYSTEM)
    return mode


def _atomic(path: Path, data: bytes, mode: int) -> None:
    try:
        atomic_write(path, data, mode=mode)
    except OSError as e:
        raise _Refused(f"{path}: cannot write: {e.strerror or e}: left as it was", ExitCode.SYSTEM) from None


def _backup(path: Path) -> Path:
    """Beside the file the editor reads (a link's folder, not a dotfiles repository it points into)."""
    return path.with_name(path.name + BACKUP)


def _previous(path: Path) -> str | None:
    try:
        return _backup(path).read_bytes().decode("utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def _drop_backup(path: Path) -> None:
    try:
        _backup(path).unlink()
    except OSError:
        pass


# -- helpers -----------------------------------------------------------------------------------------------
def _chosen(editor: str | None) -> set[str]:
    return {e.key for e in EDITORS} if editor is None else {_by_key(editor).key}


def _by_key(name: str) -> Editor:
    wanted = name.strip().lower()
    for e in EDITORS:
        if wanted in (e.key, e.name.lower()):
            return e
    raise UsageError(f"unknown editor {name!r}", hint="one of: " + ", ".join(e.key for e in EDITORS))


def _is(value: str, shim: Path) -> bool:
    try:
        return Path(value).expanduser().resolve() == shim.resolve()
    except (OSError, RuntimeError, ValueError):
        return False


def _shim_current(paths: Paths) -> bool:
    try:
        return paths.shim.read_text() == shim_text(paths)
    except (OSError, UnicodeDecodeError):
        return False


def _pin_note(pinned: str | None, found: editors.BundledCli) -> str | None:
    """A 1.x pin cannot serve a 2.x extension: it refuses the options the extension passes."""
    if not pinned or not pinned.split(".")[0] in ("0", "1"):
        return None
    if found.cli_version and found.cli_version.split(".")[0] in ("0", "1"):
        return None
    return (f"the global choice runs Claude Code {pinned}, which refuses options this extension passes "
            "(measured: 1.0.100 stops at `--max-thinking-tokens`, `--setting-sources`): pin 2.x for the "
            "folders you open in the editor")
