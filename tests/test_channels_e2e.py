"""End to end: guarded channels with real Claude Code releases and pinman's own fake API.

* A range behind a gateway that rejects `thinking` (2.1.47 sends it, 2.1.45 does not): `pinman
  check` refuses 2.1.47 and promotes 2.1.45, and the user's next `claude -p` answers. The releases
  are those the bisect tests use (tests/test_bisect_e2e.py): 2.1.45 from the session's installs,
  2.1.47 installed by pinman itself from npm's cache, and removed again once refused.
* `latest` with a week's soak, on a loopback registry with fixed publish times and the session's
  real 1.0.100 and 2.1.331: the newest release soaks, so `claude` runs the one before it; a week
  later the unattended check (what the SessionStart hook starts) promotes it and leaves a notice.
* The built-in `stable` on a fresh machine: the newest release at least 7 days old, derived here
  from the registry's own `time` data (the live registry moves every few days).
* A candidate that passes only with a cheap switch: `latest` on a loopback registry, behind a
  gateway that refuses `output_config` (which 2.1.331 sends and CLAUDE_CODE_EFFORT_LEVEL=auto
  drops): `pinman check` promotes 2.1.331 with that switch as its remedy, and the user's next
  `claude -p` answers at the gateway.
"""

from __future__ import annotations

import json
import subprocess
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cli_support import claude, pinman
from e2e_support import serve_packuments
from test_bisect_e2e import WINDOW_BETAS, npm_env

from pinman.autopilot.files import HookFiles
from pinman.autopilot.notices import unseen
from pinman.fingerprint.fakeapi import FakeAPI
from pinman.install.layout import Install
from pinman.install.store import Store
from pinman.names import CLAUDE_CODE
from pinman.npm.packument import parse_time
from pinman.npm.semver import parse_version
from pinman.paths import Paths
from pinman.state.channels import get_channel
from pinman.state.journal import Journal, endpoint_of

pytestmark = pytest.mark.e2e

KEY = "sk-ant-api03-channels-e2e-KEY-0123456789abcdef"
DAY = 86400.0
MOVES: list[str] = []  # how each profile moved: printed for the closing note


def _profile(paths: Paths, name: str, spec: str, body: str) -> Path:
    p = paths.user_profiles / f"{name}.toml"
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(f'[claude-code]\nversion = "{spec}"\n{body}')
    return p


def _mb(n: int) -> str:
    return f"{n / 1e6:.1f} MB"


