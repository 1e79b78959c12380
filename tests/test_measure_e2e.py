"""What a switch really drops, measured offline with real Claude Code through the recording proxy,
and cached per version × switch."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from pinman.paths import Paths
from pinman.policy import measure
from pinman.policy.candidates import by_name

pytestmark = pytest.mark.e2e

V1, V2 = "1.0.100", "2.1.331"


def test_measured_effects_on_2_1_331_and_the_cache(pinman_home: Paths, seeded_home: Callable[..., object]) -> None:
    seeded_home(V2)
    effort, betas = by_name(["CLAUDE_CODE_EFFORT_LEVEL=auto", "CLAUDE_CODE_DISABLE_EXPERIMENTAL_BETAS=1"])
    plain = measure.plain(pinman_home, V2)
    assert {"output_config", "context_management", "thinking"} <= set(plain.top_keys)
    e = measure.effect(pinman_home, V2, effort)
    assert e.completed and e.drops(plain, "output_config") and not e.drops(plain, "thinking")
    assert e.dropped(plain) == ["messages.*.output_config", "output_config"]
    b = measure.effect(pinman_home, V2, betas)
    assert b.drops(plain, "context_management") and b.drops(plain, "context-management-2025-06-27")
    assert not b.drops(plain, "output_config")

    def never(*a: object) -> object:
        raise AssertionError("measured again")

    assert measure.effect(pinman_home, V2, effort, run=never) == e  # cached: no second run
    assert measure.cache_path(pinman_home, V2, effort).is_file()


def test_a_version_that_does_not_send_the_field_has_nothing_to_measure(pinman_home: Paths,
                                                                        seeded_home: Callable[..., object]) -> None:
    seeded_home(V1)
    notes: list[str] = []
    assert measure.confirmed(pinman_home, V1, by_name(["CLAUDE_CODE_EFFORT_LEVEL=auto"]), "output_config",
                             notes.append) == []
    assert notes == [f"{V1} does not send output_config offline, so no switch can be measured for it"]
