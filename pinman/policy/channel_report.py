"""What a check of a guarded channel found and did: the check of what ran, the candidates tried,
the promotion, the refusals, what waits for its soak, and what the clean-up freed.

`to_json()` is its stable shape for `--json` (the check report's own keys plus `channel`) and
notices; `exit_code` follows the check's, except that a verified promotion is all well.
"""

from __future__ import annotations

from dataclasses import field
from typing import TYPE_CHECKING, Any

from pinman.errors import ExitCode
from pinman.record import record

if TYPE_CHECKING:
    from pinman.health.report import CheckReport


@record(frozen=False)
class ChannelReport:
    profile: str
    spec: str
    endpoint: str
    before: str | None  # what ran before (None: nothing chosen here yet)
    health: CheckReport | None = None  # the check of what ran before
    runs: str | None = None  # what runs after
    promoted: dict[str, Any] | None = None  # {"from", "to", "verified", "message", "remedy": the switch it passed with}
    verified_now: bool = False  # what ran was unverified (or verified elsewhere) and passed now
    # every candidate: version, outcome, message, plain (its plain probe's outcome), switches (it passed with)
    tried: list[dict[str, Any]] = field(default_factory=list)
    refused: list[dict[str, Any]] = field(default_factory=list)  # version, rejected (what stopped it), message, tried
    waiting: list[dict[str, Any]] = field(default_factory=list)  # version, ready_at (soak)
    eligible: list[str] = field(default_factory=list)  # newer candidates that passed (a)-(c), newest first
    stopped: str | None = None  # why no (further) candidate was tried
    inconclusive: bool = False  # stopped by an outcome that says nothing about a version
    problem: str | None = None  # registry data came from the cache, or publish times are missing: why
    downloaded: int = 0  # bytes of the candidates installed for this check
    removed: list[str] = field(default_factory=list)
    freed: int = 0  # bytes
    tell: str | None = None  # a line for the next session that is not about a switch (candidates wait)

    @property
    def exit_code(self) -> ExitCode:
        if self.promoted and self.promoted.get("verified"):
            return ExitCode.OK  # what runs now passed a probe here: all is well
        if self.health is not None:
            return self.health.exit_code
        if self.runs is not None:
            return ExitCode.OK if not self.inconclusive else ExitCode.NOT_CLIENT
        return ExitCode.NOT_CLIENT if self.inconclusive else ExitCode.BROKEN

    def channel_json(self) -> dict[str, Any]:
        return {"spec": self.spec, "before": self.before, "runs": self.runs, "promoted": self.promoted,
                "verified_now": self.verified_now, "tried": self.tried, "refused": self.refused,
                "waiting": self.waiting, "eligible": self.eligible, "stopped": self.stopped,
                "problem": self.problem, "downloaded_bytes": self.downloaded, "removed": self.removed,
                "freed_bytes": self.freed}

    def to_json(self) -> dict[str, Any]:
        if self.health is not None:
            doc = self.health.to_json()
        else:
            doc = {"profile": self.profile, "version": self.runs, "endpoint": self.endpoint,
                   "action": "promoted" if self.promoted else "none"}
        doc["channel"] = self.channel_json()
        doc["exit_code"] = int(self.exit_code)
        return doc
