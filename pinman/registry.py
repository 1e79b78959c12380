"""npm registry client: packuments, cached on disk, revalidated with ETag, usable offline.

pinman asks the registry the same question npm does (the abbreviated "corgi" packument) and picks
a version with `pinman.versions.pick`, so `pinman` and `npm install` agree. The cache holds only
what picking and installing need; credentials from `.npmrc` are sent, never stored or shown.
"""

from __future__ import annotations

import enum
import hashlib
import json
import re
import subprocess
import time
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import quote, urlsplit, urlunsplit

from pinman import __version__ as _pinman_version
from pinman.errors import RegistryError, VersionNotFound
from pinman.fsutil import atomic_write
from pinman.npmrc import NpmConfig, load_npm_config
from pinman.paths import Paths
from pinman.versions import parse_spec, pick_manifest

if TYPE_CHECKING:
    import requests

CLAUDE_CODE = "@anthropic-ai/claude-code"
ACCEPT = "application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8"
CACHE_SCHEMA = 1
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


@dataclass(frozen=True)
class Resolution:
    spec: str
    version: str
    integrity: str | None
    stale: bool
    skipped: list[str]  # known-bad versions npm would have picked first
    fetched_at: float = 0.0


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


class Registry:
    def __init__(
        self,
        paths: Paths,
        *,
        url: str | None = None,
        offline: bool = False,
        timeout: float | None = None,  # seconds; default: npm's `fetch-timeout`, else 10
        config: NpmConfig | None = None,
    ) -> None:
        self.paths = paths
        self.offline = offline
        self.timeout = timeout
        self._url = url if url is None or url.endswith("/") else url + "/"
        self._config = config
        self._session: requests.Session | None = None
        self._memo: dict[str, Packument] = {}

    @property
    def config(self) -> NpmConfig:
        if self._config is None:
            self._config = load_npm_config()
        return self._config

    def url_for(self, name: str) -> str:
        """The registry serving `name`: the explicit url, else the npm configuration's."""
        return self._url or self.config.registry_for(name)

    def packument(self, name: str, *, max_age: float = 0.0) -> Packument:
        """The package's metadata; from the cache if younger than `max_age` s or offline."""
        _check_name(name)
        if name in self._memo:
            return self._memo[name]
        registry = self.url_for(name)
        cache_file = self._cache_file(registry, name)
        cached = _read_cache(cache_file, name)
        if cached is not None and (self.offline or time.time() - cached[0].fetched_at < max_age):
            doc = cached[0] if not self.offline else _replace(cached[0], stale=True)
        elif self.offline:
            raise RegistryError(
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
        max_age: float = 0.0,
    ) -> Resolution:
        """The version `npm install name@spec` would install, with its integrity."""
        parsed = parse_spec(spec)
        node = detect_node_version() if node_version is AUTO else node_version
        doc = self.packument(name, max_age=max_age)
        picked = pick_manifest(parsed, doc, node, skip)
        info = doc.versions[picked.version]
        return Resolution(
            spec, picked.version, info.integrity, doc.stale, list(picked.skipped), doc.fetched_at
        )

    # --- network ------------------------------------------------------------------------

    def _fetch(
        self,
        registry: str,
        name: str,
        cache_file: Path,
        cached: tuple[Packument, str | None, str | None] | None,
    ) -> Packument:
        import requests  # slow to import; only commands that talk to a registry pay for it

        url = registry + name.replace("/", "%2f")  # npm-package-arg's escapedName
        headers = {"Accept": ACCEPT, "User-Agent": f"pinman/{_pinman_version}"}
        auth = self.config.auth_header(url)
        if auth:
            headers["Authorization"] = auth
        if cached is not None and cached[1]:
            headers["If-None-Match"] = cached[1]
        if cached is not None and cached[2]:
            headers["If-Modified-Since"] = cached[2]
        try:
            resp = self._http().get(
                url, headers=headers, timeout=self._timeout(), verify=self.config.tls_verify()
            )
            body = resp.content  # read here so a dropped connection is a network failure
        except requests.RequestException as exc:
            return self._fallback(registry, name, cached, _describe(exc))
        if resp.status_code == 304 and cached is not None:
            doc = _replace(cached[0], fetched_at=time.time())
            self._write_cache(cache_file, registry, doc, cached[1], cached[2])
            return doc
        if resp.status_code >= 500:
            return self._fallback(registry, name, cached, f"HTTP {resp.status_code}")
        if resp.status_code == 404:
            raise VersionNotFound(
                f"package {name} not found on {_shown(registry)}",
                hint="check the package name, and the registry set in your .npmrc",
            )
        if resp.status_code in (401, 403):
            raise RegistryError(
                f"{_shown(registry)} refused access to {name} (HTTP {resp.status_code})",
                hint=f"run `npm login --registry {_shown(registry)}`, or set its _authToken",
            )
        if resp.status_code != 200:
            raise RegistryError(f"{_shown(registry)} answered HTTP {resp.status_code} for {name}")
        doc = _parse_document(name, registry, body, fetched_at=time.time())
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
    ) -> Packument:
        if cached is not None:
            return _replace(cached[0], stale=True)
        raise RegistryError(
            f"cannot fetch {name} from {_shown(registry)}: {cause}",
            hint="check the network and the registry in your .npmrc; nothing is cached yet",
        )

    def _timeout(self) -> float:
        return self.timeout if self.timeout is not None else self.config.fetch_timeout() or 10.0

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
        except OSError:
            pass  # a cache that cannot be written only costs the next run a download


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


def _parse_document(name: str, registry: str, body: bytes, *, fetched_at: float) -> Packument:
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
        raw = json.loads(path.read_bytes())
    except (OSError, ValueError, RecursionError):
        return None  # a corrupt cache is as good as none: fetch again
    if not isinstance(raw, dict) or raw.get("schema") != CACHE_SCHEMA:
        return None
    fetched_at = raw.get("fetched_at")
    doc = _packument_from(
        name, raw, fetched_at=fetched_at if isinstance(fetched_at, (int, float)) else 0.0
    )
    if doc is None:
        return None
    return doc, _str(raw.get("etag")), _str(raw.get("last_modified"))
