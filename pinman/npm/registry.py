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
import json
import os
import time
from collections.abc import Collection, Mapping
from dataclasses import field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit, urlunsplit

from pinman import __version__ as _pinman_version
from pinman.errors import RegistryError, UsageError, VersionNotFound
from pinman.npm.cache import cache_path, read_cache, read_times, times_path, touch, write_cache, write_times
from pinman.npm.config import NpmConfig, load_npm_config
from pinman.npm.packument import Packument, packument_from, times_from
from pinman.npm.pick import pick_manifest, weighs_engines
from pinman.names import is_package_name
from pinman.npm.spec import parse_spec
from pinman.paths import Paths
from pinman.record import record

if TYPE_CHECKING:
    import requests

ACCEPT = "application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8"
DEFAULT_TTL_MINUTES = 10.0
TTL_ENV = "PINMAN_REGISTRY_TTL"


@record
class Resolution:
    spec: str
    version: str
    integrity: str | None
    stale: bool
    skipped: list[str]  # known-bad versions npm would have picked first
    fetched_at: float = 0.0
    problem: str | None = None  # the registry did not answer; this came from the cache
    node: str | None = None  # the node version engines were weighed against (None: not weighed)
    engine_skipped: list[str] = field(default_factory=list)  # newer, passed over for engines.node


class _Auto(enum.Enum):
    AUTO = "auto"


AUTO = _Auto.AUTO


@cache
def detect_node_version() -> str | None:
    """`node --version` of the node on PATH (what npm would run under), or None without node."""
    import subprocess  # only when a range has to weigh engines.node

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
        max_bytes: int | None = None,  # default: fetch.MAX_BYTES
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
        cached = read_cache(cache_file, name)
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
        doc = self.packument(name, max_age=max_age)
        node = node_version
        if node is AUTO:  # `node --version` costs a process: only when engines can change the answer
            node = detect_node_version() if weighs_engines(parsed, doc, skip) else None
        picked = pick_manifest(parsed, doc, node, skip)
        info = doc.versions[picked.version]
        return Resolution(spec, picked.version, info.integrity, doc.stale, list(picked.skipped),
                          doc.fetched_at, doc.problem, node, list(picked.engine_skipped))

    def publish_times(self, name: str) -> tuple[dict[str, float], str | None]:
        """When each version of `name` was published (epoch seconds), for a guarded channel's soak;
        with why some are missing (None when none is).

        The abbreviated document npm installs from has no `time` field on registry.npmjs.org (some
        mirrors include it). Then the full document is asked for, bounded like every request, and
        its times are cached beside the other: a published version keeps its time, so it is asked
        for again only when a version without a known time shows up. Offline: the times known here.
        """
        doc = self.packument(name)
        registry = self.url_for(name)
        file = times_path(self.paths.registry_cache, registry, name)
        times = {**read_times(file, doc.versions), **doc.times}
        if self.offline or all(v in times for v in doc.versions):
            return times, None
        fetched, problem = self._full_times(registry, name, set(doc.versions))
        if fetched:
            times = {**times, **fetched}
            write_times(file, _shown(registry), times)
        return times, problem

    def _full_times(self, registry: str, name: str, versions: set[str]) -> tuple[dict[str, float], str | None]:
        """The `time` field of the full document (one bounded request), or why there is none."""
        host = _host(registry)
        resp, problem, _ = self._get(registry, name, "application/json")
        if resp is None:
            return {}, f"{host}: {problem}"
        if resp.status != 200:
            return {}, f"{host}: HTTP {resp.status} for the full document"
        try:
            raw = json.loads(resp.body)
        except (ValueError, RecursionError):
            return {}, f"{host}: malformed full document"
        times = times_from(raw.get("time") if isinstance(raw, dict) else None, versions)
        return times, None if times else f"{host}: no publish times in the full document"

    # --- network ------------------------------------------------------------------------

    def _get(self, registry: str, name: str, accept: str,
             extra: dict[str, str] | None = None) -> tuple[Any, str | None, str | None]:
        """One bounded GET of `name`'s document: (the response, None, None), or (None, why, hint)
        when none came. A registry that used up a whole deadline in this process is not asked again:
        a dead proxy costs one deadline per process."""
        import requests  # slow to import; only commands that talk to a registry pay for it

        from pinman.npm.fetch import MAX_BYTES, Unbounded, bounded_get, describe_error, mark_unresponsive, unresponsive

        down = unresponsive(registry)
        if down is not None:
            return None, down, None
        url = registry + name.replace("/", "%2f")  # npm-package-arg's escapedName
        headers = {"Accept": accept, "User-Agent": f"pinman/{_pinman_version}"}
        auth = self.config.auth_header(url)
        if auth:
            headers["Authorization"] = auth
        headers.update(extra or {})
        cap = MAX_BYTES if self.max_bytes is None else self.max_bytes
        deadline = self._timeout()
        try:
            return bounded_get(self._http(), url, headers, self.config.tls_verify(), deadline, cap), None, None
        except Unbounded as exc:
            cause = exc.describe(deadline, cap)
            if exc.kind == "deadline":
                mark_unresponsive(registry, cause)
            return None, cause, exc.hint
        except requests.RequestException as exc:
            return None, describe_error(exc), None

    def _fetch(
        self,
        registry: str,
        name: str,
        cache_file: Path,
        cached: tuple[Packument, str | None, str | None] | None,
    ) -> Packument:
        extra = {}
        if cached is not None and cached[1]:
            extra["If-None-Match"] = cached[1]
        if cached is not None and cached[2]:
            extra["If-Modified-Since"] = cached[2]
        resp, problem, hint = self._get(registry, name, ACCEPT, extra)
        if resp is None:
            return self._fallback(registry, name, cached, problem or "no answer", hint)
        if resp.status == 304 and cached is not None:
            # Only the time changes: touch the file instead of rewriting the whole document.
            return _replace(cached[0], fetched_at=touch(cache_file) or time.time())
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
        write_cache(cache_file, _shown(registry), doc, resp.headers.get("ETag"), resp.headers.get("Last-Modified"))
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
        from pinman.npm.fetch import DEFAULT_DEADLINE

        return self.timeout if self.timeout is not None else self.config.fetch_timeout() or DEFAULT_DEADLINE

    def _http(self) -> requests.Session:
        if self._session is None:
            import requests

            self._session = requests.Session()
        return self._session

    # --- cache --------------------------------------------------------------------------

    def _cache_file(self, registry: str, name: str) -> Path:
        return cache_path(self.paths.registry_cache, registry, name)


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
    if not is_package_name(name) or ".." in name:
        raise RegistryError(f"{name!r} is not an npm package name")


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
    doc = packument_from(name, raw, fetched_at=fetched_at)
    if doc is None:
        raise RegistryError(
            f"{_shown(registry)} sent metadata for {name} without a versions list",
            hint="check the registry set in your .npmrc: it does not answer like an npm registry",
        )
    return doc
