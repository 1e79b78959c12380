"""node-semver 7.8, ported rule for rule: versions, their order, ranges and `satisfies`.

pinman must land on the version `npm install` lands on without running npm, so version and range
semantics are npm's own, not an approximation. The regular expressions below are node-semver's,
token for token, so edge cases (`2.x.1` is not a range, `1.2.3 - 2` is `>=1.2.3 <3.0.0-0`) agree.
"""

from __future__ import annotations

import re
from functools import lru_cache

from pinman.names import clean_version
from pinman.record import record

_MAX_LENGTH = 256  # node-semver refuses longer version strings
_MAX_SAFE_INTEGER = 2**53 - 1


# --- node-semver's grammar (internal/re.js) -------------------------------------------------

_NUM = r"0|[1-9]\d*"
_NUM_LOOSE = r"\d+"
_NONNUM = r"\d*[a-zA-Z-][a-zA-Z0-9-]*"
_MAIN = rf"({_NUM})\.({_NUM})\.({_NUM})"
_MAIN_LOOSE = rf"({_NUM_LOOSE})\.({_NUM_LOOSE})\.({_NUM_LOOSE})"
_PRE_ID = rf"(?:{_NONNUM}|{_NUM})"
_PRE_ID_LOOSE = rf"(?:{_NONNUM}|{_NUM_LOOSE})"
_PRE = rf"(?:-({_PRE_ID}(?:\.{_PRE_ID})*))"
_PRE_LOOSE = rf"(?:-?({_PRE_ID_LOOSE}(?:\.{_PRE_ID_LOOSE})*))"
_BUILD_ID = r"[a-zA-Z0-9-]+"
_BUILD = rf"(?:\+({_BUILD_ID}(?:\.{_BUILD_ID})*))"
_FULLPLAIN = rf"v?{_MAIN}{_PRE}?{_BUILD}?"
_LOOSEPLAIN = rf"[v=\s]*{_MAIN_LOOSE}{_PRE_LOOSE}?{_BUILD}?"
_GTLT = r"((?:<|>)?=?)"
_XID = rf"{_NUM}|x|X|\*"
_XID_LOOSE = rf"{_NUM_LOOSE}|x|X|\*"
_XPLAIN = rf"[v=\s]*({_XID})(?:\.({_XID})(?:\.({_XID})(?:{_PRE})?{_BUILD}?)?)?"
_XPLAIN_LOOSE = (
    rf"[v=\s]*({_XID_LOOSE})(?:\.({_XID_LOOSE})(?:\.({_XID_LOOSE})(?:{_PRE_LOOSE})?{_BUILD}?)?)?"
)


_SRC = {
    "FULL": rf"^{_FULLPLAIN}$",
    "LOOSE": rf"^{_LOOSEPLAIN}$",
    "XRANGE": rf"^{_GTLT}\s*{_XPLAIN}$",
    "XRANGELOOSE": rf"^{_GTLT}\s*{_XPLAIN_LOOSE}$",
    "TILDETRIM": r"(\s*)(?:~>?)\s+",
    "TILDE": rf"^(?:~>?){_XPLAIN}$",
    "TILDELOOSE": rf"^(?:~>?){_XPLAIN_LOOSE}$",
    "CARETTRIM": r"(\s*)(?:\^)\s+",
    "CARET": rf"^(?:\^){_XPLAIN}$",
    "CARETLOOSE": rf"^(?:\^){_XPLAIN_LOOSE}$",
    "COMPARATORLOOSE": rf"^{_GTLT}\s*({_LOOSEPLAIN})$|^$",
    "COMPARATOR": rf"^{_GTLT}\s*({_FULLPLAIN})$|^$",
    "COMPARATORTRIM": rf"(\s*){_GTLT}\s*({_LOOSEPLAIN}|{_XPLAIN})",
    "HYPHENRANGE": rf"^\s*({_XPLAIN})\s+-\s+({_XPLAIN})\s*$",
    "HYPHENRANGELOOSE": rf"^\s*({_XPLAIN_LOOSE})\s+-\s+({_XPLAIN_LOOSE})\s*$",
    "STAR": r"(<|>)?=?\s*\*",
    "GTE0": r"^\s*>=\s*0\.0\.0\s*$",
    "GTE0PRE": r"^\s*>=\s*0\.0\.0-0\s*$",
    "BUILD": _BUILD,
}


