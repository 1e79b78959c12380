"""The JSONC editor: one top-level key set or removed, every other byte kept; hostile text refused
with its line, never a traceback."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hostile_support import PROPERTY
from hypothesis import given
from hypothesis import strategies as st

from pinman.state.jsonc import JsoncError, loads, parse, remove_member, set_member, value_of

K = "claudeCode.claudeProcessWrapper"
V = "/home/me/.local/share/pinman/bin/claude"

VSCODE = """{
    // Appearance
    "editor.fontSize": 13, // my eyes
    /* the files I never want to see */
    "files.exclude": {
        "**/.git": true,
        "**/node_modules": true, // big
    },
    "terminal.integrated.env.linux": {"PATH": "/opt/x//bin"},
}
"""


def test_a_vscode_file_gets_one_line_and_loses_it_again() -> None:
    new = set_member(VSCODE, K, V)
    assert new == VSCODE.replace('"/opt/x//bin"},\n', f'"/opt/x//bin"}},\n    "{K}": "{V}",\n')
    assert loads(new) == {**loads(VSCODE), K: V}
    assert remove_member(new, K) == VSCODE


@pytest.mark.parametrize("text, expected", [
    ('{"a": 1}', '{"a": 1, "K": "v"}'),
    ('{"a": 1,}', '{"a": 1, "K": "v",}'),
    ('{\n  "a": 1 // one\n}\n', '{\n  "a": 1, // one\n  "K": "v"\n}\n'),
    ('{\n  "a": 1, /* two\n  lines */\n}', '{\n  "a": 1,\n  "K": "v", /* two\n  lines */\n}'),
    ('{\r\n\t"a": 1\r\n}\r\n', '{\r\n\t"a": 1,\r\n\t"K": "v"\r\n}\r\n'),
    ('\ufeff{\n  "a": 1\n}', '\ufeff{\n  "a": 1,\n  "K": "v"\n}'),
    ('{\n  "a": "x // not a comment", "b": 2\n}', '{\n  "a": "x // not a comment", "b": 2, "K": "v"\n}'),
])
def test_the_member_follows_the_files_own_style_and_goes_back_exactly(text: str, expected: str) -> None:
    assert set_member(text, "K", "v") == expected
    assert remove_member(expected, "K") == text


@pytest.mark.parametrize("text, expected", [
    ("", '{\n    "K": "v"\n}\n'),
    ("{}", '{\n    "K": "v"\n}'),
    ("// nothing yet\n", '// nothing yet\n{\n    "K": "v"\n}\n'),
    ("{\n    // all mine\n}", '{\n    // all mine\n    "K": "v"\n}'),
])
def test_an_empty_file_or_object_gets_the_member(text: str, expected: str) -> None:
    assert set_member(text, "K", "v") == expected
    assert value_of(expected, "K") == "v"


def test_an_existing_value_is_replaced_in_place_the_last_of_duplicates() -> None:
    text = '{\n  "K": "first", // old\n  "K": "/usr/bin/wrap" /* mine */\n}'
    new = set_member(text, "K", "v")
    assert new == '{\n  "K": "first", // old\n  "K": "v" /* mine */\n}'
    assert value_of(new, "K") == "v"  # what the editor reads: the last
    assert set_member(new, "K", "/usr/bin/wrap") == text


def test_removal_of_a_member_the_user_wrote() -> None:
    text = '{\n  "K": "v",\n  "a": 1\n}'
    assert remove_member(text, "K") == '{\n  "a": 1\n}'
    assert remove_member('{"K": "v", "a": 1}', "K") == '{"a": 1}'
    assert remove_member('{"a": 1, "K": "v", "b": 2}', "K") == '{"a": 1, "b": 2}'
    assert remove_member('{"a": 1}', "K") == '{"a": 1}'


@pytest.mark.parametrize("text, line, message", [
    ('{\n  "a": 1,,\n}', 2, "expected a string"),
    ('{\n  "a": 1\n  "b": 2\n}', 3, "expected ',' or '}' after a value"),
    ("[1, 2]", 1, "not a JSON object"),
    ('{"a": 1}\n{"b": 2}', 2, "text after the closing brace"),
    ('{\n  "a": /* open', 2, "a /* comment is not closed"),
    ('{\n\n  "a": "x\ny"}', 3, "a control character in a string"),
    ('{"a": tru}', 1, "expected a value"),
    ('{"a": [1, 2}', 1, "expected ',' or ']'"),
    ('{"a": 1', 1, "expected ',' or '}' after a value"),
    ("{" * 50_000, 1, "expected a string"),
])
def test_what_it_cannot_read_is_refused_with_its_line(text: str, line: int, message: str) -> None:
    for edit in (parse, lambda t: set_member(t, K, V), lambda t: remove_member(t, K)):
        with pytest.raises(JsoncError) as e:
            edit(text)
        assert (e.value.line, e.value.message) == (line, message)


def test_deep_nesting_is_read_without_recursion() -> None:
    deep = '{"a": ' + "[" * 100_000 + "]" * 100_000 + "}"
    assert set_member(deep, K, V).endswith(f', "{K}": "{V}"}}')
    with pytest.raises(JsoncError, match="nested too deeply"):
        loads(deep)


# -- properties --------------------------------------------------------------------------------------------
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6), st.text(max_size=12),
                    st.sampled_from(["// no", "/* no */", '"q"', "\\", "a,}", "\u2028"]))
VALUES = st.recursive(SCALARS, lambda c: st.one_of(st.lists(c, max_size=3),
                                                   st.dictionaries(st.text(max_size=5), c, max_size=3)),
                      max_leaves=8)
KEYS = st.text(max_size=10).filter(lambda k: k != K)


@st.composite
def documents(draw: Any) -> str:
    """A settings file in one of the styles people and editors write."""
    members = draw(st.dictionaries(KEYS, VALUES, min_size=1, max_size=6))
    nl = draw(st.sampled_from(["\n", "\r\n"]))
    trailing = draw(st.booleans())
    notes = draw(st.lists(st.sampled_from(["", " // note", " /* note */", ' // "quoted" }']),
                          min_size=len(members), max_size=len(members)))
    items = [f"{json.dumps(k)}: {json.dumps(v)}" for k, v in members.items()]
    head = draw(st.sampled_from(["", "\ufeff", "// settings" + nl, "/* a\nb */ "]))
    if draw(st.booleans()):  # inline
        return head + "{" + ", ".join(items) + ("," if trailing else "") + "}" + draw(st.sampled_from(["", nl]))
    indent = draw(st.sampled_from(["  ", "    ", "\t"]))
    lines = [f"{indent}{item}{',' if i < len(items) - 1 or trailing else ''}{notes[i]}"
             for i, item in enumerate(items)]
    return head + "{" + nl + nl.join(lines) + nl + "}" + draw(st.sampled_from(["", nl]))


@PROPERTY
@given(documents(), VALUES)
def test_set_then_remove_gives_back_every_byte(text: str, value: Any) -> None:
    new = set_member(text, K, value)
    assert loads(new) == {**loads(text), K: value}
    assert remove_member(new, K) == text
    assert set_member(new, K, V) == set_member(text, K, V)  # a value is replaced in place


JSONISH = st.lists(st.sampled_from(['{', '}', '[', ']', ',', ':', '"', '"a"', '"b"', "1", "-0.5e3", "true",
                                    "null", " ", "\n", "\r\n", "//", "/*", "*/", "\\", "\\u00e9", "\t", "\x00",
                                    "\ufeff", "é", "x"]), max_size=30).map("".join)


@PROPERTY
@given(st.one_of(JSONISH, st.text(max_size=40), documents().map(lambda d: d[:len(d) // 2])))
def test_hostile_text_is_edited_right_or_refused_with_a_line(text: str) -> None:
    try:
        new = set_member(text, K, V)
    except JsoncError as e:
        assert 1 <= e.line <= text.count("\n") + 1
        assert e.message and "\n" not in str(e)
        return
    assert value_of(new, K) == V
    parse(remove_member(new, K))
