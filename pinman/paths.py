"""Every location pinman reads or writes, in one place.

`PINMAN_HOME=DIR` puts everything under DIR (tests and CI set it), the `claude` shim in `DIR/bin`
so scripts put `DIR/bin` on PATH; otherwise the platform's user config/data/state/cache folders
are used and the shim lives in `<data>/bin`, so the PATH line is stable across machines
(`~/.local/share/pinman/bin` on Linux).
"""

from __future__ import annotations

import os
from pathlib import Path

from pinman.record import record

APP = "pinman"


@record
class Paths:
    config: Path  # user profiles/, trust records
    data: Path  # store/, links/ (shim pointers)
    state: Path  # journal, global choice, overrides, locks
    cache: Path  # registry documents, fingerprints
    bin: Path  # the `claude` shim: DIR/bin under PINMAN_HOME, else <data>/bin

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Paths:
        env = os.environ if environ is None else environ
        home = env.get("PINMAN_HOME")
        if home:
            root = Path(home).expanduser().absolute()
            return cls(root / "config", root / "data", root / "state", root / "cache", root / "bin")
        import platformdirs  # lazy: only needed without PINMAN_HOME

        data = Path(platformdirs.user_data_dir(APP))
        return cls(
            Path(platformdirs.user_config_dir(APP)),
            data,
            Path(platformdirs.user_state_dir(APP)),
            Path(platformdirs.user_cache_dir(APP)),
            data / "bin",
        )

    def owned(self) -> tuple[Path, ...]:
        """pinman's own folders (each 0700, with everything below it); never their parents."""
        return (self.config, self.data, self.state, self.cache, self.bin)

    @property
    def shim(self) -> Path:
        return self.bin / "claude"

    @property
    def interpreter(self) -> Path:
        """The Python the shim's slow path and the hook scripts name, as pinman last wrote them:
        one line, compared by every `pinman` command with the Python it runs on."""
        return self.data / "interpreter"

    @property
    def store(self) -> Path:
        return self.data / "store"

    @property
    def links(self) -> Path:
        return self.data / "links"

    @property
    def user_profiles(self) -> Path:
        return self.config / "profiles"

    @property
    def locks(self) -> Path:
        return self.state / "locks"

    @property
    def journal(self) -> Path:
        """The JSON Lines journal of earlier versions: taken over into `journal_db` on first use."""
        return self.state / "journal.jsonl"

    @property
    def journal_db(self) -> Path:
        return self.state / "journal.db"

    @property
    def global_choice(self) -> Path:
        return self.state / "global"

    @property
    def overrides(self) -> Path:
        return self.state / "overrides.json"

    @property
    def channels(self) -> Path:
        """What each guarded profile runs on this machine (`state.channels`)."""
        return self.state / "channels.json"

    @property
    def trust(self) -> Path:
        return self.config / "trust.json"

    @property
    def registry_cache(self) -> Path:
        return self.cache / "registry"

    @property
    def log(self) -> Path:
        return self.state / "pinman.log"

    @property
    def logs(self) -> Path:
        """Output of npm and pip runs that failed, one file per build."""
        return self.state / "logs"

    def lock(self, name: str) -> Path:
        """The lock file `name` (overrides, channels, promotion, journal, store-…, sdk-…, profile-…,
        bisect-…, autopilot-…)."""
        return self.locks / f"{name}.lock"

    @property
    def global_pointers(self) -> Path:
        """Shim pointers of the global choice: one file per profile."""
        return self.links / "g"

    @property
    def project_pointers(self) -> Path:
        """Shim pointers per project: `r/DEPTH/<the project's absolute path>/NAME`."""
        return self.links / "r"

    @property
    def old_project_pointers(self) -> Path:
        """Pointers of an earlier layout (`p/ROOT/.pinman/NAME`): only ever removed."""
        return self.links / "p"

    @property
    def old_shim(self) -> Path:
        """Where earlier pinman versions wrote the shim under PINMAN_HOME: only ever reported."""
        return self.data / "bin" / "claude"

    @property
    def bisects(self) -> Path:
        """Paused bisects: one JSON file per (profile, endpoint)."""
        return self.state / "bisect"

    @property
    def fingerprints(self) -> Path:
        """Offline fingerprints, one JSON file per Claude Code version."""
        return self.cache / "fingerprints"

    @property
    def switch_effects(self) -> Path:
        """What each client switch drops, measured offline: `claude-code-VERSION/VAR=value.json`."""
        return self.cache / "switch-effects"

    @property
    def pypi_cache(self) -> Path:
        """PyPI's answers about SDK packages, one JSON file per package."""
        return self.cache / "pypi"

    @property
    def autopilot(self) -> Path:
        """The hooks' state: the pending notice, when the next check is due, cooldown, hook log."""
        return self.state / "autopilot"

    @property
    def notice(self) -> Path:
        """What pinman did unattended, until a session or a `claude -p` run has shown it (plain
        lines; read by the SessionStart hook and the shim)."""
        return self.autopilot / "notice"

    @property
    def claude_hooks(self) -> Path:
        """pinman's Claude Code hook scripts and the settings files the shim passes with `--settings`."""
        return self.data / "claude-hooks"

    @property
    def claude_plugin(self) -> Path:
        """The same hooks as a plugin folder, passed with `--plugin-dir` when the caller brings
        its own `--settings` (see runtime.client_hooks)."""
        return self.claude_hooks / "plugin"


def builtin_profiles_dir() -> Path:
    """The profiles shipped with pinman (the repo's top-level `profiles/`)."""
    here = Path(__file__).resolve().parent
    packaged = here / "builtin_profiles"
    return packaged if packaged.is_dir() else here.parent / "profiles"
