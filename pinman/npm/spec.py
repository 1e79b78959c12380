"""What a version spec written in a profile means: an exact version, a dist-tag or an npm range.

Classified the way `npm install pkg@spec` classifies it, but stricter: anything that could be a
shell metacharacter, a path piece or a typo npm would silently take for a dist-tag is refused, so
a spec that passes here is safe as an npm argument and means what it says.
"""

from __future__ import annotations

import re
from typing import Literal

from pinman.names import clean_version
from pinman.npm.semver import valid_range
from pinman.record import record

SpecKind = Literal["exact", "tag", "range"]
MAX_SPEC_LENGTH = 100



@record
class Spec:
    raw: str
    kind: SpecKind


# Characters a version, tag or range can need. Shell metacharacters such as `$ ( ) ; & ' "` and
# path pieces (`/`, `\`) never reach npm or a file name this way.
_SPEC_CHARS = re.compile(r"^[A-Za-z0-9._+\-^~*<>=| ]+$")
# npm accepts any URL-safe tag; pinman is stricter so typos like `2.x.1` or `x.2.3` are not
# taken for one.
_TAG = re.compile(r"^(?!v\d)(?![xX]\.)[A-Za-z][A-Za-z0-9._-]*$")
_RANGE_PART = re.compile(r"[0-9xX*]")


def parse_spec(raw: str) -> Spec:
    """Classify `raw` the way `npm install pkg@raw` does, refusing anything suspicious.

    Accepted specs are a subset of npm's: exact versions and ranges must be valid in node-semver's
    strict mode (npm's loose mode also takes `1.2.3beta` and drops junk like `foo` from
    `1.2.3 foo`), so what a profile says is what npm does.
    """
    text = raw.strip() if isinstance(raw, str) else ""
    if (
        not text
        or len(raw) > MAX_SPEC_LENGTH
        or re.search(r"[^\S ]", raw)  # newlines, tabs: only plain spaces separate comparators
        or not _SPEC_CHARS.match(text)
        or ".." in text
        or "|" in text.replace("||", "")
    ):
        raise ValueError(f"{raw!r} is not a version, dist-tag or npm range")
    if clean_version(text) is not None:
        return Spec(text, "exact")
    if _TAG.match(text) and not _RANGE_PART.search(text):
        # Every comparator of a range names a digit, x, X or *: without one this is no range, and
        # `latest` or `stable` need not compile node-semver's patterns (~10 ms per process).
        return Spec(text, "tag")
    if valid_range(text) and valid_range(text, loose=True):
        return Spec(text, "range")
    if _TAG.match(text) and not valid_range(text, loose=True):
        return Spec(text, "tag")
    raise ValueError(f"{raw!r} is not a version, dist-tag or npm range")


def is_exact(raw: str) -> bool:
    try:
        return parse_spec(raw).kind == "exact"
    except ValueError:
        return False
