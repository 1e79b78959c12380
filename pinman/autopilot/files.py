"""Every file the hooks read or write, named once (under pinman's own data and state folders)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pinman.paths import Paths
from pinman.runtime.client_hooks import HOOKS_ALL, HOOKS_SESSION

# Part of every hook command pinman writes: how `uninstall` tells pinman's entries from others.
MARKER = "/claude-hooks/pinman-"


@dataclass(frozen=True)
class HookFiles:
    paths: Paths

    @property
    def scripts(self) -> Path:
        return self.paths.claude_hooks

    @property
    def settings_all(self) -> Path:
        """StopFailure and SessionStart: the shim passes it to versions that know both."""

        return self.scripts / HOOKS_ALL

    @property
    def settings_session(self) -> Path:
        """SessionStart only: for versions without StopFailure (1.x, 2.1 before 2.1.78)."""

        return self.scripts / HOOKS_SESSION

    @property
    def stop_failure(self) -> Path:
        return self.scripts / "pinman-stop-failure.sh"

    @property
    def session_start(self) -> Path:
        return self.scripts / "pinman-session-start.sh"

    @property
    def folder(self) -> Path:
        return self.paths.autopilot

    @property
    def notice(self) -> Path:
        """`{"systemMessage": …}`, cat-ed and removed by the SessionStart hook: shown once."""
        return self.folder / "notice.json"

    @property
    def next_due(self) -> Path:
        """Epoch seconds (an integer) when `check --if-due` is next worth starting."""
        return self.folder / "next-due"

    @property
    def cooldown(self) -> Path:
        return self.folder / "cooldown.json"

    @property
    def log(self) -> Path:
        return self.folder / "hook.log"

    def lock(self, name: str) -> Path:
        return self.paths.lock(f"autopilot-{name}")