def test_a_guarded_range_runs_only_what_the_gateway_accepts(
        pinman_home: Paths, seeded_home: Callable[..., list[Install]], tmp_path: Path) -> None:
    seeded_home("2.1.45")  # 2.1.47 is not here: pinman installs it aside to try it
    work = tmp_path / "work"
    work.mkdir()
    env = {"ANTHROPIC_API_KEY": KEY, "CLAUDE_CODE_MAX_RETRIES": "1", **npm_env()}
    with FakeAPI("strict", allow_betas=WINDOW_BETAS) as api:
        _profile(pinman_home, "gw", ">=2.1.44 <2.1.48",
                 f'[env]\nANTHROPIC_BASE_URL = "{api.url}"\n[update]\npolicy = "guarded"\nsoak = "0h"\n'
                 '[health]\ntimeout = 60\n')
        start = time.monotonic()
        r = pinman(pinman_home, work, "check", "gw", "--json", **env)
        took = time.monotonic() - start
        assert r.code == 0, r.text
        doc = json.loads(r.out)
        ch = doc["channel"]
        assert ch["promoted"]["to"] == "2.1.45" and ch["promoted"]["verified"] is True, ch
        assert [(t["version"], t["outcome"]) for t in ch["tried"]] == [("2.1.47", "schema"), ("2.1.45", "ok")]
        assert [(f["version"], f["rejected"]) for f in ch["refused"]] == [("2.1.47", "thinking")]
        assert ch["removed"] == ["2.1.47"] and ch["downloaded_bytes"] > 0 and ch["freed_bytes"] > 0
        assert {i.version for i in Store(pinman_home).list(CLAUDE_CODE)} == {"2.1.45"}

        # `use` now switches to what the channel runs here, without probing again
        asked = len(api.messages_requests())
        r = pinman(pinman_home, work, "use", "gw", **env)
        assert r.code == 0 and "claude 2.1.45 globally" in r.out, r.text
        assert len(api.messages_requests()) == asked
        assert claude(pinman_home, work, "--version", **env).out.strip() == "2.1.45 (Claude Code)"
        # the user's next run answers
        run = claude(pinman_home, work, "-p", "say OK", "--output-format", "json",
                     CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC="1", **env)
        assert run.code == 0 and json.loads(run.out)["is_error"] is False, run.text

        status = {r["name"]: r for r in json.loads(pinman(pinman_home, work, "status", "--json", **env).out)}
        refused = status["gw"]["channel"]["refused"]
        assert [(x["version"], x["event"], x["rejected"]) for x in refused] == [("2.1.47", "refused", "thinking")]
        text = pinman(pinman_home, work, "status", **env).out
        assert "refused: 2.1.47 (thinking)" in text and "2.1.45 promoted just now, verified at" in text

        # a second check neither downloads nor probes 2.1.47 again
        asked = len(api.messages_requests())
        again = json.loads(pinman(pinman_home, work, "check", "gw", "--json", **env).out)
        assert again["channel"]["tried"] == [] and again["channel"]["promoted"] is None
        assert again["version"] == "2.1.45" and again["outcome"] == "ok"
        assert len(api.messages_requests()) == asked + 1  # only what runs was checked
    MOVES.append(f"gw ({'>=2.1.44 <2.1.48'}, soak 0h): nothing -> 2.1.45 by `pinman check` in {took:.1f} s; "
                 f"2.1.47 refused (thinking); downloaded {_mb(ch['downloaded_bytes'])}, freed {_mb(ch['freed_bytes'])}")
    print("\n" + MOVES[-1])


# --------------------------------------------------------------------------- soak: a loopback registry


def _real_doc(real_store: Store, ages: dict[str, float], latest: str) -> dict[str, Any]:
    now = time.time()
    versions = {}
    for v in ages:
        inst = real_store.get(CLAUDE_CODE, v)
        assert inst is not None and inst.integrity
        versions[v] = {"name": CLAUDE_CODE, "version": v, "dist": {"integrity": inst.integrity}}
    return {"name": CLAUDE_CODE, "dist-tags": {"latest": latest}, "versions": versions,
            "time": {v: time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - d * DAY)) for v, d in ages.items()}}


