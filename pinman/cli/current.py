"""The answers of `pinman current` and `pinman which`, read from local state only (`--refresh`
asks the registry first): the fast path runs these without typer, and the typer verbs call them.
"""

from __future__ import annotations

import json
from pathlib import Path

from pinman.cli.ui import out
from pinman.errors import InstallError


def current(as_json: bool = False, refresh: bool = False) -> int:
    if refresh:
        _refresh_active()
    return render_current("current", as_json)


def which(as_json: bool = False, refresh: bool = False) -> int:
    if refresh:
        _refresh_active()
    return render_current("which", as_json)


def _refresh_active() -> None:
    """Ask the registry for the active profile's tag or range, so the cache answers what follows."""
    from pinman.paths import Paths
    from pinman.profile.discovery import find_profile
    from pinman.runtime.choice import choose
    from pinman.runtime.resolution import fresh_registry, target

    paths, cwd = Paths.from_env(), Path.cwd()
    target(paths, find_profile(choose(cwd, paths).name, cwd, paths), registry=fresh_registry(paths))


def render_current(command: str, as_json: bool) -> int:
    from pinman.paths import Paths
    from pinman.views.status import describe_current

    info = describe_current(Path.cwd(), Paths.from_env())
    if command == "which":
        if not info["installed"]:
            raise InstallError(f"{info['profile']} {info['version']} is not installed",
                              hint=f"run `pinman install {info['profile']}`")
        out(json.dumps({"binary": info["binary"]}) if as_json else info["binary"])
        return 0
    if as_json:
        out(json.dumps(info, indent=2))
        return 0
    state = "" if info["installed"] else "  (not installed: `pinman install` or run claude once)"
    here = [r["switches"] for r in info.get("remedies") or [] if r["here"]]
    out(f"{info['profile']} {info['version']}{' with ' + here[0] if here else ''}{state}")
    out(f"  why:     {info['why']}")
    if info.get("dropped"):
        out(f"  note:    {info['dropped']}")
    for r in info.get("remedies") or []:
        where = "" if r["here"] else " (not applied here: another endpoint)"
        out(f"  remedy:  {r['summary']}{where} — {'; '.join(r['tradeoffs'])}")
        out(f"  share:   add {' and '.join(r['env_lines'])} to [env] in {Path(info['profile_file']).name}")
    out(f"  chosen:  {info['source']} ({info['detail']})")
    out(f"  profile: {info['profile_file']}")
    if info["shadows"]:
        out(f"  hides:   {info['shadows']} (your profile of the same name does not apply here)")
    if info["binary"]:
        out(f"  binary:  {info['binary']}")
    return 0
