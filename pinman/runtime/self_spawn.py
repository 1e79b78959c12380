"""Claude Code starting further Claude Code processes of its own: through the same pin.

Measured in 2.1.331 (its code and a run with a logging launcher): the background service
(`claude --bg`, `claude agents`: `daemon run`), its terminal hosts (`--bg-pty-host`), the
sessions it starts and keeps ready (`--session-id ID …`, `--bg-spare`) and the restarts after an
update (`--resume ID …`) are started as `<launcher> <its own binary> <args…>` when
`CLAUDE_CODE_PROCESS_WRAPPER` names a launcher (from 2.1.208; JSON array or space-separated argv;
it must be an absolute path to an executable file and not Claude Code's own binary), else as
`<its own binary> <args…>` — without the `--settings` pinman's shim passed, so without pinman's
hooks. Teammates in tmux, built-in MCP servers, the hooks worker and the embedded ripgrep use
`process.execPath` directly: the same immutable install, nothing to route. 1.0.100 starts no
Claude Code process of its own (its subagents run in-process).

So the pointer of a version that reads the variable sets it to pinman's shim; the shim, handed a
binary of pinman's store first, runs exactly that binary again (a self-spawn never resolves a
profile again, so the background service and its sessions stay on one version) and gives the
sessions it starts pinman's hooks. A launcher the user's environment or the machine's managed
settings already name wins: pinman never takes the place of a corporate launcher.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Mapping

from pinman.paths import Paths

VAR = "CLAUDE_CODE_PROCESS_WRAPPER"
FROM = (2, 1, 208)  # first version that reads it
USER_WINS = frozenset({VAR})  # pointer keys whose value in the caller's environment is kept


def wrapper_env(paths: Paths, version: str, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """`{VAR: ["<shim>"]}` for a version that reads it, unless the machine's managed settings name
    a launcher or Claude Code would refuse the shim (its own `~/.local/bin/claude`)."""
    from pinman.runtime.managed import read

    m = re.match(r"(\d+)\.(\d+)\.(\d+)", version)
    if m is None or tuple(int(x) for x in m.groups()) < FROM:
        return {}
    env = os.environ if environ is None else environ
    home = Path(env.get("HOME") or Path.home())
    if paths.shim == home / ".local" / "bin" / "claude" or read(environ).launcher:
        return {}
    return {VAR: json.dumps([str(paths.shim)])}


def keep_callers(env: dict[str, str], caller: Mapping[str, str]) -> dict[str, str]:
    """`env` with the caller's own values of the USER_WINS keys put back (as the shim's pointer does)."""
    for key in USER_WINS:
        if caller.get(key):
            env[key] = caller[key]
    return env
