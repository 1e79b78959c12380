"""The StopFailure handler's own guards, each on a payload that only that guard stops:

* the client's own error class (`error`: rate_limit, overloaded, …) vetoes a text that reads as a
  schema rejection: a version change cannot fix what the client itself classed that way;
* a failure of the version pinman already rolled back, arriving after the rollback, is recorded as
  such: no check, no "that client is not it" notice.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pinman.autopilot import handler, notices
from pinman.autopilot.files import HookFiles
from pinman.health.classify import classify
from pinman.health.outcome import Kind
from pinman.health.result import ProbeResult
from pinman.paths import Paths
from pinman.runtime.choice import write_global
from pinman.state.journal import Journal
from pinman.state.overrides import Override, set_override

V_NEW, V_OLD = "2.1.331", "1.0.100"
SCHEMA_TEXT = ('API Error: 400 {"type":"error","error":{"type":"invalid_request_error",'
               '"message":"output_config: Extra inputs are not permitted"}}')
ENV = {"ANTHROPIC_BASE_URL": "http://127.0.0.1:4000"}


@pytest.fixture
def work(pinman_home: Paths, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    p = pinman_home.user_profiles / "team.toml"
    p.parent.mkdir(parents=True)
    p.write_text(f'[claude-code]\nversion = "{V_NEW}"\n')
    write_global(pinman_home, "team")
    checks: list[Any] = []
    monkeypatch.setattr("pinman.health.rollback.check", lambda *a, **k: checks.append(a) or pytest.fail(
        "the handler ran a check"))
    folder = tmp_path / "work"
    folder.mkdir()
    return folder


def payload(work: Path, version: str, error: str) -> dict[str, Any]:
    transcript = work / "t.jsonl"
    transcript.write_text(json.dumps({"type": "user", "version": version}) + "\n")
    return {"hook_event_name": "StopFailure", "error": error, "last_assistant_message": SCHEMA_TEXT,
            "cwd": str(work), "transcript_path": str(transcript)}


def hook_entries(paths: Paths) -> list[Any]:
    return [e for e in Journal(paths).entries() if e.event == "hook"]


def test_the_text_alone_reads_as_a_schema_rejection() -> None:
    """So in the tests below only the `error` field can stop the handler."""
    assert classify(ProbeResult("cli", 1, None, None, SCHEMA_TEXT, 0.0, is_error=True)).kind == Kind.SCHEMA
    assert handler.failure_kind({"last_assistant_message": SCHEMA_TEXT, "error": "unknown"})[0] == "schema"


@pytest.mark.parametrize("error", sorted(handler.NOT_SCHEMA_ERRORS))
def test_the_clients_own_error_class_vetoes_a_schema_looking_text(pinman_home: Paths, work: Path,
                                                                  error: str) -> None:
    kind, outcome = handler.failure_kind(payload(work, V_NEW, error))
    assert kind == f"client-said-{error}" and outcome.kind == Kind.SCHEMA
    assert handler.handle(pinman_home, payload(work, V_NEW, error), ENV) == "ignored"
    (entry,) = hook_entries(pinman_home)
    assert entry.outcome == f"client-said-{error}" and entry.extra["action"] == "ignored"
    assert notices.unseen(HookFiles(pinman_home)) == []


def test_a_failure_of_the_version_already_rolled_back_is_only_recorded(pinman_home: Paths, work: Path) -> None:
    set_override(pinman_home, "team", None, Override(V_OLD, V_NEW, "output_config rejected", 1.0,
                                                      pin_spec=V_NEW, pin_version=V_NEW))
    assert handler.handle(pinman_home, payload(work, V_NEW, "invalid_request"), ENV) == "already-rolled-back"
    (entry,) = hook_entries(pinman_home)
    assert entry.extra["action"] == "already-rolled-back" and entry.version == V_NEW
    assert f"already rolled back to {V_OLD}" in entry.message
    assert notices.unseen(HookFiles(pinman_home)) == []  # not told "that client is not it"

    # Any other version that is not the one pinman runs is still someone else's client.
    assert handler.handle(pinman_home, payload(work, "2.1.400", "invalid_request"), ENV) == "not-ours"
    assert len(notices.unseen(HookFiles(pinman_home))) == 1
