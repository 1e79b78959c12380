"""A health check's verdict: one `Kind` of outcome, and the advice that goes with each kind.

Only `schema` ("the endpoint rejects what this client version sends") justifies a rollback; every
other kind's advice says why changing versions will not help.
"""

from __future__ import annotations

from enum import StrEnum

from pinman.record import record


class Kind(StrEnum):
    OK = "ok"
    SCHEMA = "schema"
    AUTH = "auth"
    PERMISSION = "permission"
    BILLING = "billing"
    RATE_LIMIT = "rate_limit"
    OVERLOADED = "overloaded"
    SERVER = "server"
    TIMEOUT = "timeout"
    NETWORK = "network"
    CLIENT = "client"
    UNKNOWN = "unknown"


@record
class Outcome:
    kind: Kind
    status: int | None
    rejected: str | None  # the field path or beta named in the error, when it can be named
    message: str  # short human message
    advice: str  # one line: what to do
    rule: str | None = None  # which table entry decided (for diagnostics and tests)


NO_VERSION_FIX = "changing versions will not help"

ADVICE: dict[Kind, str] = {
    Kind.OK: "",
    Kind.SCHEMA: "the endpoint rejects what this version sends; roll back to the last known-good",
    Kind.AUTH: f"check ANTHROPIC_API_KEY / ANTHROPIC_AUTH_TOKEN; {NO_VERSION_FIX}",
    Kind.PERMISSION: f"the key may not use this model or resource; {NO_VERSION_FIX}",
    Kind.BILLING: f"fix billing for this account; {NO_VERSION_FIX}",
    Kind.RATE_LIMIT: f"rate limited: wait and check again; {NO_VERSION_FIX}",
    Kind.OVERLOADED: f"endpoint overloaded; {NO_VERSION_FIX}",
    Kind.SERVER: f"endpoint error: try again later; {NO_VERSION_FIX}",
    Kind.TIMEOUT: "no answer in time: check the endpoint, or raise [health] timeout",
    Kind.NETWORK: f"cannot reach the endpoint: check ANTHROPIC_BASE_URL; {NO_VERSION_FIX}",
    Kind.CLIENT: f"the endpoint refused this request for a reason of its own; {NO_VERSION_FIX}",
    Kind.UNKNOWN: "unrecognised failure: read the message; no automatic rollback",
}
