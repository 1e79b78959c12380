"""One HTTP GET bounded as a whole: a deadline for the complete answer and a cap on its size.

A registry or proxy that never answers, trickles a byte at a time or streams forever costs at most
the deadline and the cap, never a hang or exhausted memory. A registry that used up a whole
deadline is remembered for this process, so one command waits for a dead proxy once, not once per
profile.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal

from pinman.record import record

if TYPE_CHECKING:
    import requests

DEFAULT_DEADLINE = 15.0  # seconds for a whole request (connect, headers, body) without `fetch-timeout`
# The abbreviated claude-code packument is ~0.74 MB (473 versions, December 2026): room to grow
# ~90 times, while an endless answer stops long before it exhausts memory.
MAX_BYTES = 64 * 1024 * 1024
_CHUNK = 16 * 1024  # small, so a compressed chunk cannot inflate far past MAX_BYTES before the check


@record
class Answer:
    status: int
    headers: Mapping[str, str]
    body: bytes | bytearray


class Unbounded(Exception):
    """The answer did not complete within the deadline, or grew past the size cap."""

    def __init__(self, kind: Literal["deadline", "size"]) -> None:
        super().__init__(kind)
        self.kind = kind

    def describe(self, deadline: float, max_bytes: int) -> str:
        if self.kind == "deadline":
            return f"timed out: no complete answer within {deadline:g} s"
        size = f"{max_bytes / 2**20:g} MB" if max_bytes >= 2**20 else f"{max_bytes} bytes"
        return f"the answer grew past {size}"

    @property
    def hint(self) -> str:
        if self.kind == "deadline":
            return ("a proxy or registry that accepts connections but does not answer? check the registry "
                    "and proxy in your .npmrc; npm's fetch-timeout (ms) sets how long pinman waits")
        return "a registry or proxy is sending an endless answer: check the registry set in your .npmrc"


# registry URL -> (when, why) for registries that used up a whole deadline in this process: one
# command resolves several profiles, each through its own client, and must not wait once per profile
_UNRESPONSIVE: dict[str, tuple[float, str]] = {}
_UNRESPONSIVE_FOR = 300.0  # seconds; only long-lived processes ever ask again


def forget_unresponsive() -> None:
    """Ask every registry again (a long-lived process, or tests reusing loopback ports)."""
    _UNRESPONSIVE.clear()


def mark_unresponsive(registry: str, cause: str) -> None:
    _UNRESPONSIVE[registry] = (time.monotonic(), cause)


def unresponsive(registry: str) -> str | None:
    seen = _UNRESPONSIVE.get(registry)
    if seen is None or time.monotonic() - seen[0] > _UNRESPONSIVE_FOR:
        return None
    return seen[1]


def bounded_get(session: requests.Session, url: str, headers: Mapping[str, str], verify: bool | str,
                 deadline: float, max_bytes: int) -> Answer:
    """GET `url`, bounded as a whole: the complete answer within `deadline` seconds and
    `max_bytes` bytes, else `Unbounded`.

    requests' timeout bounds each socket read, not the request (a byte every few seconds keeps
    it alive forever), and name lookup is not bounded at all; so the request runs in a daemon
    thread and this one waits for it at most `deadline`. On a deadline, the connection is shut
    down so the thread ends too; the body is counted while it is read (after decompression).
    """
    box: dict[str, Any] = {}
    done = threading.Event()
    end = time.monotonic() + deadline

    def work() -> None:
        try:
            box["answer"] = _read(session, url, headers, verify, deadline, max_bytes, end, box)
        except BaseException as exc:  # noqa: BLE001 - handed to the waiting thread
            box["error"] = exc
        finally:
            done.set()

    threading.Thread(target=work, name="pinman-registry-get", daemon=True).start()
    if not done.wait(deadline):
        _abort(box.get("response"))
        raise Unbounded("deadline")
    if "error" in box:
        raise box["error"]
    answer: Answer = box["answer"]
    return answer


def _read(session: requests.Session, url: str, headers: Mapping[str, str], verify: bool | str,
          deadline: float, max_bytes: int, end: float, box: dict[str, Any]) -> Answer:
    import requests

    try:
        return _read_bounded(session, url, headers, verify, deadline, max_bytes, end, box)
    except requests.Timeout:  # a socket timeout racing the deadline: the same failure, said the same way
        raise Unbounded("deadline") from None


def _read_bounded(session: requests.Session, url: str, headers: Mapping[str, str], verify: bool | str,
                  deadline: float, max_bytes: int, end: float, box: dict[str, Any]) -> Answer:
    resp = session.get(url, headers=dict(headers), timeout=(deadline, deadline), verify=verify, stream=True)
    box["response"] = resp
    with resp:
        length = resp.headers.get("Content-Length", "")
        if length.isdigit() and int(length) > max_bytes:
            raise Unbounded("size")
        body = bytearray()
        for chunk in resp.iter_content(_CHUNK):
            body += chunk
            if len(body) > max_bytes:
                raise Unbounded("size")
            if time.monotonic() > end:
                raise Unbounded("deadline")
        return Answer(resp.status_code, resp.headers, body)


def _abort(resp: Any) -> None:
    """Best effort: shut the response's socket so a thread blocked reading it wakes up."""
    raw = getattr(resp, "raw", None)
    conn = getattr(raw, "connection", None) or getattr(raw, "_connection", None)
    sock = getattr(conn, "sock", None)
    if isinstance(sock, socket.socket):
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def describe_error(exc: Exception) -> str:
    import requests

    if isinstance(exc, requests.Timeout):
        return "timed out"
    if isinstance(exc, requests.exceptions.SSLError):
        return "TLS error (set `cafile` in .npmrc for a private CA)"
    if isinstance(exc, requests.ConnectionError):
        return "connection failed"
    return type(exc).__name__
