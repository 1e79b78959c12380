"""Reading a TOML file so that every error names its file and line: `file:line: key: problem`.

tomllib reports lines only for syntax errors; `key_lines` scans the text for the line of every key
so a semantic error (a bad version, an unknown key) points at it too. Uses stdlib `tomllib` only:
it runs on every `pinman current`.
"""

from __future__ import annotations

import bisect
import re
import tomllib
from pathlib import Path
from typing import Any, NoReturn

from pinman.errors import ProfileError
from pinman.profile.model import KeyPath, display_path, format_key, printable


class ProfileFileError(ProfileError):
    """A profile or project file that does not parse or validate: `file:line: key: problem`."""

    def __init__(self, path: Path, line: int | None, key: str | None, problem: str,
                 hint: str | None = None, *, column: int | None = None) -> None:
        self.path = path
        self.line = line
        self.key = key
        self.problem = problem
        where = display_path(path) + (f":{line}" if line else "") + (f":{column}" if line and column else "")
        message = f"{where}: {key}: {problem}" if key else f"{where}: {problem}"
        super().__init__(printable(message), hint)


class TomlFile:
    """A parsed TOML file plus what it takes to point at one of its keys in an error."""

    def __init__(self, path: Path, text: str, data: dict[str, Any]) -> None:
        self.path = path
        self.text = text
        self.data = data
        self._lines: dict[KeyPath, int] | None = None

    def line_of(self, key: KeyPath) -> int | None:
        """Line of `key`, or of its nearest enclosing key or table that is written out."""
        if self._lines is None:
            self._lines = key_lines(self.text)
        for n in range(len(key), 0, -1):
            if key[:n] in self._lines:
                return self._lines[key[:n]]
        return None

    def fail(self, key: KeyPath, problem: str, hint: str | None = None) -> NoReturn:
        raise ProfileFileError(self.path, self.line_of(key), format_key(key) or None, problem, hint)


def read_toml(data: bytes | str, path: Path) -> TomlFile:
    """Decode and parse, turning every failure into a ProfileFileError with a line number."""
    if isinstance(data, bytes):
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as e:
            line = data.count(b"\n", 0, e.start) + 1
            raise ProfileFileError(path, line, None, f"not UTF-8 text (byte {data[e.start]:#04x})",
                                   "save the file as UTF-8") from None
    else:
        text = data
    text = text.removeprefix("\ufeff")  # editors on Windows add a BOM; TOML does not allow one
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise _syntax_error(path, str(e), text) from None
    except RecursionError:
        raise ProfileFileError(path, None, None, "not valid TOML: nested too deeply") from None
    return TomlFile(path, text, doc)


def _syntax_error(path: Path, message: str, text: str) -> ProfileFileError:
    # tomllib puts the place at the end of its message: "... (at line 4, column 9)" or
    # "... (at end of document)", e.g. for a string that is never closed.
    m = re.search(r"\s*\(at line (\d+), column (\d+)\)$", message)
    if m:
        line, column, problem = int(m[1]), int(m[2]), message[: m.start()]
    else:
        line, column = text.count("\n") + 1, None
        problem = message.replace(" (at end of document)", "")
    # An example in the file's own keys: a .pinman.toml has only `profile` (and `schema`).
    hint = ('strings need quotes: profile = "stable"' if path.name == ".pinman.toml"
            else 'strings need quotes (version = "2.1.331"); tables are written [name]')
    return ProfileFileError(path, line, None, f"not valid TOML: {problem}", hint, column=column)


# --------------------------------------------------------------------------- key -> line


class _Stop(Exception):
    pass


def key_lines(text: str) -> dict[KeyPath, int]:
    """Line number of every key, table header and array element in a TOML text.

    tomllib reports lines only for syntax errors; semantic errors (a bad version, an unknown key)
    need this small scanner. It is only run while building an error message, and stops quietly at
    anything it does not understand, returning what it found so far.
    """
    scanner = _Scanner(text)
    try:
        scanner.document()
    except (_Stop, IndexError, RecursionError):
        pass
    return scanner.found


