"""npm registry client: packuments, cached on disk, revalidated with ETag, usable offline.

pinman asks the registry the same question npm does (the abbreviated "corgi" packument) and picks
a version with `pinman.npm.pick.pick`, so `pinman` and `npm install` agree. The cache holds only
what picking and installing need; credentials from `.npmrc` are sent, never stored or shown.

How fresh an answer must be is the caller's choice: `offline` (the cache, whatever its age: read
commands), `within_ttl` (the cache while younger than PINMAN_REGISTRY_TTL minutes: the shim, checks)
or `max_age=0` (ask the registry: resolve, lock, upgrade, installs). Every request is bounded as a
whole, by a deadline (npm's `fetch-timeout`, else DEFAULT_DEADLINE) and a size (MAX_BYTES), so a
registry or proxy that never answers, trickles, or streams forever costs a bounded wait and memory.
"""

from __future__ import annotations

import enum
import hashlib
import json
import os
import re
import socket
import subprocess
import threading
import time
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import quote, urlsplit, urlunsplit

from pinman import __version__ as _pinman_version
from pinman.errors import RegistryError, UsageError, VersionNotFound
from pinman.state.fsutil import atomic_write
from pinman.npm.config import NpmConfig, load_npm_config
from pinman.paths import Paths
from pinman.npm.spec import parse_spec
from pinman.npm.pick import pick_manifest

if TYPE_CHECKING:
    import requests

ACCEPT = "application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8"
CACHE_SCHEMA = 1
DEFAULT_DEADLINE = 15.0  # seconds for a whole request (connect, headers, body) without `fetch-timeout`
# The abbreviated claude-code packument is ~0.74 MB (473 versions, December 2026): room to grow
# ~90 times, while an endless answer stops long before it exhausts memory.
MAX_BYTES = 64 * 1024 * 1024
DEFAULT_TTL_MINUTES = 10.0
TTL_ENV = "PINMAN_REGISTRY_TTL"
_CHUNK = 16 * 1024  # small, so a compressed chunk cannot inflate far past MAX_BYTES before the check
_NAME = re.compile(r"^(?:@[a-z0-9][a-z0-9._~-]*/)?[a-z0-9._~-][a-z0-9._~-]*$", re.IGNORECASE)


@dataclass(frozen=True)
class VersionInfo:
    version: str
    integrity: str | None = None
    tarball: str | None = None
    engines_node: str | None = None
    deprecated: bool = False
    optional_dependencies: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Packument:
    name: str
    dist_tags: dict[str, str]
    versions: dict[str, VersionInfo]
    stale: bool = False  # served from the cache because the registry could not be reached
    fetched_at: float = 0.0  # when the registry last confirmed this document (epoch seconds)
    problem: str | None = None  # why the registry was not used although it was asked (one line)


@dataclass(frozen=True)
class Resolution:
    spec: str
    version: str
    integrity: str | None
    stale: bool
    skipped: list[str]  # known-bad versions npm would have picked first
    fetched_at: float = 0.0
    problem: str | None = None  # the registry did not answer; this came from the cache


class _Auto(enum.Enum):
    AUTO = "auto"


AUTO = _Auto.AUTO


