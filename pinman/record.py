"""`@record`: a dataclass that costs a read command less to define.

`dataclasses.dataclass` compiles six functions from source for every frozen class (`__init__`,
`__repr__`, `__eq__`, `__hash__`, `__setattr__`, `__delattr__`). A read command such as `pinman
status` defines about thirty classes, and their compiling was a quarter of its run. `record`
lets dataclasses build `__init__` alone, and gives every record the same `__repr__`, `__eq__`,
`__hash__` and frozen guards, written once here, with dataclasses' meaning: fields with
`compare=False` or `repr=False` are left out as there, instances of another class are never
equal, a frozen record hashes its compared fields and a mutable one does not hash, and a frozen
record's fields are set by `__init__` only (FrozenInstanceError after that, as for any other
attribute). A method the class defines itself is kept. `dataclasses.fields`, `replace` and
`asdict` work on records.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import FrozenInstanceError, dataclass, field, fields
from typing import Any, TypeVar, dataclass_transform, overload

T = TypeVar("T", bound=type)


@overload
def record(cls: T, /) -> T: ...
@overload
def record(*, frozen: bool = True) -> Callable[[T], T]: ...


@dataclass_transform(frozen_default=True, field_specifiers=(field,))
def record(cls: T | None = None, /, *, frozen: bool = True) -> T | Callable[[T], T]:
    """`@record` (frozen) or `@record(frozen=False)` on a class written as for `@dataclass`."""

    def wrap(c: T) -> T:
        return _finish(dataclass(c, repr=False, eq=False), frozen)  # type: ignore[return-value]

    return wrap if cls is None else wrap(cls)


def _finish(cls: Any, frozen: bool) -> Any:
    own = dict(cls.__dict__)
    cls.__record_fields__ = frozenset(f.name for f in fields(cls))
    cls.__record_compared__ = tuple(f.name for f in fields(cls) if f.compare)
    cls.__record_shown__ = tuple(f.name for f in fields(cls) if f.repr)
    if frozen:
        cls.__setattr__, cls.__delattr__ = _set_once, _no_delete
    if "__repr__" not in own:
        cls.__repr__ = _repr
    if "__eq__" not in own:
        cls.__eq__ = _eq
    # As dataclasses: a class's own __hash__ stays, unless it is the None that defining __eq__ set.
    explicit = "__hash__" in own and not (own["__hash__"] is None and "__eq__" in own)
    if not explicit:
        cls.__hash__ = _hash if frozen else None
    return cls


def _set_once(self: Any, name: str, value: Any) -> None:
    """`__init__` sets each field once; nothing is set after it."""
    if name not in self.__record_fields__ or name in self.__dict__:
        raise FrozenInstanceError(f"cannot assign to field {name!r}")
    object.__setattr__(self, name, value)


def _no_delete(self: Any, name: str) -> None:
    raise FrozenInstanceError(f"cannot delete field {name!r}")


def _repr(self: Any) -> str:
    shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__record_shown__)
    return f"{type(self).__qualname__}({shown})"


def _key(self: Any) -> tuple[Any, ...]:
    return tuple(getattr(self, name) for name in self.__record_compared__)


def _eq(self: Any, other: object) -> bool:
    if other.__class__ is not self.__class__:
        return NotImplemented
    return _key(self) == _key(other)


def _hash(self: Any) -> int:
    return hash(_key(self))