@lru_cache(maxsize=None)
def _rx(name: str) -> re.Pattern[str]:
    # Compiled on first use: `pinman --help` should not pay ~10 ms for patterns it never needs.
    # ASCII: JavaScript's \d and \s do not match other scripts' digits the way Python's do.
    return re.compile(_SRC[name], re.ASCII)


# --- versions (classes/semver.js) -----------------------------------------------------------

PreId = int | str


@record
class SemVer:
    major: int
    minor: int
    patch: int
    prerelease: tuple[PreId, ...] = ()

    @property
    def version(self) -> str:
        core = f"{self.major}.{self.minor}.{self.patch}"
        return core + ("-" + ".".join(str(p) for p in self.prerelease) if self.prerelease else "")

    def __str__(self) -> str:
        return self.version


@lru_cache(maxsize=4096)  # picking a range parses each published version many times over
def parse_version(raw: str, *, loose: bool = False) -> SemVer | None:
    """node-semver's `parse`: None for anything that is not a version."""
    if len(raw) > _MAX_LENGTH:
        return None
    m = _rx("LOOSE" if loose else "FULL").match(raw.strip())
    if not m:
        return None
    major, minor, patch = int(m[1]), int(m[2]), int(m[3])
    if max(major, minor, patch) > _MAX_SAFE_INTEGER:
        return None
    pre: tuple[PreId, ...] = ()
    if m[4]:
        pre = tuple(_numberify(p) for p in m[4].split("."))
    return SemVer(major, minor, patch, pre)


def _numberify(ident: str) -> PreId:
    if ident.isdigit() and int(ident) < _MAX_SAFE_INTEGER:
        return int(ident)
    return ident


def _compare_ids(a: PreId, b: PreId) -> int:
    anum = isinstance(a, int) or a.isdigit()
    bnum = isinstance(b, int) or b.isdigit()
    if anum and bnum:
        x, y = int(a), int(b)
        return (x > y) - (x < y)
    if anum != bnum:
        return -1 if anum else 1  # numeric identifiers sort before alphanumeric ones
    sa, sb = str(a), str(b)
    return (sa > sb) - (sa < sb)


def compare(a: SemVer, b: SemVer) -> int:
    main = (a.major, a.minor, a.patch), (b.major, b.minor, b.patch)
    if main[0] != main[1]:
        return -1 if main[0] < main[1] else 1
    if not a.prerelease or not b.prerelease:
        # a release sorts after any of its prereleases
        return (not a.prerelease) - (not b.prerelease)
    for x, y in zip(a.prerelease, b.prerelease):
        if x != y:
            c = _compare_ids(x, y)
            if c:
                return c
    return (len(a.prerelease) > len(b.prerelease)) - (len(a.prerelease) < len(b.prerelease))


# --- ranges (classes/range.js, classes/comparator.js) ---------------------------------------


@record
class Comparator:
    operator: str  # "", "<", "<=", ">", ">="
    semver: SemVer | None  # None: matches anything

    @property
    def value(self) -> str:
        return "" if self.semver is None else self.operator + self.semver.version

    def test(self, v: SemVer) -> bool:
        if self.semver is None:
            return True
        c = compare(v, self.semver)
        return {"": c == 0, ">": c > 0, ">=": c >= 0, "<": c < 0, "<=": c <= 0}[self.operator]


_NULL_SET = "<0.0.0-0"


def _comparator(comp: str, loose: bool) -> Comparator:
    m = _rx("COMPARATORLOOSE" if loose else "COMPARATOR").match(comp)
    if not m:
        raise ValueError(f"Invalid comparator: {comp}")
    op = m[1] or ""
    if op == "=":
        op = ""
    if not m[2]:
        return Comparator(op, None)
    v = parse_version(m[2], loose=loose)
    if v is None:
        raise ValueError(f"Invalid comparator: {comp}")
    return Comparator(op, v)


