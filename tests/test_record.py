"""`@record` means what `@dataclass(frozen=True)` (or `@dataclass`) meant for every class that uses it."""

from __future__ import annotations

import dataclasses
from dataclasses import FrozenInstanceError, field

import pytest

from pinman.record import record


@record
class Point:
    x: int
    y: int = 0
    note: str = field(default="", compare=False)
    token: str = field(default="", repr=False)
    tags: list[str] = field(default_factory=list, compare=False)


@record(frozen=False)
class Counter:
    n: int = 0


@record
class Other:
    x: int
    y: int = 0
    note: str = ""
    token: str = ""


@record
class Versioned:
    v: str

    def __eq__(self, other: object) -> bool:  # the class's own methods stay
        return isinstance(other, Versioned) and other.v.lstrip("v") == self.v.lstrip("v")

    def __hash__(self) -> int:
        return hash(self.v.lstrip("v"))


def test_equality_hash_and_repr_as_a_frozen_dataclass() -> None:
    a, b = Point(1, 2, note="a", token="secret"), Point(1, 2, note="b", token="secret")
    assert a == b and hash(a) == hash(b)  # `note` and `tags` are not compared
    assert a != Point(1, 3) and a != Point(1, 2, token="other")
    assert Point(1) != Other(1) and Other(1) != Point(1)  # another class is never equal
    assert repr(a) == "Point(x=1, y=2, note='a', tags=[])"  # `token` is not shown
    assert len({a, b, Point(2)}) == 2
    assert Point(1).tags is not Point(1).tags  # a fresh default each time


def test_a_frozen_record_refuses_every_assignment_after_init() -> None:
    p = Point(1)
    with pytest.raises(FrozenInstanceError):
        p.x = 2  # type: ignore[misc]
    with pytest.raises(FrozenInstanceError):
        p.extra = 1  # type: ignore[attr-defined]
    with pytest.raises(FrozenInstanceError):
        del p.y  # type: ignore[misc]
    assert p.x == 1


def test_dataclass_functions_work_on_records() -> None:
    p = Point(1, 2, token="t")
    assert dataclasses.is_dataclass(p)
    assert [f.name for f in dataclasses.fields(p)] == ["x", "y", "note", "token", "tags"]
    assert dataclasses.replace(p, y=5) == Point(1, 5, token="t")
    assert dataclasses.asdict(p) == {"x": 1, "y": 2, "note": "", "token": "t", "tags": []}


def test_a_mutable_record_is_mutable_and_unhashable() -> None:
    c = Counter()
    c.n += 1
    assert c == Counter(1) and repr(c) == "Counter(n=1)"
    with pytest.raises(TypeError):
        hash(c)


def test_a_records_own_methods_are_kept() -> None:
    assert Versioned("v1") == Versioned("1") and hash(Versioned("v1")) == hash(Versioned("1"))
