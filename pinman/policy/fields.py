"""What an endpoint rejected, matched against request key paths: one rule for the whole policy.

An endpoint names what it rejects in its own way: `thinking`, `output_config.effort`,
`tools.3.custom.defer_loading` (the API names a tool's variant, which the request has no level
for), `system[0].cache_control` (Vertex), only the leaf `cache_control`, or a beta header value.
A recording folds list indices to `*` (`tools.*.defer_loading`). `present` says whether a request
recorded with these key paths and betas sent the rejected thing.
"""

from __future__ import annotations

import re
from collections.abc import Collection

_INDEX = re.compile(r"\[(\d+)\]|(?<=\.)\d+(?=\.|$)")


def items(rejected: str | None) -> list[str]:
    """`"a, b"` (several betas named at once) -> ["a", "b"]; None -> []."""
    return [r.strip() for r in (rejected or "").split(",") if r.strip()]


def fold(item: str) -> str:
    """`tools.3.defer_loading` and `tools[3].defer_loading` -> `tools.*.defer_loading`."""
    folded = _INDEX.sub(lambda m: ".*" if m.group(1) is not None else "*", item)
    return folded.replace("..", ".").lstrip(".")


def variants(item: str) -> list[str]:
    """The folded item, and the same with one inner level left out (`tools.*.custom.x` ->
    `tools.*.x`): the API names a tool's variant, which the request has no level for."""
    parts = fold(item).split(".")
    return [".".join(parts)] + [".".join(parts[:i] + parts[i + 1:]) for i in range(1, len(parts) - 1)]


def meant(field: str, item: str) -> bool:
    """Does a candidate meant to drop `field` (a table entry) name the rejected `item`? The same
    path, a path inside it (`output_config.effort` is in `output_config`), or, when the endpoint
    named only a leaf (`cache_control`), a field ending in it."""
    if "." not in item and field.rsplit(".", 1)[-1] == item:
        return True
    return any(v == field or v.startswith(field + ".") for v in variants(item))


def present(keys: Collection[str], betas: Collection[str], item: str) -> bool:
    """Did a request with these (folded) body key paths and beta values send `item`?"""
    if item in betas:
        return True
    if "." not in item and any(k.rsplit(".", 1)[-1] == item for k in keys):
        return True
    return any(v in keys for v in variants(item))