def test_soak_keeps_the_newest_release_out_until_a_week_has_passed(
        pinman_home: Paths, seeded_home: Callable[..., list[Install]], real_store: Store, tmp_path: Path) -> None:
    seeded_home("1.0.100", "2.1.331")
    work = tmp_path / "work"
    work.mkdir()
    docs = {CLAUDE_CODE: _real_doc(real_store, {"1.0.100": 400, "2.1.331": 2}, "2.1.331")}
    with FakeAPI("ok") as api, serve_packuments(docs) as url:
        env = {"ANTHROPIC_API_KEY": KEY, "ANTHROPIC_BASE_URL": api.url, "npm_config_registry": url,
               "PINMAN_REGISTRY_TTL": "0", "CLAUDE_CODE_MAX_RETRIES": "1"}
        _profile(pinman_home, "soaky", "latest",
                 '[update]\npolicy = "guarded"\nsoak = "7d"\nauto = true\n[health]\ninterval = "1s"\n')
        r = pinman(pinman_home, work, "use", "soaky", **env)
        assert r.code == 0 and "claude 1.0.100 globally" in r.out, r.text
        assert claude(pinman_home, work, "--version", **env).out.strip() == "1.0.100 (Claude Code)"
        ch = {x["name"]: x for x in json.loads(pinman(pinman_home, work, "status", "--json", **env).out)}["soaky"]["channel"]
        assert [w["version"] for w in ch["waiting"]] == ["2.1.331"]
        published = parse_time(docs[CLAUDE_CODE]["time"]["2.1.331"])
        assert ch["waiting"][0]["ready_at"] == pytest.approx(published + 7 * DAY)
        # the unattended check before the week is over: nothing moves, nothing to tell
        time.sleep(1.1)
        assert pinman(pinman_home, work, "check", "--if-due", "--all", **env).code == 0
        assert get_channel(pinman_home, "soaky", None).version == "1.0.100" and unseen(HookFiles(pinman_home)) == []

        # six days later: 2.1.331 is eight days old
        docs[CLAUDE_CODE] = _real_doc(real_store, {"1.0.100": 400, "2.1.331": 8}, "2.1.331")
        time.sleep(1.1)
        r = pinman(pinman_home, work, "check", "--if-due", "--all", **env)
        assert r.code == 0, r.text
    state = get_channel(pinman_home, "soaky", None)
    assert (state.version, state.previous, state.verified, state.endpoint) == (
        "2.1.331", "1.0.100", True, endpoint_of(api.url))
    assert claude(pinman_home, work, "--version", **env).out.strip() == "2.1.331 (Claude Code)"
    lines = unseen(HookFiles(pinman_home))
    assert any(ln.startswith(f"pinman: soaky moved to 2.1.331, verified at {api.url.split('://')[1]} (periodic check")
               for ln in lines), lines
    # the previous promotion stays installed: the way back, and what a running session may still run
    assert {i.version for i in Store(pinman_home).list(CLAUDE_CODE)} >= {"1.0.100", "2.1.331"}
    promoted = [e for e in Journal(pinman_home).history("soaky") if e.event == "promoted"]
    assert [(e.version, e.previous) for e in promoted] == [("2.1.331", "1.0.100"), ("1.0.100", None)]
    MOVES.append("soaky (latest, soak 7d, auto): 1.0.100 by `use` (2.1.331 two days old, soaking) -> 2.1.331 "
                 "by `check --if-due` once it was eight days old; nothing downloaded (seeded), nothing freed")
    print("\n" + MOVES[-1])


# --------------------------------------------------------------------------- the built-in stable


def _registry_url() -> str:
    out = subprocess.run(["npm", "config", "get", "registry"], capture_output=True, text=True,
                         env={**npm_env(), "PATH": __import__("os").environ["PATH"]}, timeout=60)
    url = out.stdout.strip() or "https://registry.npmjs.org/"
    return url if url.endswith("/") else url + "/"


