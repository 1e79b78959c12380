"""Every `pinman` command keeps the shim and the hook scripts naming the Python it runs on.

Those files name the interpreter that wrote them (`sys.executable`). When it goes (the venv
moved, pinman was uninstalled or reinstalled elsewhere) the shim says so on stderr with its own
exit code, and the hooks say so (SessionStart) or log it; and the next `pinman` command run by
another Python rewrites them. The test is one small file (pinman.state.interpreter) against
`sys.executable`, so a read command pays one read of a few bytes.
"""

from __future__ import annotations

import os
import sys

from pinman.paths import Paths


def rewrite(paths: Paths) -> str | None:
    """pinman's files name another Python than this one (`pinman.state.interpreter.current` is
    False): rewrite them (the shim if there is one; the hook scripts if the hooks are installed).
    Returns the one line to tell the user, or None when there was nothing to say."""
    from pinman.autopilot.files import HookFiles

    files = HookFiles(paths)
    shim, hooks = paths.shim.exists(), files.settings_all.exists() or files.settings_session.exists()
    if not (shim or hooks):
        return None  # nothing names an interpreter yet: a read command writes (and imports) nothing
    from pinman.autopilot.notices import carry_old
    from pinman.autopilot.scripts import write_scripts
    from pinman.autopilot.settings import write_files
    from pinman.runtime.shim import ensure_shim
    from pinman.state.interpreter import named_python, stamp

    before = {named_python(p) for p in (paths.shim, files.stop_failure) if p.exists()} - {None, sys.executable}
    if shim:
        ensure_shim(paths)
    if hooks:
        write_scripts(files)
        write_files(files)
        carry_old(files)  # a notice an earlier pinman's hook would have shown
    stamp(paths)
    if not before:
        return None
    old = sorted(p for p in before if p)[0]
    why = "is gone" if not os.access(old, os.X_OK) else "is not the one running pinman now"
    return f"pinman: the claude shim and pinman's hooks named {old}, which {why}; they now use {sys.executable}"
