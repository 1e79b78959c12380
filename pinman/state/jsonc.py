"""JSON with comments (VS Code's settings format): a strict reader and a byte-keeping editor of
one top-level key.

`set_member` and `remove_member` splice the text: every byte outside the member they touch
(comments, trailing commas, order, indentation, line endings, a BOM) stays as it was, and
`remove_member(set_member(t, k, v), k) == t` whenever `t` had no key `k` and its object had a
member already (an empty object gets a layout of pinman's choosing). A text that is not one JSON
object with comments and trailing commas is refused with `JsoncError`, which names the line;
nothing is ever half-edited. Parsing is iterative, so no nesting depth raises RecursionError.
"""

from __future__ import annotations

import json
import re
from typing import Any

from pinman.record import record

_WS = " \t\r\n"
_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
_LITERALS = ("true", "false", "null")


class JsoncError(ValueError):
    """The text is not JSON with comments: `line` (1-based) is where reading stopped."""

    def __init__(self, text: str, pos: int, message: str) -> None:
        self.line = text.count("\n", 0, min(pos, len(text))) + 1
        self.message = message
        super().__init__(f"line {self.line}: {message}")


@record
class Member:
    key: str
    key_start: int
    value_start: int
    value_end: int
    comma: int | None  # the comma after the value, when there is one


@record
class TopLevel:
    """The top-level object (`open` is None when the text holds only whitespace and comments)."""

    open: int | None
    close: int | None
    members: tuple[Member, ...]

    def last(self, key: str) -> Member | None:
        """The member an editor reads: the last of that name."""
        return next((m for m in reversed(self.members) if m.key == key), None)


def loads(text: str) -> Any:
    """The value of JSON with comments and trailing commas; JsoncError otherwise (any JSON value)."""
    end = _value_end(text, _skip(text, _start(text)))
    if _skip(text, end) != len(text):
        raise JsoncError(text, _skip(text, end), "text after the JSON value")
    return _decode(text, _plain(text))


def parse(text: str) -> TopLevel:
    """The top-level object's members with their places in `text`."""
    i = _skip(text, _start(text))
    if i == len(text):
        return TopLevel(None, None, ())
    if text[i] != "{":
        raise JsoncError(text, i, "not a JSON object")
    opened, members = i, []
    i = _skip(text, i + 1)
    while i < len(text) and text[i] != "}":
        member, i = _member(text, i)
        members.append(member)
    if i >= len(text):
        raise JsoncError(text, i, "the object is not closed")
    if _skip(text, i + 1) != len(text):
        raise JsoncError(text, _skip(text, i + 1), "text after the closing brace")
    return TopLevel(opened, i, tuple(members))


def value_of(text: str, key: str) -> Any:
    """The value of top-level `key` (the last one), or None when absent."""
    m = parse(text).last(key)
    return None if m is None else _decode(text, _plain(text[m.value_start:m.value_end]), m.value_start)


def set_member(text: str, key: str, value: Any) -> str:
    """`text` with top-level `key` set to `value` (replaced in place, else added after the last member)."""
    top = parse(text)
    encoded = json.dumps(value, ensure_ascii=False)
    found = top.last(key)
    if found is not None:
        return text[:found.value_start] + encoded + text[found.value_end:]
    member = f"{json.dumps(key, ensure_ascii=False)}: {encoded}"
    nl = "\r\n" if "\r\n" in text else "\n"
    if top.open is None:
        sep = "" if not text or text.endswith("\n") else nl
        return f"{text}{sep}{{{nl}    {member}{nl}}}{nl}"
    if not top.members:
        return _into_empty(text, top, member, nl)
    return _after_last(text, top.members[-1], member, nl)


def remove_member(text: str, key: str) -> str:
    """`text` without top-level `key` (its last occurrence), its separator and its line."""
    top = parse(text)
    m = top.last(key)
    if m is None:
        return text
    index = top.members.index(m)
    prev = top.members[index - 1] if index else None
    assert top.open is not None
    start, end = _removal_span(text, top.open, prev, m)
    out = text[:start] + text[end:]
    if m.comma is None and prev is not None and prev.comma is not None and prev.comma < start:
        out = out[:prev.comma] + out[prev.comma + 1:]  # the separator before a last member goes with it
    return out