@cache
def detect_node_version() -> str | None:
    """`node --version` of the node on PATH (what npm would run under), or None without node."""
    try:
        out = subprocess.run(
            ["node", "--version"], capture_output=True, text=True, timeout=10, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


class NotCached(RegistryError):
    """Offline, and the registry has never been asked about this package on this machine."""


def ttl_seconds(environ: Mapping[str, str] | None = None) -> float:
    """How long a registry answer serves without asking again: PINMAN_REGISTRY_TTL minutes."""
    raw = (os.environ if environ is None else environ).get(TTL_ENV, "").strip()
    if not raw:
        return DEFAULT_TTL_MINUTES * 60
    try:
        minutes = float(raw)
    except ValueError:
        minutes = -1.0
    if not 0 <= minutes < 10**7:  # also NaN and inf
        raise UsageError(f"{TTL_ENV}={raw[:40]!r} is not a number of minutes",
                         hint=f"e.g. {TTL_ENV}=10; 0 asks the registry every time")
    return minutes * 60


class Registry:
    def __init__(
        self,
        paths: Paths,
        *,
        url: str | None = None,
        offline: bool = False,
        timeout: float | None = None,  # seconds for a whole request; default: `fetch-timeout`, else 15
        config: NpmConfig | None = None,
        max_age: float = 0.0,  # seconds a cached answer serves without asking; 0: always ask
        max_bytes: int = MAX_BYTES,
    ) -> None:
        self.paths = paths
        self.offline = offline
        self.timeout = timeout
        self.max_age = max_age
        self.max_bytes = max_bytes
        self._url = url if url is None or url.endswith("/") else url + "/"
        self._config = config
        self._session: requests.Session | None = None
        self._memo: dict[str, Packument] = {}

    @classmethod
    def within_ttl(cls, paths: Paths, **kw: Any) -> Registry:
        """A client that answers from the cache while it is younger than PINMAN_REGISTRY_TTL."""
        return cls(paths, max_age=ttl_seconds(), **kw)

    @property
    def config(self) -> NpmConfig:
        if self._config is None:
            self._config = load_npm_config()
        return self._config

    def url_for(self, name: str) -> str:
        """The registry serving `name`: the explicit url, else the npm configuration's."""
        return self._url or self.config.registry_for(name)

    def packument(self, name: str, *, max_age: float | None = None) -> Packument:
        """The package's metadata; from the cache if younger than `max_age` s (default: this
        client's) or offline."""
        _check_name(name)
        if name in self._memo:
            return self._memo[name]
        registry = self.url_for(name)
        cache_file = self._cache_file(registry, name)
        cached = _read_cache(cache_file, name)
        young = max_age if max_age is not None else self.max_age
        # A time in the future (a clock set back, a hand-edited file) is not young: ask.
        if cached is not None and (self.offline or 0 <= time.time() - cached[0].fetched_at < young):
            doc = cached[0] if not self.offline else _replace(cached[0], stale=True)
        elif self.offline:
            raise NotCached(
                f"offline, and no cached registry data for {name}",
                hint="run once with network access so pinman can cache it",
            )
        else:
            doc = self._fetch(registry, name, cache_file, cached)
        self._memo[name] = doc
        return doc

    def resolve(
        self,
        name: str,
        spec: str,
        *,
        skip: Collection[str] = (),
        node_version: str | None | Literal[_Auto.AUTO] = AUTO,
        max_age: float | None = None,
    ) -> Resolution:
        """The version `npm install name@spec` would install, with its integrity."""
        parsed = parse_spec(spec)
        node = detect_node_version() if node_version is AUTO else node_version
        doc = self.packument(name, max_age=max_age)
        picked = pick_manifest(parsed, doc, node, skip)
        info = doc.versions[picked.version]
        return Resolution(spec, picked.version, info.integrity, doc.stale, list(picked.skipped),
                          doc.fetched_at, doc.problem)

    # --- network ------------------------------------------------------------------------

    def _fetch(
        self,
        registry: str,
        name: str,
        cache_file: Path,
        cached: tuple[Packument, str | None, str | None] | None,
    ) -> Packument:
        import requests  # slow to import; only commands that talk to a registry pay for it

        down = _unresponsive(registry)
        if down is not None:  # this process already waited for it once: a dead proxy costs one deadline
            return self._fallback(registry, name, cached, down)
        url = registry + name.replace("/", "%2f")  # npm-package-arg's escapedName
        headers = {"Accept": ACCEPT, "User-Agent": f"pinman/{_pinman_version}"}
        auth = self.config.auth_header(url)
        if auth:
            headers["Authorization"] = auth
        if cached is not None and cached[1]:
            headers["If-None-Match"] = cached[1]
        if cached is not None and cached[2]:
            headers["If-Modified-Since"] = cached[2]
        deadline = self._timeout()
        try:
            resp = _bounded_get(self._http(), url, headers, self.config.tls_verify(), deadline, self.max_bytes)
        except _Unbounded as exc:
            cause = exc.describe(deadline, self.max_bytes)
            if exc.kind == "deadline":
                _UNRESPONSIVE[registry] = (time.monotonic(), cause)
            return self._fallback(registry, name, cached, cause, exc.hint)
        except requests.RequestException as exc:
            return self._fallback(registry, name, cached, _describe(exc))
        if resp.status == 304 and cached is not None:
            # Only the time changes: touch the file instead of rewriting the whole document.
            return _replace(cached[0], fetched_at=_touch(cache_file) or time.time())
        if resp.status >= 500:
            return self._fallback(registry, name, cached, f"HTTP {resp.status}")
        if resp.status == 404:
            raise VersionNotFound(
                f"package {name} not found on {_shown(registry)}",
                hint="check the package name, and the registry set in your .npmrc",
            )
        if resp.status in (401, 403):
            raise RegistryError(
                f"{_shown(registry)} refused access to {name} (HTTP {resp.status})",
                hint=f"run `npm login --registry {_shown(registry)}`, or set its _authToken",
            )
        if resp.status != 200:
            raise RegistryError(f"{_shown(registry)} answered HTTP {resp.status} for {name}")
        doc = _parse_document(name, registry, resp.body, fetched_at=time.time())
        self._write_cache(
            cache_file, registry, doc, resp.headers.get("ETag"), resp.headers.get("Last-Modified")
        )
        return doc

    def _fallback(
        self,
        registry: str,
        name: str,
        cached: tuple[Packument, str | None, str | None] | None,
        cause: str,
        hint: str | None = None,
    ) -> Packument:
        if cached is not None:
            return _replace(cached[0], stale=True, problem=f"{_host(registry)}: {cause}")
        raise RegistryError(
            f"cannot fetch {name} from {_shown(registry)}: {cause}",
            hint=hint or "check the network and the registry in your .npmrc; nothing is cached yet",
        )

    def _timeout(self) -> float:
        return self.timeout if self.timeout is not None else self.config.fetch_timeout() or DEFAULT_DEADLINE

    def _http(self) -> requests.Session:
        if self._session is None:
            import requests

            self._session = requests.Session()
        return self._session

    # --- cache --------------------------------------------------------------------------

    def _cache_file(self, registry: str, name: str) -> Path:
        # one file per (registry, package): a scoped registry must not answer for another
        tag = hashlib.sha256(registry.encode()).hexdigest()[:10]
        return self.paths.registry_cache / f"{quote(name, safe='@')}.{tag}.json"

    def _write_cache(
        self, path: Path, registry: str, doc: Packument, etag: str | None, modified: str | None
    ) -> None:
        data = {
            "schema": CACHE_SCHEMA,
            "registry": _shown(registry),
            "etag": etag,
            "last_modified": modified,
            "fetched_at": doc.fetched_at,
            "dist-tags": doc.dist_tags,
            "versions": {v: _dump_version(i) for v, i in doc.versions.items()},
        }
        try:
            atomic_write(path, json.dumps(data, separators=(",", ":")))
            os.utime(path, (doc.fetched_at, doc.fetched_at), follow_symlinks=False)  # see _read_cache
        except OSError:
            pass  # a cache that cannot be written only costs the next run a download


@dataclass(frozen=True)
class _Answer:
    status: int
    headers: Mapping[str, str]
    body: bytes | bytearray


class _Unbounded(Exception):
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


def _unresponsive(registry: str) -> str | None:
    seen = _UNRESPONSIVE.get(registry)
    if seen is None or time.monotonic() - seen[0] > _UNRESPONSIVE_FOR:
        return None
    return seen[1]


def _bounded_get(session: requests.Session, url: str, headers: Mapping[str, str], verify: bool | str,
                 deadline: float, max_bytes: int) -> _Answer:
    """GET `url`, bounded as a whole: the complete answer within `deadline` seconds and
    `max_bytes` bytes, else `_Unbounded`.

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
        raise _Unbounded("deadline")
    if "error" in box:
        raise box["error"]
    answer: _Answer = box["answer"]
    return answer


def _read(session: requests.Session, url: str, headers: Mapping[str, str], verify: bool | str,
          deadline: float, max_bytes: int, end: float, box: dict[str, Any]) -> _Answer:
    import requests

    try:
        return _read_bounded(session, url, headers, verify, deadline, max_bytes, end, box)
    except requests.Timeout:  # a socket timeout racing the deadline: the same failure, said the same way
        raise _Unbounded("deadline") from None


def _read_bounded(session: requests.Session, url: str, headers: Mapping[str, str], verify: bool | str,
                  deadline: float, max_bytes: int, end: float, box: dict[str, Any]) -> _Answer:
    resp = session.get(url, headers=dict(headers), timeout=(deadline, deadline), verify=verify, stream=True)
    box["response"] = resp
    with resp:
        length = resp.headers.get("Content-Length", "")
        if length.isdigit() and int(length) > max_bytes:
            raise _Unbounded("size")
        body = bytearray()
        for chunk in resp.iter_content(_CHUNK):
            body += chunk
            if len(body) > max_bytes:
                raise _Unbounded("size")
            if time.monotonic() > end:
                raise _Unbounded("deadline")
        return _Answer(resp.status_code, resp.headers, body)


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


def _touch(path: Path) -> float | None:
    """Mark a cached document as confirmed now; its new mtime, or None if that failed."""
    try:
        os.utime(path, follow_symlinks=False)
        return path.stat(follow_symlinks=False).st_mtime
    except (OSError, NotImplementedError):
        return None  # a cache that cannot be touched only costs the next run a revalidation


def _host(url: str) -> str:
    """The registry's host[:port], for a one-line note."""
    return urlsplit(url).netloc.rsplit("@", 1)[-1] or _shown(url)


def _shown(url: str) -> str:
    """`url` fit for a message: a `user:password@` part (npm allows one) is dropped, and what
    the environment supplied to the npm config is shown as `${NAME}` (npmrc.Url)."""
    url = getattr(url, "shown", url)
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))


