"""Why a range resolved to an older release than the newest it matches: the newer ones declare an
`engines.node` this Node does not satisfy, so npm passes them over (and so does pinman, which
answers what `npm install` would pick). Summarised per constraint, not as a list of a hundred
versions, with whether those releases ship a native binary: Claude Code 2.x's does not run on
Node at all, so an exact pin of one runs here whatever its engines say.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pinman.npm.packument import Packument
from pinman.npm.pick import sort_versions


def engine_skips(doc: Packument, versions: Sequence[str], node: str | None) -> dict[str, Any] | None:
    """`{"node", "versions", "groups": [{"engines", "from", "to", "count"}], "native"}` for the
    versions `engine_skipped` named; None when engines passed nothing over."""
    from pinman.install.native import native_keys, this_platform

    found = sort_versions(v for v in versions if v in doc.versions)
    if not found:
        return None
    groups: dict[str, list[str]] = {}
    for v in found:
        groups.setdefault(doc.versions[v].engines_node or "", []).append(v)
    # Every one of them has a native package for this machine: its binary runs whatever the Node.
    native = all(this_platform(native_keys(doc.versions[v].optional_dependencies)) for v in found)
    return {"node": node, "versions": found, "native": native,
            "groups": [{"engines": e, "from": vs[0], "to": vs[-1], "count": len(vs)} for e, vs in groups.items()]}

