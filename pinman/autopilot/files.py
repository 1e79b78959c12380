"""Every file the hooks read or write, named once (under pinman's own data and state folders)."""

from __future__ import annotations

from pathlib import Path

from pinman.paths import Paths
from pinman.runtime.client_hooks import HOOKS_ALL, HOOKS_SESSION
from pinman.state.fsutil import private_dirs
from pinman.record import record

# Set by the client for its hooks: a probe run with them would act as part of that session (the
# StopFailure handler and the SessionStart hook's check both drop them).
SESSION_VARS = ("CLAUDECODE", "CLAUDE_PID", "CLAUDE_PROJECT_DIR", "CLAUDE_EFFORT", "CLAUDE_CODE_ENTRYPOINT",
                "CLAUDE_CODE_SESSION_ID", "CLAUDE_CODE_SESSION_ATTENDED", "CLAUDE_CODE_CHILD_SESSION",
                "CLAUDE_CODE_CHILD_NOTES_DIR", "CLAUDE_CODE_MESSAGING_SOCKET", "CLAUDE_CODE_SSE_PORT", "AI_AGENT")
# Part of every hook command pinman writes: how `uninstall` tells pinman's entries from others.
MARKER = "/claude-hooks/pinman-"


@record
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
    def session_end(self) -> Path:
        return self.scripts / "pinman-session-end.sh"

    @property
    def plugin(self) -> Path:
        """The hooks as a plugin (`--plugin-dir`), for a run that brings its own `--settings`."""
        return self.paths.claude_plugin

    @property
    def plugin_manifest(self) -> Path:
        return self.plugin / ".claude-plugin" / "plugin.json"

    @property
    def plugin_hooks(self) -> Path:
        return self.plugin / "hooks" / "hooks.json"

    @property
    def folder(self) -> Path:
        return self.paths.autopilot

    @property
    def notice(self) -> Path:
        """Plain lines (pinman.state.notice), shown once by a session or a `claude -p` run."""
        return self.paths.notice

    @property
    def old_notice(self) -> Path:
        """Where an earlier pinman kept the notice, as `{"systemMessage": …}`: only carried over."""
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

    @property
    def handovers(self) -> Path:
        """Failures already handed to the handler (by StopFailure or SessionEnd): each acts once."""
        return self.folder / "handovers.json"

    def lock(self, name: str) -> Path:
        return self.paths.lock(f"autopilot-{name}")

    def private(self, folder: Path) -> None:
        """Make `folder` (one of pinman's) and hold it and pinman's folders above it to 0700."""
        private_dirs(folder, self.paths.owned())
