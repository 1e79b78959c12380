"""Request fingerprints: what one Claude Code version sends, and what changed between two.

A fingerprint is taken by running the version's `claude -p` once through a `RecordingProxy`.
Offline (the default) the proxy answers itself, the client runs with a fixed scratch environment
and a throw-away HOME, and the result depends on nothing but the version: it is cached per version
under `paths.cache/fingerprints/` and never taken again. A live fingerprint goes through the proxy
to the user's endpoint with the user's environment; it shows what was really sent there and what
came back, so it is not cached.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pinman.errors import HealthError
from pinman.state.fsutil import atomic_write
from pinman.paths import Paths
from pinman.fingerprint.proxy import Recorded
from pinman.names import CLAUDE_CODE, Progress
from pinman.fingerprint.proxy import RecordingProxy, probe_env, scratch_env
from pinman.health.classify import classify
from pinman.install.layout import validate_version
from pinman.names import clean_version
from pinman.npm.pick import pick
from pinman.redact import secret_values
from pinman.state.journal import DEFAULT_ENDPOINT, endpoint_of
from pinman.record import record

if TYPE_CHECKING:
    from pinman.health.outcome import Outcome
    from pinman.install.layout import Install
    from pinman.health.outcome import Outcome
    from pinman.install.layout import Install

SCHEMA = 1
# Bump when what a recording keeps changes (e.g. `proxy.FREE_FORM`): older cached fingerprints are
# then taken again instead of being compared with new ones.
FORMAT = 1
PROMPT = "Reply with the single word OK."
TIMEOUT = 120.0  # a 2.x binary's first start from a cold page cache can take a while



@record
class Fingerprint:
    version: str
    requests: tuple[Recorded, ...]
    taken_at: float = field(default_factory=time.time)
    mode: str = "offline"  # "offline": against the proxy's own answer; "live": an endpoint
    endpoint: str | None = None  # live only: scheme://host:port

    @property
    def messages(self) -> list[Recorded]:
        return [r for r in self.requests if r.is_messages]

    @property
    def keys(self) -> list[str]:
        """Every body key path sent to /v1/messages, over all its requests."""
        return sorted({p for r in self.messages for p in r.key_paths})

    @property
    def top_keys(self) -> list[str]:
        return [k for k in self.keys if "." not in k]

    @property
    def betas(self) -> list[str]:
        return sorted({b for r in self.messages for b in r.betas})

    @property
    def headers(self) -> list[str]:
        return sorted({h for r in self.messages for h in r.headers})

    @property
    def models(self) -> list[str]:
        return sorted({r.model for r in self.messages if r.model})

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "format": FORMAT,
            "package": CLAUDE_CODE,
            "version": self.version,
            "mode": self.mode,
            "endpoint": self.endpoint,
            "taken_at": self.taken_at,
            "keys": self.keys,
            "betas": self.betas,
            "headers": self.headers,
            "models": self.models,
            "requests": [r.to_json() for r in self.requests],
        }

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> Fingerprint:
        return cls(
            version=str(doc["version"]),
            requests=tuple(Recorded.from_json(r) for r in doc["requests"]),
            taken_at=float(doc.get("taken_at") or 0.0),
            mode=str(doc.get("mode") or "offline"),
            endpoint=doc.get("endpoint"),
        )


# -- taking one ----------------------------------------------------------------------------------
def record_run(binary: Path, env: Mapping[str, str], *, upstream: str | None = None,
               prompt: str = PROMPT, timeout: float = TIMEOUT,
               isolated_home: bool = True) -> tuple[list[Recorded], Outcome]:
    """Run `binary -p PROMPT` once through a fresh proxy; what it sent, and how it went."""
    from pinman.health.cli_probe import probe_cli

    with RecordingProxy(upstream, env=env) as proxy:
        result = probe_cli(binary, probe_env(env, proxy.url), prompt=prompt, timeout=timeout,
                           isolated_home=isolated_home)
        recorded = list(proxy.requests)
    return recorded, classify(result, secret_values(env))


def take_offline(version: str, binary: Path, *, timeout: float = TIMEOUT) -> Fingerprint:
    """The version's fingerprint against the proxy's own `ok` answer: no endpoint, no key."""

    recorded, outcome = record_run(binary, scratch_env(), timeout=timeout)
    if outcome.kind.value != "ok":
        raise HealthError(f"{version} did not complete against pinman's own answer: "
                          f"{outcome.kind.value}: {outcome.message}",
                          hint="run `pinman fingerprint VERSION --refresh`; reinstall it if it persists")
    fp = Fingerprint(version, tuple(recorded))
    if not fp.messages:
        raise HealthError(f"{version} answered without sending a Messages request",
                          hint="this version may not honour ANTHROPIC_BASE_URL")
    return fp


def take_live(version: str, binary: Path, env: Mapping[str, str], *,
              timeout: float = TIMEOUT, isolated_home: bool = False) -> tuple[Fingerprint, Outcome]:
    """Through the proxy to the endpoint `env` names (ANTHROPIC_BASE_URL, else the API)."""

    base = env.get("ANTHROPIC_BASE_URL") or DEFAULT_ENDPOINT
    recorded, outcome = record_run(binary, env, upstream=base, timeout=timeout,
                                   isolated_home=isolated_home)
    return Fingerprint(version, tuple(recorded), mode="live", endpoint=endpoint_of(base)), outcome


# -- cached per version --------------------------------------------------------------------------
def cache_path(paths: Paths, version: str) -> Path:

    validate_version(version)  # it becomes a file name
    return paths.fingerprints / f"claude-code-{version}.json"


def cached(paths: Paths, version: str) -> Fingerprint | None:
    try:
        doc = json.loads(cache_path(paths, version).read_text())
        if doc.get("schema") != SCHEMA or doc.get("format") != FORMAT or doc.get("version") != version:
            return None
        return Fingerprint.from_json(doc)
    except (OSError, ValueError, KeyError, TypeError):
        return None  # missing or unreadable: take it again


def fingerprint(paths: Paths, version: str, *, refresh: bool = False,
                progress: Progress | None = None,
                take: Callable[[str, Path], Fingerprint] = take_offline) -> Fingerprint:
    """The offline fingerprint of `version`, from the cache or taken now (installing if needed)."""

    version = clean_version(version) or version.strip()
    if not refresh:
        hit = cached(paths, version)
        if hit is not None:
            return hit
    inst = install_version(paths, version, progress)
    if progress:
        progress(f"recording what {version} sends")
    fp = take(version, inst.binary)
    atomic_write(cache_path(paths, version), json.dumps(fp.to_json(), indent=1, sort_keys=True))
    return fp


def install_version(paths: Paths, version: str, progress: Progress | None = None) -> Install:
    """An exact published version from the store, or installed now with the registry's hash."""
    from pinman.install.store import Store

    store = Store(paths)
    found = store.get(CLAUDE_CODE, version)
    if found is not None:
        return found
    from pinman.npm.registry import Registry

    doc = Registry(paths).packument(CLAUDE_CODE)
    pick(version, doc, None)  # unknown version -> an error naming the nearest published ones
    return store.install(CLAUDE_CODE, version, integrity=doc.versions[version].integrity,
                         progress=progress)