# -- editing ---------------------------------------------------------------------------------------------
def _after_last(text: str, last: Member, member: str, nl: str) -> str:
    """Add `member` after `last`, in its style: on a line of its own with its indentation, or inline."""
    indent = _own_line_indent(text, last.key_start)
    if last.comma is not None:
        if indent is None:
            return text[:last.comma + 1] + f" {member}," + text[last.comma + 1:]
        at = _line_end(text, last.comma + 1)
        return text[:at] + f"{nl}{indent}{member}," + text[at:]
    if indent is None:
        return text[:last.value_end] + f", {member}" + text[last.value_end:]
    at = _line_end(text, last.value_end)
    return text[:last.value_end] + "," + text[last.value_end:at] + f"{nl}{indent}{member}" + text[at:]


def _into_empty(text: str, top: TopLevel, member: str, nl: str) -> str:
    assert top.open is not None and top.close is not None
    inside = text[top.open + 1:top.close]
    indent = "\t" if "\n\t" in text else "    "
    if not inside.strip(_WS):  # nothing but whitespace: pinman's own layout
        return f"{text[:top.open + 1]}{nl}{indent}{member}{nl}{text[top.close:]}"
    line_start = text.rfind("\n", 0, top.close) + 1
    if not text[line_start:top.close].strip(" \t"):  # `}` opens its line: the member goes above it
        return f"{text[:line_start]}{indent}{member}{nl}{text[line_start:]}"
    return f"{text[:top.close]} {member} {text[top.close:]}"


def _removal_span(text: str, opened: int, prev: Member | None, m: Member) -> tuple[int, int]:
    end = m.comma + 1 if m.comma is not None else m.value_end
    if _own_line_indent(text, m.key_start) is not None:
        line_start = text.rfind("\n", 0, m.key_start) + 1
        start = line_start - 1
        if start > 0 and text[start - 1] == "\r":
            start -= 1
        return start, end
    if m.comma is None:
        return (prev.comma, end) if prev is not None and prev.comma is not None else (opened + 1, end)
    if prev is not None and prev.comma is not None:
        return prev.comma + 1, end
    while end < len(text) and text[end] in " \t":
        end += 1
    return opened + 1, end


def _own_line_indent(text: str, pos: int) -> str | None:
    """The spaces and tabs before `pos` when only they are between it and a line break, else None."""
    line_start = text.rfind("\n", 0, pos) + 1
    before = text[line_start:pos]
    if line_start == 0 or before.strip(" \t"):
        return None
    return before


def _line_end(text: str, pos: int) -> int:
    """Where a member can go after `pos` on the same line: past spaces and comments that end on
    this line, at its line break; `pos` itself when something else comes first."""
    i = pos
    while i < len(text):
        if text[i] in " \t":
            i += 1
        elif text.startswith("//", i):
            j = text.find("\n", i)
            i = len(text) if j == -1 else j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            if j == -1 or "\n" in text[i:j]:
                break
            i = j + 2
        else:
            break
    return i if i == len(text) or text[i] in "\r\n" else pos


# -- reading -----------------------------------------------------------------------------------------
def _start(text: str) -> int:
    return 1 if text.startswith("\ufeff") else 0


def _skip(text: str, i: int) -> int:
    """Past whitespace and comments."""
    n = len(text)
    while i < n:
        c = text[i]
        if c in _WS:
            i += 1
        elif text.startswith("//", i):
            j = text.find("\n", i)
            i = n if j == -1 else j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            if j == -1:
                raise JsoncError(text, i, "a /* comment is not closed")
            i = j + 2
        else:
            break
    return i


