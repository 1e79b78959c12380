"""What a bisect found, for the CLI to render: the search result with the candidates, the
known-bad versions left out, the fingerprint diff that explains the failure, and the progress
events the driver emits while it runs (the core never prints)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import field
from typing import TYPE_CHECKING, Any

from pinman.errors import ExitCode
from pinman.bisect.search import Probe, SearchResult
from pinman.npm.semver import compare, parse_version
from pinman.record import record

if TYPE_CHECKING:
    from pinman.fingerprint.fingerprints import Diff


@record
class Event:
    """Progress, for the CLI to show: the core never prints."""

    kind: str  # window | resume | install | probe | result | fingerprint | remove
    version: str = ""
    probe: Probe | None = None
    detail: str = ""


OnEvent = Callable[[Event], None]


@record(frozen=False)
class BisectReport:
    profile: str
    endpoint: str
    result: SearchResult
    candidates: list[str]
    skipped: dict[str, str]  # known-bad version -> why, left out of the candidates
    resumed: int = 0  # verdicts taken from a saved state
    diff: Diff | None = None
    fingerprint_error: str | None = None
    removed: list[str] = field(default_factory=list)
    duration: float = 0.0

    @property
    def rejected(self) -> str | None:
        ff = self.result.first_failing
        probes = self.result.observed.get(ff or "", [])
        return next((p.rejected for p in probes if p.rejected), None)

    @property
    def rejected_message(self) -> str | None:
        ff = self.result.first_failing
        return next((p.message for p in self.result.observed.get(ff or "", []) if p.message), None)

    @property
    def skipped_between(self) -> list[str]:
        """Known-bad versions between the answer's two versions: never probed, likely failing."""

        nw, ff = self.result.newest_working, self.result.first_failing
        if not nw or not ff:
            return []
        lo, hi = parse_version(nw), parse_version(ff)
        assert lo is not None and hi is not None
        return [v for v in self.skipped if (p := parse_version(v)) is not None
                and compare(lo, p) < 0 < compare(hi, p)]

    @property
    def pin_command(self) -> str | None:
        nw = self.result.newest_working
        return f"pinman pin {self.profile} {nw}" if self.result.status == "found" and nw else None

    @property
    def exit_code(self) -> ExitCode:
        return {"found": ExitCode.OK, "bad-works": ExitCode.OK,
                "stopped": ExitCode.NOT_CLIENT}.get(self.result.status, ExitCode.BROKEN)

    def to_json(self) -> dict[str, Any]:
        r = self.result
        return {
            "profile": self.profile,
            "endpoint": self.endpoint,
            "status": r.status,
            "detail": r.detail,
            "good": r.good,
            "bad": r.bad,
            "newest_working": r.newest_working,
            "first_failing": r.first_failing,
            "rejected": self.rejected,
            "message": self.rejected_message,
            "adds": self.diff.to_json() if self.diff else None,
            "adds_summary": self.diff.summary() if self.diff else None,
            "fingerprint_error": self.fingerprint_error,
            "pin": self.pin_command,
            "conflict": list(r.conflict) if r.conflict else None,
            "candidates": self.candidates,
            "skipped_known_bad": self.skipped,
            "skipped_between": self.skipped_between,
            "probes": r.probes,
            "verdicts": r.verdicts,
            "budget": r.budget,
            "resumed": self.resumed,
            "attempts": [p.to_json() for p in r.attempts],
            "removed": self.removed,
            "duration": round(self.duration, 3),
            "exit_code": int(self.exit_code),
        }
