"""What the verbs share apart from rendering: the `--json` and `--refresh` options, pinman's
`Paths`, a profile by name as seen from here (and its completion), and the registry as `--refresh`
asks for it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from pinman.paths import Paths

JSON = typer.Option(False, "--json", help="Machine-readable output.")
REFRESH = typer.Option(False, "--refresh", help="Ask the registry now instead of using the last answer cached here.")


def get_paths() -> Paths:
    return Paths.from_env()


def get_profile(name: str) -> Any:
    from pinman.profile.discovery import find_profile

    return find_profile(name, Path.cwd(), get_paths())


def complete_profile(incomplete: str) -> list[str]:
    """Shell completion of a profile name: the names visible here, from file names alone (no
    profile is parsed, nothing is asked), as fast as `ls`."""
    from pinman.profile.discovery import profile_names

    return [n for n in profile_names(Path.cwd(), get_paths()) if n.startswith(incomplete)]


def registry_for(refresh: bool) -> Any:
    from pinman.runtime.resolution import fresh_registry, local_registry

    return fresh_registry(get_paths()) if refresh else local_registry(get_paths())