def _member(text: str, i: int) -> tuple[Member, int]:
    """One `"key": value` of the top-level object, and where the next one (or `}`) starts."""
    key_start = i
    key_end = _string_end(text, i)
    key = json.loads(text[key_start:key_end])
    i = _skip(text, key_end)
    if i >= len(text) or text[i] != ":":
        raise JsoncError(text, i, f"expected ':' after the key {key!r}")
    value_start = _skip(text, i + 1)
    value_end = _value_end(text, value_start)
    i = _skip(text, value_end)
    comma = None
    if i < len(text) and text[i] == ",":
        comma, i = i, _skip(text, i + 1)
    elif i >= len(text) or text[i] != "}":
        raise JsoncError(text, i, "expected ',' or '}' after a value")
    return Member(key, key_start, value_start, value_end, comma), i


def _string_end(text: str, i: int) -> int:
    if i >= len(text) or text[i] != '"':
        raise JsoncError(text, i, "expected a string")
    j = i + 1
    while j < len(text):
        c = text[j]
        if c == '"':
            return j + 1
        if c == "\\":
            if text[j + 1:j + 2] == "u":
                if not re.fullmatch(r"[0-9a-fA-F]{4}", text[j + 2:j + 6]):
                    raise JsoncError(text, j, "a bad \\u escape in a string")
                j += 6
                continue
            if text[j + 1:j + 2] not in tuple('"\\/bfnrt'):
                raise JsoncError(text, j, "a bad escape in a string")
            j += 2
            continue
        if c < " ":
            raise JsoncError(text, j, "a control character in a string")
        j += 1
    raise JsoncError(text, i, "a string is not closed")


def _scalar_end(text: str, i: int) -> int:
    if i >= len(text):
        raise JsoncError(text, i, "expected a value")
    if text[i] == '"':
        return _string_end(text, i)
    for word in _LITERALS:
        if text.startswith(word, i):
            return i + len(word)
    m = _NUMBER.match(text, i)
    if m is None:
        raise JsoncError(text, i, "expected a value")
    return m.end()


def _value_end(text: str, i: int) -> int:
    """Just past the value at `i` (nested containers walked with a stack, not recursion)."""
    stack: list[str] = []
    while True:
        i = _skip(text, i)
        c = text[i:i + 1]
        if c in ("{", "["):
            closer = "}" if c == "{" else "]"
            i = _skip(text, i + 1)
            if text[i:i + 1] != closer:
                stack.append(closer)
                if c == "{":
                    i = _key_colon(text, i)
                continue  # the container's first value
            i += 1
        else:
            i = _scalar_end(text, i)
        i = _close_containers(text, i, stack)
        if not stack:
            return i


def _key_colon(text: str, i: int) -> int:
    i = _skip(text, _string_end(text, _skip(text, i)))
    if text[i:i + 1] != ":":
        raise JsoncError(text, i, "expected ':' after a key")
    return i + 1


def _close_containers(text: str, i: int, stack: list[str]) -> int:
    """After a value: close the containers it finished; stop where the next value starts."""
    while stack:
        i = _skip(text, i)
        c = text[i:i + 1]
        if c == stack[-1]:
            stack.pop()
            i += 1
            continue
        if c != ",":
            raise JsoncError(text, i, f"expected ',' or '{stack[-1]}'")
        i = _skip(text, i + 1)
        if text[i:i + 1] == stack[-1]:  # a trailing comma
            continue
        return _key_colon(text, i) if stack[-1] == "}" else i
    return i


def _decode(text: str, plain: str, at: int = 0) -> Any:
    try:
        return json.loads(plain)
    except RecursionError:
        raise JsoncError(text, at, "nested too deeply") from None


def _plain(text: str) -> str:
    """Comments to spaces and trailing commas dropped: text `json.loads` reads (already validated)."""
    out: list[str] = []
    i, n = _start(text), len(text)
    while i < n:
        c = text[i]
        if c == '"':
            j = _string_end(text, i)
            out.append(text[i:j])
            i = j
        elif text.startswith("//", i) or text.startswith("/*", i):
            j = _skip(text, i)
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif c == "," and _skip(text, i + 1) < n and text[_skip(text, i + 1)] in "}]":
            out.append(" ")
            i += 1
        else:
            out.append(c)
            i += 1
    return "".join(out)
