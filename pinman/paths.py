"""Every location pinman reads or writes, in one place.

`PINMAN_HOME=DIR` puts everything under DIR (tests and CI set it), the `claude` shim in `DIR/bin`
so scripts put `DIR/bin` on PATH; otherwise the platform's user config/data/state/cache folders
are used and the shim lives in `<data>/bin`, so the PATH line is stable across machines
(`~/.local/share/pinman/bin` on Linux).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

APP = "pinman"


@dataclass(frozen=True)
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

    @property
    def shim(self) -> Path:
        return self.bin / "claude"

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
    def trust(self) -> Path:
        return self.config / "trust.json"

    @property
    def registry_cache(self) -> Path:
        return self.cache / "registry"

    @property
    def log(self) -> Path:
        return self.state / "pinman.log"

    @property
    def claude_hooks(self) -> Path:
        """pinman's Claude Code hook scripts and the settings files the shim passes with `--settings`."""
        return self.data / "claude-hooks"


def builtin_profiles_dir() -> Path:
    """The profiles shipped with pinman (the repo's top-level `profiles/`)."""
    here = Path(__file__).resolve().parent
    packaged = here / "builtin_profiles"
    return packaged if packaged.is_dir() else here.parent / "profiles"