_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_SCALAR_END = re.compile(r"[,\]}\n#]")


class _Scanner:
    def __init__(self, text: str) -> None:
        self.t = text
        self.i = 0
        self.found: dict[KeyPath, int] = {}
        self._newlines = [m.start() for m in re.finditer("\n", text)]
        self._aot: dict[KeyPath, int] = {}

    def record(self, key: KeyPath, pos: int) -> None:
        self.found.setdefault(key, bisect.bisect_left(self._newlines, pos) + 1)

    def skip(self, newlines: bool) -> None:
        t = self.t
        while self.i < len(t):
            c = t[self.i]
            if c in " \t\r" or (newlines and c == "\n"):
                self.i += 1
            elif c == "#" and newlines:
                end = t.find("\n", self.i)
                self.i = len(t) if end < 0 else end
            else:
                return

    def end_of_line(self) -> None:
        end = self.t.find("\n", self.i)
        self.i = len(self.t) if end < 0 else end + 1

    def document(self) -> None:
        table: KeyPath = ()
        while True:
            self.skip(newlines=True)
            if self.i >= len(self.t):
                return
            start = self.i
            if self.t[self.i] == "[":
                double = self.t.startswith("[[", self.i)
                self.i += 2 if double else 1
                table = self.keys()
                self.record(table, start)
                if double:
                    n = self._aot[table] = self._aot.get(table, -1) + 1
                    table = (*table, n)
                    self.record(table, start)
                self.end_of_line()
            else:
                key = (*table, *self.keys())
                self.expect("=")
                self.record(key, start)
                self.value(key)
                self.end_of_line()

    def expect(self, char: str) -> None:
        self.skip(newlines=False)
        if not self.t.startswith(char, self.i):
            raise _Stop
        self.i += 1

    def keys(self) -> tuple[str, ...]:
        parts: list[str] = []
        while True:
            self.skip(newlines=False)
            c = self.t[self.i]
            if c in "\"'":
                start = self.i
                self.string()
                raw = self.t[start:self.i]
                try:
                    parts.append(tomllib.loads(f"k = {raw}")["k"])
                except tomllib.TOMLDecodeError:
                    raise _Stop from None
            else:
                m = _BARE_KEY.match(self.t, self.i)
                if not m:
                    raise _Stop
                parts.append(m[0])
                self.i = m.end()
            self.skip(newlines=False)
            if not self.t.startswith(".", self.i):
                return tuple(parts)
            self.i += 1

    def string(self) -> None:
        t, q = self.t, self.t[self.i]
        if t.startswith(q * 3, self.i):
            j = self.i + 3
            while not t.startswith(q * 3, j):
                j += 2 if (q == '"' and t[j] == "\\") else 1
                if j >= len(t):
                    raise _Stop
            end = j + 3
            while end < len(t) and t[end] == q and end - j < 5:  # up to two quotes before the closer
                end += 1
            self.i = end
            return
        j = self.i + 1
        while t[j] != q:
            if t[j] == "\n":
                raise _Stop
            j += 2 if (q == '"' and t[j] == "\\") else 1
        self.i = j + 1

    def value(self, key: KeyPath) -> None:
        self.skip(newlines=False)
        c = self.t[self.i]
        if c in "\"'":
            self.string()
        elif c == "[":
            self.i += 1
            n = 0
            while True:
                self.skip(newlines=True)
                c = self.t[self.i]
                if c == "]":
                    self.i += 1
                    return
                if c == ",":
                    self.i += 1
                    n += 1
                    continue
                self.record((*key, n), self.i)
                self.value((*key, n))
        elif c == "{":
            self.i += 1
            while True:
                self.skip(newlines=False)
                c = self.t[self.i]
                if c == "}":
                    self.i += 1
                    return
                if c == ",":
                    self.i += 1
                    continue
                start = self.i
                sub = (*key, *self.keys())
                self.expect("=")
                self.record(sub, start)
                self.value(sub)
        else:
            m = _SCALAR_END.search(self.t, self.i)
            end = len(self.t) if m is None else m.start()
            if end == self.i:
                raise _Stop
            self.i = end
