"""Back to the pin, with real Claude Code against pinman's loopback gateway.

A strict gateway rejects what 2.1.331 sends (`thinking: Extra inputs are not permitted`) and
accepts 1.0.100 and 2.1.45 (which send the same body keys). After a rollback to 1.0.100:
* the gateway is fixed -> the next check (by hand or periodic) probes the pin, finds it ok, drops
  the override, and `claude` runs 2.1.331 again;
* the pin moves (`pinman pin`, or an edit) -> `claude` runs the new pin at once, `status` and
  `current` say the old override was dropped and why, and the next check verifies the new pin.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Callable, Iterator

import pytest
from cli_support import claude, pinman

from pinman.fingerprint.fakeapi import CLAUDE_CODE_1_0_100_BETAS, FakeAPI
from pinman.paths import Paths

pytestmark = pytest.mark.e2e

V1, V2, V3 = "1.0.100", "2.1.331", "2.1.45"
KEY = "sk-ant-test-e2e-RECOVER-0123456789"


# 2.1.45 sends 1.0.100's body keys plus a few betas, which this gateway passes through.
BETAS = CLAUDE_CODE_1_0_100_BETAS | {"prompt-caching-scope-2026-01-05", "adaptive-thinking-2026-01-28",
                                     "effort-2025-11-24"}


@pytest.fixture
def gateway() -> Iterator[FakeAPI]:
    with FakeAPI("strict", allow_betas=BETAS) as api:
        yield api


def env(api: FakeAPI, **extra: str) -> dict[str, str]:
    return {"ANTHROPIC_BASE_URL": api.url, "ANTHROPIC_API_KEY": KEY, **extra}


def check(paths: Paths, cwd: Path, api: FakeAPI, *args: str) -> tuple[int, dict]:
    r = pinman(paths, cwd, "check", "--isolated-home", "--json", *args, **env(api))
    return r.code, (json.loads(r.out) if r.out.strip() else {})


def team_file(paths: Paths) -> Path:
    return paths.user_profiles / "team.toml"


def repin(paths: Paths, old: str, new: str) -> None:
    p = team_file(paths)
    p.write_text(p.read_text().replace(f'version = "{old}"', f'version = "{new}"'))


def setup_rolled_back(paths: Paths, work: Path, api: FakeAPI, *, interval: str = "6h") -> None:
    """team: 1.0.100 checked ok, then pinned 2.1.331, which the gateway rejects -> rolled back."""
    p = team_file(paths)
    p.parent.mkdir(parents=True)
    p.write_text(f'# our pin\n[claude-code]\nversion = "{V1}"\n\n[health]\ntimeout = 60\ninterval = "{interval}"\n')
    assert pinman(paths, work, "use", "team").code == 0
    assert check(paths, work, api)[0] == 0
    repin(paths, V1, V2)
    code, doc = check(paths, work, api)
    assert code == 10 and doc["rollback"] == {"from": V2, "to": V1}, doc
    assert claude(paths, work, "--version").out.startswith(V1)


@pytest.fixture
def work(tmp_path: Path) -> Path:
    w = tmp_path / "work"
    w.mkdir()
    return w


def test_fixed_gateway_the_next_check_returns_to_the_pin(pinman_home: Paths, seeded_home: Callable[..., object],
                                                         work: Path, gateway: FakeAPI) -> None:
    seeded_home(V1, V2)
    setup_rolled_back(pinman_home, work, gateway)

    code, doc = check(pinman_home, work, gateway)  # still rejected: stays on the known-good
    assert (code, doc["action"], doc["pin_probe"]["outcome"]) == (0, "ok", "schema"), doc
    assert claude(pinman_home, work, "--version").out.startswith(V1)

    gateway.mode = "ok"  # the gateway's owners fixed it
    code, doc = check(pinman_home, work, gateway)
    assert code == 0 and doc["action"] == "recovered", doc
    assert (doc["recovered"]["from"], doc["recovered"]["to"]) == (V1, V2)
    assert doc["detail"] == f"team is back on {V2}: the endpoint accepts it again"
    assert claude(pinman_home, work, "--version").out.startswith(V2)  # the shim follows the pin

    history = json.loads(pinman(pinman_home, work, "history", "team", "--json").out)
    assert (history[0]["event"], history[0]["version"], history[0]["previous"]) == ("recovered", V2, V1)
    assert history[1]["event"] == "check" and history[1]["version"] == V2 and history[1]["outcome"] == "ok"
    status = json.loads(pinman(pinman_home, work, "status", "--json").out)
    row = next(r for r in status if r["name"] == "team")
    assert (row["version"], row["override"]) == (V2, False)
    assert any(r.user_agent.startswith(f"claude-cli/{V2}") for r in gateway.requests)


def test_the_periodic_check_recovers_too(pinman_home: Paths, seeded_home: Callable[..., object], work: Path,
                                         gateway: FakeAPI) -> None:
    seeded_home(V1, V2)
    setup_rolled_back(pinman_home, work, gateway, interval="1s")
    gateway.mode = "ok"
    time.sleep(1.1)  # let the interval pass
    r = pinman(pinman_home, work, "check", "--all", "--if-due", "--isolated-home", **env(gateway))
    assert r.code == 0, r.text
    assert f"team is back on {V2}: the endpoint accepts it again" in r.out
    assert claude(pinman_home, work, "--version").out.startswith(V2)


@pytest.mark.parametrize("how", ["pin", "edit"])
def test_a_new_pin_outdates_the_override(pinman_home: Paths, seeded_home: Callable[..., object], work: Path,
                                         gateway: FakeAPI, how: str) -> None:
    seeded_home(V1, V2, V3)
    setup_rolled_back(pinman_home, work, gateway)

    if how == "pin":
        assert pinman(pinman_home, work, "pin", "team", V3).code == 0
    else:
        repin(pinman_home, V2, V3)
    assert claude(pinman_home, work, "--version").out.startswith(V3)  # the new pin runs at once

    note = f"local override {V1} dropped: the pin changed from {V2} to {V3}"
    current = pinman(pinman_home, work, "current")
    assert f"team {V3}" in current.out and note in current.out, current.out
    status = pinman(pinman_home, work, "status")
    assert f"team: {V3}  pinned  last check" in status.out and note in status.out, status.out

    code, doc = check(pinman_home, work, gateway)  # verified by the next check
    assert (code, doc["version"], doc["outcome"], doc["override_dropped"]) == (0, V3, "ok", note), doc
    history = json.loads(pinman(pinman_home, work, "history", "team", "--json").out)
    assert [h["event"] for h in history[:2]] == ["check", "dropped"]
    assert json.loads(pinman_home.overrides.read_text())["overrides"] == {}
    row = next(r for r in json.loads(pinman(pinman_home, work, "status", "--json").out) if r["name"] == "team")
    assert (row["version"], row["override"], row["dropped"]) == (V3, False, note)
    assert claude(pinman_home, work, "--version").out.startswith(V3)
