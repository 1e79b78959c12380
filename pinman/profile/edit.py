"""Comment-keeping edits of TOML files: change a few keys, keep every other byte, write atomically.

`tomlkit` is imported only here, by the functions that write, so loading never pays for it. An
edit is validated before anything is written: a file is never left invalid.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from pinman.errors import ProfileError
from pinman.profile.model import KEYS, display_path, show
from pinman.profile.tomlfile import ProfileFileError, read_toml
from pinman.profile.validate import parse_profile


def update_profile(path: Path, changes: Mapping[str, object],
                   before_write: Callable[[bytes], object] | None = None) -> None:
    """Change values in a profile file, keeping everything else byte for byte.

    Keys are dotted (`"claude-code.version"`, `"env.ANTHROPIC_BASE_URL"`). A value of None removes
    the key. A list that extends the current array (e.g. one more `bad` entry) is appended to it,
    keeping the comments inside the array; any other list replaces it. New keys go after their
    neighbour in the documented order, new tables at the end. The result must be a valid profile,
    or nothing is written. A symlinked profile is edited where it points. `before_write` gets the
    new bytes just before they replace the file (trust uses it to expect pinman's own edit).
    """
    edit_toml(path, changes, lambda text: parse_profile(text, path), before_write)


def edit_toml(path: Path, changes: Mapping[str, object], validate: Callable[[str], object],
              before_write: Callable[[bytes], object] | None = None) -> None:
    """Apply dotted-key `changes` to the TOML file at `path` with tomlkit; atomic; validated first."""
    import tomlkit

    from pinman.state.fsutil import atomic_write

    real = path.resolve() if path.is_symlink() else path
    try:
        data = real.read_bytes()
        mode = real.stat().st_mode & 0o7777
    except OSError as e:
        raise ProfileFileError(path, None, None, f"cannot read: {e.strerror or e}") from None
    original = read_toml(data, path).text  # located syntax errors, before tomlkit sees it
    bom = "\ufeff" if data.startswith(b"\xef\xbb\xbf") else ""
    doc = tomlkit.parse(original)
    for dotted, value in changes.items():
        parts = tuple(dotted.split("."))
        if not all(parts):
            raise ProfileError(f"cannot change {show(dotted)}: not a dotted key like claude-code.version")
        _apply(doc, parts, value)
    text = tomlkit.dumps(doc)
    if "\r\n" in original and not re.search(r"(?<!\r)\n", original):
        text = re.sub(r"(?<!\r)\n", "\r\n", text)  # tomlkit writes new lines with \n only
    if text == original:
        return
    _check_encodable(path, text)
    validate(text)
    from pinman.faults import point

    if before_write is not None:
        before_write((bom + text).encode())
    point("toml.edit", real.name)
    atomic_write(real, bom + text, mode)


def _check_encodable(path: Path, text: str) -> None:
    """A TOML file is UTF-8: a value with a lone surrogate (undecodable bytes in a command-line
    argument arrive as those) cannot be written."""
    try:
        text.encode()
    except UnicodeEncodeError as e:
        bad = e.object[e.start:e.end]
        raise ProfileError(f"{display_path(path)}: cannot save a value holding {show(bad)}: not valid text",
                           hint="pass the value as UTF-8 text") from None


def _apply(doc: Any, parts: tuple[str, ...], value: object) -> None:
    import tomlkit

    container = doc
    for i, part in enumerate(parts[:-1]):
        if part not in container:
            if value is None:
                return  # removing a key under a table that does not exist: nothing to do
            if i:
                _add_table(container, part)
            else:
                container[part] = tomlkit.table()
        container = container[part]
        if not isinstance(container, dict):
            raise ProfileError(f"cannot set {'.'.join(parts)}: {'.'.join(parts[: i + 1])} is not a table")
    leaf = parts[-1]
    if value is None:
        if leaf in container:
            _remove(container, leaf)
        return
    if leaf in container:
        if not _extend_array(container[leaf], value):
            container[leaf] = _to_item(value)  # tomlkit keeps the key's place and trailing comment
        return
    _insert(container, parts[:-1], leaf, _to_item(value))


def _add_table(parent: Any, key: str) -> None:
    """Add an empty sub-table (`[claude-code.native]`) right after the parent's own keys.

    tomlkit would put it after the parent's trailing comments, which usually introduce the *next*
    table; those comments stay below the new table, after a blank line.
    """
    import tomlkit
    import tomlkit.items
    from tomlkit.container import Container

    if isinstance(parent, tomlkit.items.InlineTable):
        parent[key] = tomlkit.inline_table()  # `claude-code = { ... }` stays on its line
        return
    table = tomlkit.table()
    owner = parent.value if isinstance(parent, tomlkit.items.Table) else None
    if not isinstance(owner, Container) or parent.is_super_table():
        parent[key] = table  # a dotted-key parent: tomlkit writes it in its own style
        return
    body = owner.body
    keyed = [i for i, (k, _) in enumerate(body) if k is not None]
    at = (max(keyed) + 1) if keyed else 0
    while at < len(body) and isinstance(body[at][1], tomlkit.items.Comment):
        at += 1  # comments right below the last key belong to it
    table.trivia.indent = "\n"  # a blank line before the new header
    if at < len(body):
        owner._insert_at(at, key, table)
    else:
        parent[key] = table


def _remove(container: Any, key: str) -> None:
    """Delete `key`; a sub-table's trailing comments (after a blank line) stay in the file.

    tomlkit keeps the comments between a table's last key and the next header in that table, so
    deleting `[claude-code.native]` would also delete the comments that introduce the next table.
    """
    import tomlkit.items
    from tomlkit.container import Container

    item = container[key]
    owner = container.value if isinstance(container, tomlkit.items.Table) else container
    if not (isinstance(item, tomlkit.items.Table) and isinstance(owner, Container)
            and isinstance(item.value, Container)):
        del container[key]
        return
    body = item.value.body
    keyed = [i for i, (k, _) in enumerate(body) if k is not None]
    start = (max(keyed) + 1) if keyed else 0
    while start < len(body) and isinstance(body[start][1], tomlkit.items.Comment):
        start += 1  # comments right below the last key go with it
    tail = "".join(v.as_string() for _, v in body[start:])
    slot = next(i for i, (k, v) in enumerate(owner.body) if k is not None and k.key == key and v is item)
    del container[key]  # leaves a placeholder in the same slot
    if slot and isinstance(owner.body[slot - 1][1], tomlkit.items.Whitespace):
        tail = tail.lstrip("\n")  # the blank line before the removed header already separates
    if tail:
        owner.body[slot] = (None, tomlkit.items.Whitespace(tail))


def _extend_array(current: Any, value: object) -> bool:
    """Append to `current` in place when `value` is `current` plus more entries."""
    import tomlkit.items

    if not isinstance(current, tomlkit.items.Array) or not isinstance(value, list):
        return False
    old = current.unwrap()
    if not old or value[: len(old)] != old or len(value) == len(old):
        return False
    for entry in value[len(old):]:
        current.append(_to_item(entry))
    return True


def _to_item(value: object) -> Any:
    """A tomlkit item for a plain value; tables inside arrays are written inline and spaced."""
    import tomlkit

    if isinstance(value, dict):
        body = ", ".join(f"{_toml_key(k)} = {tomlkit.item(v).as_string()}" for k, v in value.items())
        return tomlkit.parse(f"x = {{ {body} }}" if body else "x = {}")["x"]
    if isinstance(value, list) and any(isinstance(v, dict) for v in value):
        arr = tomlkit.array()
        for v in value:
            arr.append(_to_item(v))
        arr.multiline(True)
        return arr
    return tomlkit.item(value)


def _toml_key(key: str) -> str:
    import tomlkit

    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else tomlkit.string(key).as_string()


def _insert(container: Any, table: tuple[str, ...], key: str, item: Any) -> None:
    """Add `key` to a table after its documented predecessor, else after the table's last key.

    Plain assignment would put it after the table's trailing blank lines and comments, which
    usually introduce the *next* table.
    """
    import tomlkit.items
    from tomlkit.container import Container

    body_owner = container.value if isinstance(container, tomlkit.items.Table) else container
    if not isinstance(body_owner, Container) or (
        isinstance(container, tomlkit.items.Table) and container.is_super_table()
    ):
        container[key] = item
        return
    body = body_owner.body
    order = KEYS.get(table, ())
    before = order[: order.index(key)] if key in order else ()
    keyed = [(i, k.key) for i, (k, v) in enumerate(body)
             if k is not None and not isinstance(v, (tomlkit.items.Table, tomlkit.items.AoT))]
    anchors = [i for i, name in keyed if name in before]
    if anchors or keyed:
        at = max(anchors or [i for i, _ in keyed]) + 1
    elif not table:
        at = len(body)  # top level: tomlkit itself puts a new key before the first table
    else:
        content = [i for i, (k, v) in enumerate(body) if not isinstance(v, tomlkit.items.Whitespace)]
        at = max(content) + 1 if content else 0
    neighbour = body[at - 1][1] if 0 < at <= len(body) else None
    if neighbour is not None and hasattr(neighbour, "trivia") and hasattr(item, "trivia"):
        item.trivia.indent = neighbour.trivia.indent  # an indented table stays indented
    if at >= len(body):
        container[key] = item
    else:
        body_owner._insert_at(at, key, item)