@lru_cache(maxsize=2048)
def parse_range(raw: str, *, loose: bool = False, include_prerelease: bool = False) -> tuple[
    tuple[Comparator, ...], ...
]:
    """node-semver's `new Range(raw)`: comparator sets joined by `||`; ValueError if invalid."""
    text = " ".join(raw.split())
    sets = [_parse_set(part.strip(), loose, include_prerelease) for part in text.split("||")]
    sets = [s for s in sets if s]
    if not sets:
        raise ValueError(f"Invalid SemVer Range: {text}")
    if len(sets) > 1:
        kept = [s for s in sets if s[0].value != _NULL_SET]
        sets = kept or sets[:1]
        for s in sets:
            if len(s) == 1 and s[0].value == "":
                sets = [s]
                break
    return tuple(sets)


def _parse_set(text: str, loose: bool, incpr: bool) -> tuple[Comparator, ...]:
    text = _rx("BUILD").sub("", text)
    text = _rx("HYPHENRANGELOOSE" if loose else "HYPHENRANGE").sub(
        lambda m: _hyphen(m, incpr), text, count=1
    )
    text = _rx("COMPARATORTRIM").sub(r"\1\2\3", text)
    text = _rx("TILDETRIM").sub(r"\1~", text)
    text = _rx("CARETTRIM").sub(r"\1^", text)
    # JavaScript's split keeps empty strings ("" -> [""]): an empty part means "any version".
    comps = re.split(r"\s+", " ".join(_desugar(c, loose, incpr) for c in text.split(" ")))
    comps = [_rx("GTE0PRE" if incpr else "GTE0").sub("", c.strip(), count=1) for c in comps]
    if loose:  # loose mode silently drops what is not a comparator
        comps = [c for c in comps if _rx("COMPARATORLOOSE").match(c)]
    out: dict[str, Comparator] = {}
    for c in comps:
        cmp_ = _comparator(c, loose)
        if cmp_.value == _NULL_SET:
            return (cmp_,)
        out[cmp_.value] = cmp_
    if len(out) > 1:
        out.pop("", None)
    return tuple(out.values())


def _desugar(comp: str, loose: bool, incpr: bool) -> str:
    comp = _rx("BUILD").sub("", comp, count=1)
    comp = " ".join(_caret(c, loose, incpr) for c in comp.split())
    comp = " ".join(_tilde(c, loose, incpr) for c in comp.split())
    comp = " ".join(_xrange(c, loose, incpr) for c in comp.split())
    return _rx("STAR").sub("", comp.strip(), count=1)


def _isx(part: str | None) -> bool:
    return not part or part.lower() == "x" or part == "*"


def _tilde(comp: str, loose: bool, incpr: bool) -> str:
    z = "-0" if incpr else ""

    def repl(m: re.Match[str]) -> str:
        M, mi, p, pr = m[1], m[2], m[3], m[4]
        if _isx(M):
            return ""
        if _isx(mi):
            return f">={M}.0.0{z} <{int(M) + 1}.0.0-0"
        if _isx(p):
            return f">={M}.{mi}.0{z} <{M}.{int(mi) + 1}.0-0"
        lo = f"{M}.{mi}.{p}" + (f"-{pr}" if pr else "")
        return f">={lo} <{M}.{int(mi) + 1}.0-0"

    return _rx("TILDELOOSE" if loose else "TILDE").sub(repl, comp, count=1)


def _caret(comp: str, loose: bool, incpr: bool) -> str:
    z = "-0" if incpr else ""

    def repl(m: re.Match[str]) -> str:
        M, mi, p, pr = m[1], m[2], m[3], m[4]
        if _isx(M):
            return ""
        if _isx(mi):
            return f">={M}.0.0{z} <{int(M) + 1}.0.0-0"
        if _isx(p):
            hi = f"{M}.{int(mi) + 1}.0-0" if M == "0" else f"{int(M) + 1}.0.0-0"
            return f">={M}.{mi}.0{z} <{hi}"
        lo = f"{M}.{mi}.{p}" + (f"-{pr}" if pr else "")  # node-semver 7.7+: no `-0` here
        if M == "0":
            hi = f"{M}.{mi}.{int(p) + 1}-0" if mi == "0" else f"{M}.{int(mi) + 1}.0-0"
        else:
            hi = f"{int(M) + 1}.0.0-0"
        return f">={lo} <{hi}"

    return _rx("CARETLOOSE" if loose else "CARET").sub(repl, comp, count=1)


