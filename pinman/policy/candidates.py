"""The candidate remedies: client switches shipped as data (`remedies.toml` beside this module).

Each switch is an environment variable and value, the request fields it is meant to drop, its
trade-off in one line, and a cost class ("cheap", "costly"). The table is pinman's own data, read
strictly: a malformed entry is a packaging error naming the entry, never a half-read table. A
switch must pass `names.is_switch`: no entry can point the client at another endpoint or carry a
key. What a switch really drops is measured per version (`policy.measure`), never assumed.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache

from pinman.errors import PinmanError
from pinman.names import is_switch
from pinman.policy.fields import meant
from pinman.record import record

COSTS = ("cheap", "costly")
TABLE = "remedies.toml"
_KEYS = {"env", "value", "fields", "cost", "tradeoff"}


@record
class Switch:
    env: str
    value: str
    fields: tuple[str, ...]  # what it is meant to drop: body key paths, list items as `*`
    cost: str  # one of COSTS
    tradeoff: str

    @property
    def name(self) -> str:
        """`CLAUDE_CODE_EFFORT_LEVEL=auto`"""
        return f"{self.env}={self.value}"

    def names(self, item: str) -> bool:
        """Is this switch meant to drop the rejected `item`?"""
        return any(meant(f, item) for f in self.fields)


def allowed(level: str) -> tuple[str, ...]:
    """The cost classes a `[health] remedies` level lets a check apply."""
    return {"off": (), "cheap": ("cheap",), "all": COSTS}[level]


@lru_cache(maxsize=1)
def table() -> tuple[Switch, ...]:
    """Every candidate, cheap ones first, each class in the table's order."""
    import tomllib
    from importlib.resources import files

    where = f"pinman/policy/{TABLE}"
    try:
        doc = tomllib.loads(files("pinman.policy").joinpath(TABLE).read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise PinmanError(f"{where}: cannot read the candidate remedies: {e}",
                          hint="reinstall pinman") from None
    if doc.get("schema") != 1 or not isinstance(doc.get("switch"), list):
        raise PinmanError(f"{where}: not a schema 1 table of [[switch]] entries", hint="reinstall pinman")
    found = [_switch(where, i, entry) for i, entry in enumerate(doc["switch"])]
    return tuple(sorted(found, key=lambda s: COSTS.index(s.cost)))


def _switch(where: str, i: int, entry: object) -> Switch:
    def bad(why: str) -> PinmanError:
        return PinmanError(f"{where}: switch[{i}]: {why}", hint="fix the entry (see the comment at the top)")

    if not isinstance(entry, dict) or set(entry) != _KEYS:
        raise bad(f"needs exactly the keys {', '.join(sorted(_KEYS))}")
    env, value, fields = entry["env"], entry["value"], entry["fields"]
    if not (isinstance(env, str) and isinstance(value, str) and is_switch(env, value)):
        raise bad("env and value must name one of Claude Code's own switches, e.g. CLAUDE_CODE_EFFORT_LEVEL")
    if not isinstance(fields, list) or not fields or not all(isinstance(f, str) and f for f in fields):
        raise bad("fields must be a non-empty list of body key paths")
    if entry["cost"] not in COSTS or not isinstance(entry["tradeoff"], str) or not entry["tradeoff"]:
        raise bad(f"cost must be one of {', '.join(COSTS)} and tradeoff one line of text")
    return Switch(env, value, tuple(fields), entry["cost"], entry["tradeoff"])


def by_name(names: Iterable[str]) -> list[Switch]:
    """The table's switches named `VAR=value`, in the order given (unknown names are skipped)."""
    known = {s.name: s for s in table()}
    return [known[n] for n in names if n in known]
