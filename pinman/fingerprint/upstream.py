"""Where a recording proxy forwards to: the upstream endpoint of `ANTHROPIC_BASE_URL` (http or
https, with a base path), reached the way the client itself would reach it (HTTP(S)_PROXY unless
NO_PROXY covers the host, plus NODE_EXTRA_CA_CERTS), and a failure to reach it said in one
phrase. A URL in a message never carries credentials or a query.
"""

from __future__ import annotations

import http.client
import socket
import ssl
from collections.abc import Mapping
from urllib.parse import urlsplit

from pinman.errors import PinmanError
from pinman.record import record


@record
class Upstream:
    """Where requests go: scheme, host, port, a base path, and how to get there."""

    scheme: str
    host: str
    port: int
    base_path: str  # "/anthropic" for ANTHROPIC_BASE_URL=https://gw.example/anthropic
    via: tuple[str, int] | None = None  # an HTTP(S)_PROXY to go through
    cafile: str | None = None  # extra CA bundle (NODE_EXTRA_CA_CERTS, SSL_CERT_FILE)

    @classmethod
    def parse(cls, base_url: str, env: Mapping[str, str] | None = None) -> Upstream:
        env = env or {}
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise PinmanError(f"not an http(s) base URL: {_safe_url(base_url)}")
        scheme = parts.scheme
        try:
            port = parts.port or (443 if scheme == "https" else 80)
        except ValueError:
            raise PinmanError(f"bad port in {_safe_url(base_url)}") from None
        return cls(
            scheme,
            parts.hostname,
            port,
            parts.path.rstrip("/"),
            via=_proxy_for(env, scheme, parts.hostname),
            # The client trusts NODE_EXTRA_CA_CERTS on top of the usual roots; so must we.
            cafile=env.get("NODE_EXTRA_CA_CERTS") or env.get("SSL_CERT_FILE") or None,
        )

    @property
    def host_header(self) -> str:
        default = 443 if self.scheme == "https" else 80
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == default else f"{host}:{self.port}"

    def connect(self, timeout: float) -> http.client.HTTPConnection:
        if self.scheme == "https":
            ctx = ssl.create_default_context()
            if self.cafile:
                ctx.load_verify_locations(self.cafile)
            if self.via:
                conn: http.client.HTTPConnection = http.client.HTTPSConnection(
                    *self.via, timeout=timeout, context=ctx
                )
                conn.set_tunnel(self.host, self.port)
                return conn
            return http.client.HTTPSConnection(self.host, self.port, timeout=timeout, context=ctx)
        if self.via:
            return http.client.HTTPConnection(*self.via, timeout=timeout)
        return http.client.HTTPConnection(self.host, self.port, timeout=timeout)

    def target(self, path: str) -> str:
        """The request line's target: origin-form, or absolute-form through a plain HTTP proxy."""
        full = self.base_path + path
        if self.via and self.scheme == "http":
            return f"http://{self.host_header}{full}"
        return full


def _proxy_for(env: Mapping[str, str], scheme: str, host: str) -> tuple[str, int] | None:
    """HTTP(S)_PROXY from `env` unless NO_PROXY covers `host`, as the client itself decides."""
    no_proxy = env.get("NO_PROXY") or env.get("no_proxy") or ""
    for entry in (e.strip().lower().lstrip(".") for e in no_proxy.split(",")):
        if entry and (entry == "*" or host == entry or host.endswith("." + entry)):
            return None
    name = f"{scheme}_proxy"
    raw = env.get(name.upper()) or env.get(name) or ""
    if not raw:
        return None
    parts = urlsplit(raw if "://" in raw else f"http://{raw}")
    if not parts.hostname:
        return None
    return parts.hostname, parts.port or 80


def _safe_url(url: str) -> str:
    """A URL fit for a message: no credentials, no query."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}{parts.path}"


def _reason(exc: BaseException) -> str:
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"TLS certificate not trusted ({exc.verify_message})"
    if isinstance(exc, socket.timeout):
        return "timed out"
    text = getattr(exc, "strerror", None) or str(exc) or exc.__class__.__name__
    return str(text)
