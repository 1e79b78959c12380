"""What a health check found and did: the verdict, the action taken, and the exit code it means.

One report per check, whoever asked (the CLI, a hook, the periodic mode); `to_json()` is its
stable shape for `--json` and notices.
"""

from __future__ import annotations

from dataclasses import field
from typing import TYPE_CHECKING, Any

from pinman.errors import ExitCode
from pinman.record import record

if TYPE_CHECKING:
    from pinman.health.outcome import Outcome



@record(frozen=False)
class CheckReport:
    profile: str
    version: str
    endpoint: str
    outcome: Outcome
    duration: float
    # ok | not-client | reported | no-known-good | endpoint-changed | rolled-back | unavailable | recovered
    # | remedied (kept on the version with client switches, verified ok)
    action: str
    detail: str
    rollback: dict[str, str] | None = None
    recovered: dict[str, str] | None = None  # {"from": override version, "to": the pin's version}
    pin_probe: dict[str, str] | None = None  # on an override: what probing the pinned version saw
    override_dropped: str | None = None  # an override the pin outgrew, dropped before probing
    known_good_checked_at: float | None = None
    extra: list[Outcome] = field(default_factory=list)
    # seconds since the check started: "detected" (first verdict), "reprobed", "switched"
    timings: dict[str, float] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)  # what this machine's managed settings would stop
    # the remedy the version runs with at this endpoint after the check (state.overrides.Remedy.to_json()
    # plus "env_line", the profile [env] lines that would share it), set by the policy above health
    remedy: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)  # what the policy tried before its last step, and why not

    @property
    def exit_code(self) -> ExitCode:
        return {
            "ok": ExitCode.OK,
            "recovered": ExitCode.OK,  # back on the pin, verified: all is well
            "rolled-back": ExitCode.ROLLED_BACK,
            "remedied": ExitCode.ROLLED_BACK,  # changed what runs to keep it working, verified
            "not-client": ExitCode.NOT_CLIENT,
        }.get(self.action, ExitCode.BROKEN)

    def to_json(self) -> dict[str, Any]:
        return {
            "profile": self.profile,
            "version": self.version,
            "endpoint": self.endpoint,
            "outcome": self.outcome.kind.value,
            "status": self.outcome.status,
            "rejected": self.outcome.rejected,
            "message": self.outcome.message,
            "duration": round(self.duration, 3),
            "action": self.action,
            "detail": self.detail,
            "rollback": self.rollback,
            "recovered": self.recovered,
            "pin_probe": self.pin_probe,
            "override_dropped": self.override_dropped,
            "timings": {k: round(v, 3) for k, v in self.timings.items()},
            "warnings": self.warnings,
            "remedy": self.remedy,
            "notes": self.notes,
            "exit_code": int(self.exit_code),
        }
