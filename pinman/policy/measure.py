"""What a client switch really drops from the requests of one Claude Code version, measured offline.

The version runs once with the switch through pinman's recording proxy, which answers the request
itself (no endpoint, no key, a throw-away HOME, the same fixed environment as an offline
fingerprint), and what it sent is compared with its plain offline fingerprint. A result depends only
on the version and the switch, so it is cached per version × switch under `paths.switch_effects` and
never taken again; a run that does not complete with the switch is cached too (no remedy there).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from pinman.errors import PinmanError
from pinman.fingerprint.fingerprints import Fingerprint, fingerprint, install_version, record_run
from pinman.fingerprint.proxy import scratch_env
from pinman.install.layout import validate_version
from pinman.paths import Paths
from pinman.policy.candidates import Switch
from pinman.policy.fields import present
from pinman.state.fsutil import atomic_write
from pinman.record import record

FORMAT = 1
TIMEOUT = 120.0  # a 2.x binary's first start from a cold page cache can take a while


@record
class Effect:
    """What `version` sent with `switch` on (offline), and whether it completed."""

    version: str
    switch: str  # VAR=value
    keys: tuple[str, ...]  # body key paths sent to /v1/messages, folded
    betas: tuple[str, ...]
    completed: bool
    taken_at: float

    def drops(self, plain: Fingerprint, item: str) -> bool:
        """The plain request sends `item` and the one with the switch does not."""
        return (self.completed and present(plain.keys, plain.betas, item)
                and not present(self.keys, self.betas, item))

    def dropped(self, plain: Fingerprint) -> list[str]:
        """Top-level keys, nested key paths and betas the switch took away (for reports)."""
        from pinman.fingerprint.fingerprints import roots

        return roots(set(plain.keys) - set(self.keys)) + sorted(set(plain.betas) - set(self.betas))


def cache_path(paths: Paths, version: str, switch: Switch) -> Path:
    validate_version(version)  # it becomes a folder name; a switch is `names.is_switch`-checked
    return paths.switch_effects / f"claude-code-{version}" / f"{switch.name}.json"


def plain(paths: Paths, version: str) -> Fingerprint:
    """The version's own offline fingerprint (cached per version, taken now if missing)."""
    return fingerprint(paths, version)


def effect(paths: Paths, version: str, switch: Switch, *,
           run: Callable[[Path, Mapping[str, str]], Fingerprint] | None = None) -> Effect:
    """`switch`'s effect on `version`: from the cache, or measured now (the version is installed)."""
    hit = _cached(paths, version, switch)
    if hit is not None:
        return hit
    binary = install_version(paths, version).binary
    fp = (run or _record)(binary, scratch_env({switch.env: switch.value}))
    found = Effect(version, switch.name, tuple(fp.keys), tuple(fp.betas), bool(fp.messages), time.time())
    doc = {"format": FORMAT, "version": version, "switch": switch.name, "keys": list(found.keys),
           "betas": list(found.betas), "completed": found.completed, "taken_at": found.taken_at}
    atomic_write(cache_path(paths, version, switch), json.dumps(doc, indent=1, sort_keys=True) + "\n")
    return found


def _record(binary: Path, env: Mapping[str, str]) -> Fingerprint:
    recorded, outcome = record_run(binary, env, timeout=TIMEOUT)
    # A run that did not complete against pinman's own answer measured nothing: no remedy there.
    return Fingerprint("", tuple(recorded) if outcome.kind.value == "ok" else ())


def _cached(paths: Paths, version: str, switch: Switch) -> Effect | None:
    try:
        doc = json.loads(cache_path(paths, version, switch).read_text())
        if doc.get("format") != FORMAT or doc.get("version") != version or doc.get("switch") != switch.name:
            return None
        keys, betas = doc["keys"], doc["betas"]
        if not all(isinstance(x, str) for x in [*keys, *betas]) or not isinstance(doc["completed"], bool):
            return None
        return Effect(version, switch.name, tuple(keys), tuple(betas), doc["completed"], float(doc["taken_at"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None  # missing or unreadable: measure again


def confirmed(paths: Paths, version: str, switches: list[Switch], item: str,
              note: Callable[[str], None]) -> list[Switch]:
    """Of `switches`, those that really drop `item` from what `version` sends (measured). None to
    measure: the version is not run at all (a field only a costly switch is meant for, at "cheap")."""
    if not switches:
        return []
    try:
        base = plain(paths, version)
    except PinmanError as e:
        note(f"cannot measure {version} offline: {e.message}")
        return []
    if not present(base.keys, base.betas, item):
        note(f"{version} does not send {item} offline, so no switch can be measured for it")
        return []
    out = []
    for s in switches:
        try:
            if effect(paths, version, s).drops(base, item):
                out.append(s)
        except PinmanError as e:
            note(f"cannot measure {s.name} on {version}: {e.message}")
    return out