def _check_name(name: str) -> None:
    if not _NAME.match(name) or len(name) > 214 or ".." in name:
        raise RegistryError(f"{name!r} is not an npm package name")


def _describe(exc: Exception) -> str:
    import requests

    if isinstance(exc, requests.Timeout):
        return "timed out"
    if isinstance(exc, requests.exceptions.SSLError):
        return "TLS error (set `cafile` in .npmrc for a private CA)"
    if isinstance(exc, requests.ConnectionError):
        return "connection failed"
    return type(exc).__name__


def _replace(doc: Packument, **changes: Any) -> Packument:
    import dataclasses

    return dataclasses.replace(doc, **changes)


def _parse_document(name: str, registry: str, body: bytes | bytearray, *, fetched_at: float) -> Packument:
    try:
        raw = json.loads(body)
    except (ValueError, RecursionError) as exc:  # also UnicodeDecodeError for non-UTF-8 bytes
        detail = "nested too deeply" if isinstance(exc, RecursionError) else "not UTF-8"
        if isinstance(exc, json.JSONDecodeError):
            detail = f"{exc.msg} at byte {exc.pos}"
        raise RegistryError(
            f"{_shown(registry)} sent malformed metadata for {name} ({detail})",
            hint="try again; if it persists the registry or a proxy is truncating responses",
        ) from None
    doc = _packument_from(name, raw, fetched_at=fetched_at)
    if doc is None:
        raise RegistryError(
            f"{_shown(registry)} sent metadata for {name} without a versions list",
            hint="check the registry set in your .npmrc: it does not answer like an npm registry",
        )
    return doc


