"""End to end: `pinman bisect` with real Claude Code versions from the registry against a gateway
(the fake API in strict mode) that does not know the `thinking` field.

The window, found with `pinman fingerprint`: 2.1.47 is the first release that sends the top-level
body key `thinking`; 2.1.45 sends the same keys as 1.0.100 (plus betas, which this gateway
accepts). From 2.1.42 (good) to 2.1.50 (bad) there are five candidates (2.1.44, 2.1.45, 2.1.47,
2.1.48, 2.1.49), all node `cli.js` packages of ~90 MB that install in ~3 s from npm's cache, so
the whole bisect, with its installs, takes well under a minute.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from cli_support import pinman
from e2e_support import REAL_HOME

from pinman.health.outcome import Kind
from pinman.health.classify import classify
from pinman.fingerprint.fakeapi import CLAUDE_CODE_1_0_100_BETAS, FakeAPI
from pinman.fingerprint.fingerprints import Diff, mentions
from pinman.health.cli_probe import probe_cli
from pinman.state.journal import Journal, endpoint_of
from pinman.paths import Paths
from pinman.names import CLAUDE_CODE
from pinman.install.layout import Install
from pinman.install.store import Store

pytestmark = pytest.mark.e2e

GOOD, BAD = "2.1.42", "2.1.50"
NEWEST_WORKING, FIRST_FAILING = "2.1.45", "2.1.47"
CANDIDATES = ["2.1.44", "2.1.45", "2.1.47", "2.1.48", "2.1.49"]
# What the window's versions send besides 1.0.100's betas: the gateway passes headers through
# and validates the body, as a LiteLLM-style proxy with an older request model does.
WINDOW_BETAS = CLAUDE_CODE_1_0_100_BETAS | {
    "prompt-caching-scope-2026-01-05", "adaptive-thinking-2026-01-28", "effort-2025-11-24"}
KEY = "sk-ant-api03-bisect-e2e-KEY-0123456789abcdef"


def npm_env() -> dict[str, str]:
    """The subprocess runs with the test's HOME; npm should still use the warm cache and the
    user's registry settings, or every run downloads each version again."""
    if not REAL_HOME:
        return {}
    env = {"npm_config_cache": str(Path(REAL_HOME) / ".npm")}
    if (Path(REAL_HOME) / ".npmrc").is_file():
        env["npm_config_userconfig"] = str(Path(REAL_HOME) / ".npmrc")
    return env


def profile(paths: Paths, version: str, url: str) -> None:
    p = paths.user_profiles / "gw.toml"
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(f'schema = 1\n[claude-code]\nversion = "{version}"\n'
                 f'[env]\nANTHROPIC_BASE_URL = "{url}"\n[health]\ntimeout = 60\n')


def test_bisect_finds_the_field_the_gateway_rejects(
    pinman_home: Paths, seeded_home: Callable[..., list[Install]],
    real_install: Callable[[str], Install], tmp_path: Path,
) -> None:
    seeded_home(GOOD, BAD)
    work = tmp_path / "work"
    work.mkdir()
    env = {"ANTHROPIC_API_KEY": KEY, **npm_env()}
    with FakeAPI("strict", allow_betas=WINDOW_BETAS) as api:
        # The user's day: GOOD checked ok here once; the pin moved to BAD, which now fails.
        profile(pinman_home, GOOD, api.url)
        assert pinman(pinman_home, work, "check", "gw", **env).code == 0
        profile(pinman_home, BAD, api.url)
        failed = pinman(pinman_home, work, "check", "gw", "--no-rollback", **env)
        assert failed.code == 11 and "thinking" in failed.out, failed.text

        start = time.monotonic()
        r = pinman(pinman_home, work, "bisect", "gw", "--json", **env)
        took = time.monotonic() - start
        assert r.code == 0, r.text
        doc = json.loads(r.out)

        # Checked independently: the two boundary versions probed directly, outside pinman.
        direct = {}
        for v in (NEWEST_WORKING, FIRST_FAILING):
            penv = {"PATH": os.environ["PATH"], "ANTHROPIC_BASE_URL": api.url, "ANTHROPIC_API_KEY": KEY}
            direct[v] = classify(probe_cli(real_install(v).binary, penv, prompt="say OK",
                                           timeout=60, isolated_home=True))

    assert direct[NEWEST_WORKING].kind is Kind.OK
    assert (direct[FIRST_FAILING].kind, direct[FIRST_FAILING].rejected) == (Kind.SCHEMA, "thinking")

    assert (doc["status"], doc["good"], doc["bad"]) == ("found", GOOD, BAD)
    assert doc["candidates"] == CANDIDATES
    assert (doc["newest_working"], doc["first_failing"]) == (NEWEST_WORKING, FIRST_FAILING)
    assert doc["rejected"] == "thinking"
    assert doc["message"] == "400 thinking: Extra inputs are not permitted"
    assert doc["pin"] == f"pinman pin gw {NEWEST_WORKING}"
    # the fingerprint diff names the very key the gateway rejected
    assert doc["adds"]["keys_added_roots"] == ["thinking"]
    assert doc["adds_summary"] == "adds body key thinking"
    assert mentions(Diff(**{**{k: doc["adds"][k] for k in (
        "keys_added", "keys_removed", "betas_added", "betas_removed", "headers_added",
        "headers_removed")}, "a": NEWEST_WORKING, "b": FIRST_FAILING, "models": ([], [])}),
        doc["rejected"])
    assert doc["probes"] <= doc["budget"] == 5  # ⌈log2 5⌉ + 2
    assert KEY not in r.out + r.err
    assert f"probing {FIRST_FAILING} ... schema (400 thinking: Extra inputs are not permitted)" in r.err

    # every verdict is in the journal; the answer is this endpoint's last known-good now
    journal = Journal(pinman_home)
    endpoint = endpoint_of(api.url)
    verdicts = journal.verdicts("gw", endpoint)
    for a in doc["attempts"]:
        assert verdicts[a["version"]].outcome == a["kind"]
    assert journal.last_known_good("gw", endpoint).version == NEWEST_WORKING
    assert FIRST_FAILING in journal.known_bad("gw", endpoint)

    # probe installs are gone, except the answer; the known-good and the pin stay
    have = {i.version for i in Store(pinman_home).list(CLAUDE_CODE)}
    probed = {a["version"] for a in doc["attempts"]}
    assert have == {GOOD, BAD, NEWEST_WORKING}, (have, doc["removed"])
    assert set(doc["removed"]) == probed - {GOOD, BAD, NEWEST_WORKING}

    # `pinman diff` answers from the fingerprints the bisect cached: no reinstall of 2.1.47
    d = pinman(pinman_home, work, "diff", NEWEST_WORKING, FIRST_FAILING, **env)
    assert d.code == 0 and "+ body keys: thinking" in d.out, d.text
    assert "installing" not in d.err.lower() and FIRST_FAILING not in {
        i.version for i in Store(pinman_home).list(CLAUDE_CODE)}

    print(f"\nbisect e2e: {doc['probes']} probes (budget {doc['budget']}), "
          f"{[(a['version'], a['kind'], a['duration']) for a in doc['attempts']]}, "
          f"bisect {doc['duration']:.1f} s, command {took:.1f} s")