# -- diff ----------------------------------------------------------------------------------------
@record
class Diff:
    a: str
    b: str
    keys_added: list[str]
    keys_removed: list[str]
    betas_added: list[str]
    betas_removed: list[str]
    headers_added: list[str]
    headers_removed: list[str]
    models: tuple[list[str], list[str]]

    @property
    def empty(self) -> bool:
        return not (self.keys_added or self.keys_removed or self.betas_added or self.betas_removed
                    or self.headers_added or self.headers_removed)

    def summary(self) -> str:
        """`adds body key thinking, beta effort-2025-11-24`: what b sends that a does not."""
        parts = []
        if self.keys_added:
            keys = roots(self.keys_added)
            parts.append(f"body key{'s' if len(keys) > 1 else ''} {', '.join(keys)}")
        if self.betas_added:
            parts.append(f"beta{'s' if len(self.betas_added) > 1 else ''} {', '.join(self.betas_added)}")
        return "adds " + "; ".join(parts) if parts else "adds no body key or beta"

    def to_json(self) -> dict[str, Any]:
        return {
            "a": self.a,
            "b": self.b,
            "keys_added": self.keys_added,
            "keys_removed": self.keys_removed,
            "keys_added_roots": roots(self.keys_added),
            "keys_removed_roots": roots(self.keys_removed),
            "betas_added": self.betas_added,
            "betas_removed": self.betas_removed,
            "headers_added": self.headers_added,
            "headers_removed": self.headers_removed,
            "models": {"a": self.models[0], "b": self.models[1]},
        }


def diff(a: Fingerprint, b: Fingerprint) -> Diff:
    """What `b` sends that `a` does not (added), and the reverse (removed)."""

    def delta(x: Iterable[str], y: Iterable[str]) -> tuple[list[str], list[str]]:
        sx, sy = set(x), set(y)
        return sorted(sy - sx), sorted(sx - sy)

    keys = delta(a.keys, b.keys)
    betas = delta(a.betas, b.betas)
    headers = delta(a.headers, b.headers)
    return Diff(a.version, b.version, *keys, *betas, *headers, models=(a.models, b.models))


def roots(paths: Iterable[str]) -> list[str]:
    """The top of each subtree in `paths`: {thinking, thinking.type, tools.*.x} -> thinking, tools.*.x.

    A path is kept when no proper prefix of it (at a dot) is in the set, so a new top-level field
    shows once, and a new field nested in an old one shows with its full path.
    """
    found = set(paths)

    def parents(p: str) -> Iterable[str]:
        parts = p.split(".")
        return (".".join(parts[:i]) for i in range(1, len(parts)))

    return sorted(p for p in found if not any(q in found for q in parents(p)))


def mentions(d: Diff, rejected: str | None) -> bool:
    """Does the diff name what an endpoint rejected? `tools.3.defer_loading` matches
    `tools.*.defer_loading`; `a, b` (several betas) matches when any one is named."""
    if not rejected:
        return False
    import re

    for item in (r.strip() for r in rejected.split(",")):
        folded = re.sub(r"\.\d+(?=\.|$)", ".*", item)
        if item in d.betas_added or folded in d.keys_added or item in d.keys_added:
            return True
        # The API names a tool's variant (`tools.3.custom.defer_loading`); the request has no
        # such level, so compare with the variant dropped too.
        parts = folded.split(".")
        if any(".".join(parts[:i] + parts[i + 1:]) in d.keys_added for i in range(len(parts))):
            return True
    return False