def _packument_from(name: str, raw: object, *, fetched_at: float) -> Packument | None:
    """The document's usable parts. A version that is not plain semver, or a dist-tag that is not
    a printable name pointing at one, is left out: versions become folder names in the store and
    both end up in messages, so a registry cannot smuggle in a path or a terminal escape."""
    if not isinstance(raw, dict) or not isinstance(raw.get("versions"), dict):
        return None
    tags = raw.get("dist-tags")
    dist_tags = {
        k: v for k, v in (tags.items() if isinstance(tags, dict) else ())
        if _TAG.fullmatch(k) and isinstance(v, str) and _VERSION.fullmatch(v)
    }
    versions = {
        v: _version_from(v, m) for v, m in raw["versions"].items()
        if isinstance(m, dict) and _VERSION.fullmatch(v)
    }
    return Packument(name, dist_tags, versions, False, fetched_at)


# semver.org 2.0.0, as the registry publishes versions (npm cleans them before they get there:
# no build metadata, which the store, keyed by exact version, could not hold either)
_ID = r"(?:0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*)"
_VERSION = re.compile(
    rf"(?:0|[1-9]\d*)\.(?:0|[1-9]\d*)\.(?:0|[1-9]\d*)(?:-{_ID}(?:\.{_ID})*)?"
)
_TAG = re.compile(r"[!-~]{1,214}")  # printable ASCII, no spaces


def _version_from(version: str, m: Mapping[str, Any]) -> VersionInfo:
    dist = m.get("dist")
    dist = dist if isinstance(dist, dict) else {}
    engines = m.get("engines")
    node = engines.get("node") if isinstance(engines, dict) else None
    opt = m.get("optionalDependencies")
    return VersionInfo(
        version=version,
        integrity=_str(dist.get("integrity")),
        tarball=_str(dist.get("tarball")),
        engines_node=node if isinstance(node, str) else None,
        deprecated=bool(m.get("deprecated")),  # npm tests truthiness: "" is not deprecated
        optional_dependencies={
            str(k): str(v) for k, v in (opt.items() if isinstance(opt, dict) else ())
        },
    )


def _str(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _dump_version(info: VersionInfo) -> dict[str, Any]:
    # written in the registry's own shape so one reader handles both
    out: dict[str, Any] = {"dist": {"integrity": info.integrity, "tarball": info.tarball}}
    if info.engines_node is not None:
        out["engines"] = {"node": info.engines_node}
    if info.deprecated:
        out["deprecated"] = True
    if info.optional_dependencies:
        out["optionalDependencies"] = info.optional_dependencies
    return out


def _read_cache(path: Path, name: str) -> tuple[Packument, str | None, str | None] | None:
    """The cached document with its ETag and Last-Modified; None if missing or unreadable."""
    try:
        data = path.read_bytes()
        touched = path.stat().st_mtime  # a 304 only touches the file (see Registry._fetch)
        raw = json.loads(data)
    except (OSError, ValueError, RecursionError):
        return None  # a corrupt cache is as good as none: fetch again
    if not isinstance(raw, dict) or raw.get("schema") != CACHE_SCHEMA:
        return None
    fetched_at = raw.get("fetched_at")
    recorded = float(fetched_at) if isinstance(fetched_at, (int, float)) else 0.0
    doc = _packument_from(name, raw, fetched_at=max(recorded, touched) if recorded else 0.0)
    if doc is None:
        return None
    return doc, _str(raw.get("etag")), _str(raw.get("last_modified"))