def newest_week_old() -> str:
    """From the registry's own data, independently of pinman: the newest release (not a
    prerelease, not newer than `latest`) published at least 7 days ago."""
    req = urllib.request.Request(_registry_url() + CLAUDE_CODE.replace("/", "%2f"),
                                 headers={"Accept": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as resp:
        doc = json.load(resp)
    latest = parse_version(doc["dist-tags"]["latest"])
    cutoff = time.time() - 7 * DAY
    best = None
    for v, stamp in doc["time"].items():
        p = parse_version(v)
        if p is None or p.prerelease or v not in doc["versions"] or (p.major, p.minor, p.patch) > (
                latest.major, latest.minor, latest.patch):
            continue
        when = parse_time(stamp)
        if when is not None and when <= cutoff and (best is None or (p.major, p.minor, p.patch) > best[0]):
            best = ((p.major, p.minor, p.patch), v)
    assert best is not None
    return best[1]


def test_use_stable_on_a_fresh_machine_runs_the_newest_release_a_week_old(pinman_home: Paths,
                                                                          tmp_path: Path) -> None:
    expected = newest_week_old()
    work = tmp_path / "work"
    work.mkdir()
    with FakeAPI("ok") as api:
        env = {"ANTHROPIC_API_KEY": KEY, "ANTHROPIC_BASE_URL": api.url, "CLAUDE_CODE_MAX_RETRIES": "1", **npm_env()}
        start = time.monotonic()
        r = pinman(pinman_home, work, "use", "stable", "--json", **env)
        took = time.monotonic() - start
        assert r.code == 0, r.text
        doc = json.loads(r.out)
        assert doc["version"] == expected and doc["channel"]["promoted"]["verified"] is True, doc
        # what the release declares for node is reported; even unmet, the probe is the judge
        tried = doc["channel"]["tried"][0]
        assert tried["version"] == expected and "engines" in tried and tried["outcome"] == "ok"
        assert [m.path for m in api.messages_requests()], "the candidate was probed against the endpoint"
        assert claude(pinman_home, work, "--version", **env).out.strip() == f"{expected} (Claude Code)"
    MOVES.append(f"stable (built-in: latest, soak 7d): nothing -> {expected} by `use` on a fresh machine in "
                 f"{took:.1f} s; downloaded {_mb(doc['channel']['downloaded_bytes'])}")
    print("\n" + MOVES[-1])


# --------------------------------------------------------------------------- a candidate with a cheap remedy


def test_a_candidate_that_passes_only_with_a_cheap_switch_is_promoted_with_it(
        pinman_home: Paths, seeded_home: Callable[..., list[Install]], real_store: Store, tmp_path: Path) -> None:
    seeded_home("1.0.100", "2.1.331")
    work = tmp_path / "work"
    work.mkdir()
    docs = {CLAUDE_CODE: _real_doc(real_store, {"1.0.100": 400}, "1.0.100")}
    with FakeAPI("deny", deny_keys={"output_config"}, wording="litellm") as api, serve_packuments(docs) as url:
        env = {"ANTHROPIC_API_KEY": KEY, "ANTHROPIC_BASE_URL": api.url, "npm_config_registry": url,
               "PINMAN_REGISTRY_TTL": "0", "CLAUDE_CODE_MAX_RETRIES": "1"}
        _profile(pinman_home, "gated", "latest", '[update]\npolicy = "guarded"\nsoak = "0h"\n[health]\ntimeout = 60\n')
        r = pinman(pinman_home, work, "use", "gated", **env)
        assert r.code == 0 and "claude 1.0.100 globally" in r.out, r.text
        docs[CLAUDE_CODE] = _real_doc(real_store, {"1.0.100": 400, "2.1.331": 3}, "2.1.331")  # published since
        start = time.monotonic()
        r = pinman(pinman_home, work, "check", "gated", "--json", **env)
        took = time.monotonic() - start
        assert r.code == 0, r.text
        ch = json.loads(r.out)["channel"]
        promoted = ch["promoted"]
        assert (promoted["to"], promoted["verified"]) == ("2.1.331", True), ch
        assert promoted["remedy"]["env"] == {"CLAUDE_CODE_EFFORT_LEVEL": "auto"}, promoted
        host = api.url.split("://")[1]
        assert promoted["message"].startswith(f"gated moved to 2.1.331 with CLAUDE_CODE_EFFORT_LEVEL=auto, verified "
                                              f"at {host} — output_config rejected there without it")
        assert [(t["version"], t["plain"], t["switches"]) for t in ch["tried"]] == [
            ("2.1.331", "schema", {"CLAUDE_CODE_EFFORT_LEVEL": "auto"})]
        assert claude(pinman_home, work, "--version", **env).out.strip() == "2.1.331 (Claude Code)"
        # the user's next run answers at the gateway, without the field it refuses
        api.clear()
        run = claude(pinman_home, work, "-p", "say OK", "--output-format", "json",
                     CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC="1", **env)
        assert run.code == 0 and json.loads(run.out)["is_error"] is False, run.text
        sent = [q.keys for q in api.messages_requests()]
        assert sent and all("output_config" not in keys for keys in sent) and any("thinking" in k for k in sent)
        row = {x["name"]: x for x in json.loads(pinman(pinman_home, work, "status", "--json", **env).out)}["gated"]
    assert row["version"] == "2.1.331" and row["channel"]["refused"] == [] and row["channel"]["remedied"] is True
    assert [(m["switches"], m["here"]) for m in row["remedies"]] == [("CLAUDE_CODE_EFFORT_LEVEL=auto", True)]
    # the probe with the switch on is no verdict about plain 2.1.331: the last known-good stays 1.0.100
    assert Journal(pinman_home).last_known_good("gated", endpoint_of(api.url)).version == "1.0.100"
    MOVES.append(f"gated (latest, soak 0h, gateway refusing output_config): 1.0.100 by `use` -> 2.1.331 with "
                 f"CLAUDE_CODE_EFFORT_LEVEL=auto by `pinman check` in {took:.1f} s (measured offline, then verified)")
    print("\n" + MOVES[-1])