def _xrange(comp: str, loose: bool, incpr: bool) -> str:
    comp = comp.strip()

    def repl(m: re.Match[str]) -> str:
        gtlt, M, mi, p = m[1], m[2], m[3], m[4]
        if (_isx(M) and not _isx(mi)) or (_isx(mi) and p and not _isx(p)):
            return comp  # `x.2.3`, `2.x.1`: not an x-range, left for the comparator check
        xM = _isx(M)
        xm = xM or _isx(mi)
        xp = xm or _isx(p)
        if gtlt == "=" and xp:
            gtlt = ""
        pr = "-0" if incpr else ""
        if xM:
            return _NULL_SET if gtlt in (">", "<") else "*"
        if gtlt and xp:
            Mi, mn, pt = int(M), 0 if xm else int(mi), 0
            if gtlt == ">":
                gtlt = ">="
                Mi, mn = (Mi + 1, 0) if xm else (Mi, mn + 1)
            elif gtlt == "<=":
                gtlt = "<"
                Mi, mn = (Mi + 1, mn) if xm else (Mi, mn + 1)
            if gtlt == "<":
                pr = "-0"
            return f"{gtlt}{Mi}.{mn}.{pt}{pr}"
        if xm:
            return f">={M}.0.0{pr} <{int(M) + 1}.0.0-0"
        if xp:
            return f">={M}.{mi}.0{pr} <{M}.{int(mi) + 1}.0-0"
        return m[0]

    return _rx("XRANGELOOSE" if loose else "XRANGE").sub(repl, comp, count=1)


def _hyphen(m: re.Match[str], incpr: bool) -> str:
    frm, fM, fm, fp, fpr = m[1], m[2], m[3], m[4], m[5]
    to, tM, tm, tp, tpr = m[7], m[8], m[9], m[10], m[11]
    z = "-0" if incpr else ""
    if _isx(fM):
        lo = ""
    elif _isx(fm):
        lo = f">={fM}.0.0{z}"
    elif _isx(fp):
        lo = f">={fM}.{fm}.0{z}"
    else:
        lo = f">={frm}" + ("" if fpr else z)
    if _isx(tM):
        hi = ""
    elif _isx(tm):
        hi = f"<{int(tM) + 1}.0.0-0"
    elif _isx(tp):
        hi = f"<{tM}.{int(tm) + 1}.0-0"
    elif tpr:
        hi = f"<={tM}.{tm}.{tp}-{tpr}"
    elif incpr:
        hi = f"<{tM}.{tm}.{int(tp) + 1}-0"
    else:
        hi = f"<={to}"
    return f"{lo} {hi}".strip()


def _test_set(comps: tuple[Comparator, ...], v: SemVer, incpr: bool) -> bool:
    if not all(c.test(v) for c in comps):
        return False
    if v.prerelease and not incpr:
        # A prerelease only matches when the range itself names a prerelease of the same
        # [major, minor, patch]: `^1.2.3-pr.1` admits 1.2.3-pr.2 but not 1.2.4-alpha.
        return any(
            c.semver is not None
            and c.semver.prerelease
            and (c.semver.major, c.semver.minor, c.semver.patch) == (v.major, v.minor, v.patch)
            for c in comps
        )
    return True


def satisfies(
    version: str, range_: str, include_prerelease: bool = False, *, loose: bool = False
) -> bool:
    """node-semver's `satisfies`: False (not an error) for an invalid version or range."""
    try:
        sets = parse_range(range_, loose=loose, include_prerelease=include_prerelease)
    except ValueError:
        return False
    v = parse_version(version, loose=loose)
    if v is None:
        return False
    return any(_test_set(s, v, include_prerelease) for s in sets)


def valid_range(raw: str, *, loose: bool = False) -> bool:
    try:
        parse_range(raw, loose=loose)
    except ValueError:
        return False
    return True


def clean(raw: str, *, loose: bool = False) -> str | None:
    """node-semver's `clean`: `=v1.2.3 ` -> `1.2.3`. Strict mode is `pinman.names.clean_version`,
    a plain string rule every layer can use; loose mode (`1.2.3beta`) needs the parser."""
    if not loose:
        return clean_version(raw)
    v = parse_version(re.sub(r"^[=v]+", "", raw.strip()), loose=loose)
    return v.version if v else None

