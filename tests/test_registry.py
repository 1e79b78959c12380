from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from pinman.errors import RegistryError, VersionNotFound
from pinman.npm.config import env_replace, load_npm_config, parse_ini
from pinman.paths import Paths
from pinman.npm.registry import Registry

NAME = "@anthropic-ai/claude-code"
PATH = "/@anthropic-ai%2fclaude-code"

DOC = {
    "name": NAME,
    "modified": "2026-01-01T00:00:00.000Z",
    "dist-tags": {"latest": "2.1.331", "stable": "2.1.320"},
    "versions": {
        v: {
            "name": NAME,
            "version": v,
            "dist": {"integrity": f"sha512-{v}", "tarball": f"https://example.test/{v}.tgz"},
            "engines": {"node": node},
            "optionalDependencies": {"@anthropic-ai/claude-code-linux-x64": v},
            **({"deprecated": "broken"} if v == "2.1.300" else {}),
        }
        for v, node in [
            ("1.0.100", ">=18.0.0"),
            ("2.1.197", ">=18.0.0"),
            ("2.1.300", ">=22.0.0"),
            ("2.1.320", ">=22.0.0"),
            ("2.1.331", ">=22.0.0"),
        ]
    },
}


@dataclass
class Fake:
    """What the fake registry answers, and what it was asked."""

    mode: str = "ok"  # ok | 500 | 404 | slow | truncated | noversions | 401
    etag: str | None = '"v1"'
    body: bytes = field(default_factory=lambda: json.dumps(DOC).encode())
    requests: list[dict[str, str]] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)
    full_bodies: int = 0
    stop: Callable[[], None] = lambda: None


@pytest.fixture
def fake() -> Iterator[tuple[Fake, str]]:
    state = Fake()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            state.requests.append(dict(self.headers.items()))
            state.paths.append(self.path.lower())
            if state.mode == "slow":
                time.sleep(1.0)
            status, body = self._answer()
            try:
                self.send_response(status)
                if state.etag and status == 200:
                    self.send_header("ETag", state.etag)
                self.send_header("Content-Type", "application/vnd.npm.install-v1+json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (timeout tests)

        def _answer(self) -> tuple[int, bytes]:
            if state.mode in ("500", "404", "401"):
                return int(state.mode), b'{"error":"nope"}'
            # npm sends %2f, requests %2F: registries accept both
            if not self.path.lower().endswith(PATH):
                return 404, b'{"error":"not found"}'
            if state.etag and self.headers.get("If-None-Match") == state.etag:
                return 304, b""
            state.full_bodies += 1
            if state.mode == "truncated":
                return 200, state.body[: len(state.body) // 2]
            if state.mode == "noversions":
                return 200, b'{"name": "x", "dist-tags": {}}'
            return 200, state.body

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    stopped = False

    def stop() -> None:
        nonlocal stopped
        if not stopped:
            stopped = True
            server.shutdown()
            server.server_close()

    state.stop = stop
    try:
        yield state, f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        stop()


def closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/"  # nothing listens here once the socket is closed


def registry(paths: Paths, url: str, **kw: object) -> Registry:
    return Registry(paths, url=url, **kw)  # type: ignore[arg-type]


# --- fetching and the cache -----------------------------------------------------------------


def test_fetch_parses_abbreviated_document(pinman_home: Paths, fake: tuple[Fake, str]) -> None:
    state, url = fake
    doc = registry(pinman_home, url).packument(NAME)
    assert doc.dist_tags == {"latest": "2.1.331", "stable": "2.1.320"}
    info = doc.versions["2.1.300"]
    assert (info.integrity, info.engines_node, info.deprecated) == (
        "sha512-2.1.300",
        ">=22.0.0",
        True,
    )
    assert info.tarball == "https://example.test/2.1.300.tgz"
    assert info.optional_dependencies == {"@anthropic-ai/claude-code-linux-x64": "2.1.300"}
    assert not doc.stale and doc.fetched_at > time.time() - 60
    assert state.paths == [PATH]
    assert state.requests[0]["Accept"].startswith("application/vnd.npm.install-v1+json")


def test_registry_path_prefix_is_kept(pinman_home: Paths, fake: tuple[Fake, str]) -> None:
    state, url = fake
    registry(pinman_home, url + "api/npm/npm").packument(NAME)
    assert state.paths == ["/api/npm/npm" + PATH]


def test_etag_revalidation(pinman_home: Paths, fake: tuple[Fake, str]) -> None:
    state, url = fake
    first = registry(pinman_home, url).packument(NAME)
    second = registry(pinman_home, url).packument(NAME)  # a new process, same cache
    assert state.requests[1]["If-None-Match"] == '"v1"'
    assert state.full_bodies == 1
    assert second.versions == first.versions and not second.stale
    assert second.fetched_at >= first.fetched_at


def test_changed_document_replaces_cache(pinman_home: Paths, fake: tuple[Fake, str]) -> None:
    state, url = fake
    registry(pinman_home, url).packument(NAME)
    moved = "2.1.320"  # the loopback registry's own tag, not the live registry's
    new = json.loads(json.dumps(DOC))
    new["dist-tags"]["latest"] = moved
    state.body, state.etag = json.dumps(new).encode(), '"v2"'
    assert registry(pinman_home, url).packument(NAME).dist_tags["latest"] == moved
    assert registry(pinman_home, url, offline=True).packument(NAME).dist_tags["latest"] == moved


def test_one_request_per_registry_object(pinman_home: Paths, fake: tuple[Fake, str]) -> None:
    state, url = fake
    reg = registry(pinman_home, url)
    reg.resolve(NAME, "latest")
    reg.resolve(NAME, "^2.1.0", node_version="v20.20.2")
    assert len(state.requests) == 1


def test_max_age_serves_young_cache_without_request(
    pinman_home: Paths, fake: tuple[Fake, str]
) -> None:
    state, url = fake
    registry(pinman_home, url).packument(NAME)
    doc = registry(pinman_home, url).packument(NAME, max_age=3600)
    assert len(state.requests) == 1 and not doc.stale


def test_network_down_falls_back_to_cache(pinman_home: Paths, fake: tuple[Fake, str]) -> None:
    state, url = fake
    fresh = registry(pinman_home, url).packument(NAME)
    state.stop()  # connections to the same URL are now refused
    doc = registry(pinman_home, url).packument(NAME)
    assert doc.stale and doc.fetched_at == fresh.fetched_at
    assert doc.versions == fresh.versions


@pytest.mark.parametrize("mode", ["500", "slow"])
def test_server_error_or_timeout_falls_back_to_cache(
    pinman_home: Paths, fake: tuple[Fake, str], mode: str
) -> None:
    state, url = fake
    registry(pinman_home, url).packument(NAME)
    state.mode = mode
    doc = registry(pinman_home, url, timeout=0.2).packument(NAME)
    assert doc.stale
    assert registry(pinman_home, url, timeout=0.2).resolve(NAME, "latest").stale


def test_connection_refused_without_cache(pinman_home: Paths) -> None:
    url = closed_port_url()
    with pytest.raises(RegistryError) as err:
        registry(pinman_home, url).packument(NAME)
    assert str(err.value) == f"cannot fetch {NAME} from {url}: connection failed"
    assert err.value.hint and "nothing is cached" in err.value.hint


def test_timeout_without_cache(pinman_home: Paths, fake: tuple[Fake, str]) -> None:
    state, url = fake
    state.mode = "slow"
    with pytest.raises(RegistryError, match="timed out"):  # the server answers after 1 s
        registry(pinman_home, url, timeout=0.2).packument(NAME)


def test_500_without_cache(pinman_home: Paths, fake: tuple[Fake, str]) -> None:
    state, url = fake
    state.mode = "500"
    with pytest.raises(RegistryError, match=r"HTTP 500"):
        registry(pinman_home, url).packument(NAME)


def test_404(pinman_home: Paths, fake: tuple[Fake, str]) -> None:
    state, url = fake
    state.mode = "404"
    with pytest.raises(VersionNotFound, match=f"package {NAME} not found on {url}"):
        registry(pinman_home, url).packument(NAME)


def test_401_names_the_fix(pinman_home: Paths, fake: tuple[Fake, str]) -> None:
    state, url = fake
    state.mode = "401"
    with pytest.raises(RegistryError, match="refused access") as err:
        registry(pinman_home, url).packument(NAME)
    assert err.value.hint and "npm login --registry" in err.value.hint


@pytest.mark.parametrize("mode", ["truncated", "noversions"])
def test_bad_document_is_a_registry_error(
    pinman_home: Paths, fake: tuple[Fake, str], mode: str
) -> None:
    state, url = fake
    state.mode = mode
    with pytest.raises(RegistryError, match="malformed|without a versions list"):
        registry(pinman_home, url).packument(NAME)
    assert not pinman_home.registry_cache.exists() or not any(pinman_home.registry_cache.iterdir())


def test_corrupt_cache_is_refetched(pinman_home: Paths, fake: tuple[Fake, str]) -> None:
    state, url = fake
    registry(pinman_home, url).packument(NAME)
    (cache_file,) = pinman_home.registry_cache.glob("*.json")
    cache_file.write_text('{"schema": 1, "versions": {')
    doc = registry(pinman_home, url).packument(NAME)
    assert "If-None-Match" not in state.requests[1]
    assert "2.1.331" in doc.versions and not doc.stale
    json.loads(cache_file.read_text())  # rewritten whole


def test_offline_uses_cache_and_never_connects(pinman_home: Paths, fake: tuple[Fake, str]) -> None:
    state, url = fake
    registry(pinman_home, url).packument(NAME)
    res = registry(pinman_home, url, offline=True).resolve(NAME, "stable")
    assert (res.version, res.integrity, res.stale) == ("2.1.320", "sha512-2.1.320", True)
    assert len(state.requests) == 1


def test_offline_without_cache(pinman_home: Paths) -> None:
    with pytest.raises(RegistryError, match="offline, and no cached registry data"):
        registry(pinman_home, closed_port_url(), offline=True).packument(NAME)


def test_bad_package_name(pinman_home: Paths) -> None:
    with pytest.raises(RegistryError, match="not an npm package name"):
        registry(pinman_home, closed_port_url()).packument("../../etc/passwd")


# --- resolve ------------------------------------------------------------------------------


def test_resolve(pinman_home: Paths, fake: tuple[Fake, str]) -> None:
    _, url = fake
    reg = registry(pinman_home, url)
    assert reg.resolve(NAME, "^2.1.0", node_version="v20.20.2").version == "2.1.197"
    assert reg.resolve(NAME, "^2.1.0", node_version="v22.12.0").version == "2.1.331"
    assert reg.resolve(NAME, "^2.1.0", node_version=None).version == "2.1.331"
    res = reg.resolve(NAME, "*", node_version="v22.12.0", skip={"2.1.331"})
    # 2.1.300 is deprecated, so 2.1.320 comes next
    assert (res.version, res.skipped, res.integrity) == ("2.1.320", ["2.1.331"], "sha512-2.1.320")
    with pytest.raises(VersionNotFound, match="2.1.332 does not exist"):
        reg.resolve(NAME, "2.1.332")


def test_resolve_detects_node(pinman_home: Paths, fake: tuple[Fake, str]) -> None:
    from pinman.npm.registry import detect_node_version

    _, url = fake
    node = detect_node_version()
    res = registry(pinman_home, url).resolve(NAME, "^2.1.0")
    expected = "2.1.197" if node and int(node.lstrip("v").split(".")[0]) < 22 else "2.1.331"
    assert res.version == expected


# --- credentials ----------------------------------------------------------------------------


def test_token_is_sent_but_never_stored(
    pinman_home: Paths, fake: tuple[Fake, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    state, url = fake
    secret = "npm_s3cr3t-token-value"
    monkeypatch.setenv("MY_NPM_TOKEN", secret)
    host = url.removeprefix("http:")
    Path.home().joinpath(".npmrc").write_text(
        f"@anthropic-ai:registry={url}\n{host}:_authToken=${{MY_NPM_TOKEN}}\n"
    )
    config = load_npm_config()
    reg = Registry(pinman_home, config=config)
    reg.resolve(NAME, "latest")
    assert state.requests[0]["Authorization"] == f"Bearer {secret}"
    for f in pinman_home.cache.rglob("*"):
        if f.is_file():
            assert secret not in f.read_text(errors="replace")
    assert secret not in repr(config) and secret not in repr(reg.__dict__)


def test_basic_auth_from_username_password(tmp_path: Path) -> None:
    import base64

    pw = base64.b64encode(b"hunter2").decode()
    (tmp_path / ".npmrc").write_text(
        f"//npm.example.com/:username=ann\n//npm.example.com/:_password={pw}\n"
    )
    cfg = load_npm_config(environ={"HOME": str(tmp_path), "PREFIX": str(tmp_path)})
    expected = "Basic " + base64.b64encode(b"ann:hunter2").decode()
    assert cfg.auth_header("https://npm.example.com/@a%2fb") == expected
    assert cfg.auth_header("https://other.example.com/@a%2fb") is None


def test_token_for_deeper_path_wins(tmp_path: Path) -> None:
    (tmp_path / ".npmrc").write_text(
        "//h.example/:_authToken=outer\n//h.example/api/npm/:_authToken=inner\n"
    )
    cfg = load_npm_config(environ={"HOME": str(tmp_path), "PREFIX": str(tmp_path)})
    assert cfg.auth_header("https://h.example/api/npm/pkg") == "Bearer inner"
    assert cfg.auth_header("https://h.example/other/pkg") == "Bearer outer"


# --- npm configuration ----------------------------------------------------------------------


def make_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    prefix = tmp_path / "prefix"
    (prefix / "etc").mkdir(parents=True, exist_ok=True)
    return {"HOME": str(Path.home()), "PREFIX": str(prefix), **extra}


def test_default_registry(tmp_path: Path) -> None:
    cfg = load_npm_config(environ=make_env(tmp_path))
    assert cfg.registry_for(NAME) == "https://registry.npmjs.org/"


def test_precedence_env_user_global_never_a_project_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env = make_env(tmp_path)
    (tmp_path / "prefix" / "etc" / "npmrc").write_text("registry=https://global.example/\n")
    assert load_npm_config(env).registry_for(NAME) == "https://global.example/"

    Path.home().joinpath(".npmrc").write_text("registry=https://user.example/\n")
    assert load_npm_config(env).registry_for(NAME) == "https://user.example/"

    # npm would read this one when run in the project; pinman's lookups never do (nor its installs).
    project = tmp_path / "proj"
    (project / "sub" / "dir").mkdir(parents=True)
    (project / "package.json").write_text("{}")
    (project / ".npmrc").write_text("registry = https://project.example\n")
    monkeypatch.chdir(project / "sub" / "dir")
    cfg = load_npm_config(env)
    assert cfg.registry_for(NAME) == "https://user.example/"
    assert cfg.sources["registry"] == str(Path.home() / ".npmrc")

    env["npm_config_registry"] = "https://env.example/"
    assert load_npm_config(env).registry_for(NAME) == "https://env.example/"
    env["NPM_CONFIG_REGISTRY"] = env.pop("npm_config_registry")
    assert load_npm_config(env).registry_for(NAME) == "https://env.example/"


def test_scoped_registry_wins_for_its_scope(tmp_path: Path) -> None:
    env = make_env(tmp_path, npm_config_registry="https://env.example/")
    (tmp_path / "prefix" / "etc" / "npmrc").write_text(
        "@anthropic-ai:registry=https://scoped.example/npm/\n"
    )
    cfg = load_npm_config(env)
    assert cfg.registry_for(NAME) == "https://scoped.example/npm/"
    assert cfg.registry_for("left-pad") == "https://env.example/"


def test_userconfig_and_globalconfig_can_move(tmp_path: Path) -> None:
    other = tmp_path / "elsewhere.npmrc"
    other.write_text("globalconfig=" + str(tmp_path / "g.npmrc") + "\n")
    (tmp_path / "g.npmrc").write_text("registry=https://moved-global.example/\n")
    env = make_env(tmp_path, npm_config_userconfig=str(other))
    assert load_npm_config(env).registry_for(NAME) == "https://moved-global.example/"


def test_env_expansion_and_ini_details(tmp_path: Path) -> None:
    env = make_env(tmp_path, REG_HOST="mirror.example")
    Path.home().joinpath(".npmrc").write_text(
        "; a comment\n"
        "# another\n"
        "registry=https://${REG_HOST}/npm/  ; trailing comment\n"
        'quoted="a;b"\n'
        "unset=${NOPE}\n"
        "optional=x${NOPE?}y\n"
        "escaped=\\${REG_HOST}\n"
        "flag\n"
        "[section]\n"
        "registry=https://ignored.example/\n"
    )
    cfg = load_npm_config(env)
    assert cfg.registry_for(NAME) == "https://mirror.example/npm/"
    assert cfg.get("quoted") == "a;b"
    assert cfg.get("unset") == "${NOPE}"
    assert cfg.get("optional") == "xy"
    assert cfg.get("flag") == "true"


def test_env_replace_escapes() -> None:
    env = {"A": "1"}
    assert env_replace("${A}", env) == "1"
    assert env_replace("\\${A}", env) == "${A}"
    assert env_replace("\\\\${A}", env) == "\\1"


def test_parse_ini_arrays_and_equals_in_value() -> None:
    assert parse_ini("ca[]=x\nca[]=y\nk = a=b\n") == {"ca": "y", "k": "a=b"}


def test_invalid_registry_value_falls_back_to_default(tmp_path: Path) -> None:
    cfg = load_npm_config(make_env(tmp_path, npm_config_registry="not a url"))
    assert cfg.registry_for(NAME) == "https://registry.npmjs.org/"


def test_tls_settings(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("x")
    cfg = load_npm_config(make_env(tmp_path, npm_config_cafile=str(ca)))
    assert cfg.tls_verify() == str(ca)
    cfg = load_npm_config(make_env(tmp_path, npm_config_strict_ssl="false"))
    assert cfg.tls_verify() is False


def test_importing_registry_does_not_import_requests() -> None:
    code = "import sys, pinman.npm.registry; print('requests' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_credentials_in_registry_url_stay_out_of_messages(pinman_home: Paths) -> None:
    url = closed_port_url().replace("http://", "http://ann:pa55word@")
    with pytest.raises(RegistryError) as err:
        registry(pinman_home, url).packument(NAME)
    assert "pa55word" not in str(err.value) and "127.0.0.1" in str(err.value)


# --- bounds: every request has an overall deadline and a size cap ---------------------------

import contextlib  # noqa: E402
import os  # noqa: E402

from e2e_support import dead_registry  # noqa: E402

from pinman.errors import UsageError  # noqa: E402
from pinman.npm.registry import NotCached, ttl_seconds  # noqa: E402


@contextlib.contextmanager
def streaming(kind: str, limit: int = 4 * 2**20, first: bytes | None = None) -> Iterator[str]:
    """A registry whose answer never completes (after answering `first`, if given, once).
    "trickle": headers, then one byte every 0.2 s (each read returns well within any per-read
    timeout); "endless": 64 KB chunks as fast as the client reads. Both give up by themselves
    (60 bytes; `limit` bytes), so a client without bounds ends too, with a truncated document
    instead of the error these tests expect."""
    stop = threading.Event()
    answered: list[int] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            if first is not None and not answered:
                answered.append(1)
                self.send_header("Content-Length", str(len(first)))
                self.end_headers()
                self.wfile.write(first)
                return
            if kind == "trickle":
                self.send_header("Content-Length", "100000")
            self.end_headers()
            sent = 0
            try:
                while not stop.is_set() and sent < (60 if kind == "trickle" else limit):
                    if kind == "trickle":
                        stop.wait(0.2)
                    data = b" " if kind == "trickle" else b" " * 65536
                    self.wfile.write(data)
                    sent += len(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up, as it should

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        stop.set()
        server.shutdown()
        server.server_close()


def test_a_trickling_registry_hits_the_overall_deadline(pinman_home: Paths) -> None:
    with streaming("trickle") as url, pytest.raises(RegistryError) as err:
        registry(pinman_home, url, timeout=0.6).packument(NAME)
    assert str(err.value) == f"cannot fetch {NAME} from {url}: timed out: no complete answer within 0.6 s"
    assert err.value.hint and "fetch-timeout" in err.value.hint


def test_an_endless_answer_stops_at_the_size_cap(pinman_home: Paths) -> None:
    with streaming("endless") as url, pytest.raises(RegistryError) as err:
        registry(pinman_home, url, timeout=60, max_bytes=2**20).packument(NAME)
    assert str(err.value) == f"cannot fetch {NAME} from {url}: the answer grew past 1 MB"
    assert err.value.hint and "endless" in err.value.hint


def test_a_declared_length_over_the_cap_is_refused_unread(pinman_home: Paths, fake: tuple[Fake, str]) -> None:
    state, url = fake
    with pytest.raises(RegistryError, match="grew past"):
        registry(pinman_home, url, max_bytes=len(state.body) - 1).packument(NAME)
    assert registry(pinman_home, url, max_bytes=len(state.body)).packument(NAME).versions


def test_the_default_cap_takes_a_document_far_bigger_than_the_real_one(pinman_home: Paths,
                                                                      fake: tuple[Fake, str]) -> None:
    """The abbreviated claude-code document is ~0.74 MB today; one of 16 MB, served, is read
    whole by a client with the default cap (and an endless answer is cut at that cap, below)."""
    state, url = fake
    pad = "x" * 1500
    versions = {f"2.0.{i}": {"name": NAME, "version": f"2.0.{i}", "dist": {"integrity": f"sha512-{pad}"}}
                for i in range(11000)}
    state.body = json.dumps({**DOC, "versions": {**DOC["versions"], **versions}}).encode()  # type: ignore[dict-item]
    assert len(state.body) > 16 * 2**20
    doc = registry(pinman_home, url).packument(NAME)
    assert len(doc.versions) == 11000 + len(DOC["versions"])  # type: ignore[arg-type]


def test_the_default_cap_stops_an_endless_answer(pinman_home: Paths) -> None:
    """A registry streaming 96 MB of nothing: the client stops reading at 64 MB, with the reason."""
    with streaming("endless", limit=96 * 2**20) as url, pytest.raises(RegistryError) as err:
        registry(pinman_home, url, timeout=120).packument(NAME)
    assert str(err.value) == f"cannot fetch {NAME} from {url}: the answer grew past 64 MB"


def test_a_dead_proxy_costs_one_deadline_per_process(pinman_home: Paths) -> None:
    accepted: list[int] = []
    with dead_registry(accepted) as url:
        for _ in range(2):
            with pytest.raises(RegistryError) as err:
                registry(pinman_home, url, timeout=0.3).packument(NAME)
            assert "timed out" in str(err.value) and "127.0.0.1" in str(err.value)
    assert len(accepted) == 1  # the second client did not connect to wait again


@pytest.mark.parametrize("kind, deadline, cause", [("endless", 60, "the answer grew past 1 MB"),
                                                   ("trickle", 0.6, "timed out: no complete answer within 0.6 s")])
def test_an_unbounded_registry_with_a_cache_serves_the_cache_with_a_note(
    pinman_home: Paths, kind: str, deadline: float, cause: str
) -> None:
    with streaming(kind, first=json.dumps(DOC).encode()) as url:
        fresh = registry(pinman_home, url).packument(NAME)
        res = registry(pinman_home, url, timeout=deadline, max_bytes=2**20).resolve(NAME, "latest", node_version=None)
    assert res.stale and res.version == "2.1.331" and res.fetched_at == fresh.fetched_at
    assert res.problem == f"{url.split('/')[2]}: {cause}"


# --- time to live ---------------------------------------------------------------------------


def _age_cache(paths: Paths, seconds: float) -> None:
    """Make the cached documents look `seconds` older than they are."""
    for f in paths.registry_cache.glob("*.json"):
        doc = json.loads(f.read_text())
        doc["fetched_at"] -= seconds
        f.write_text(json.dumps(doc))
        os.utime(f, (doc["fetched_at"], doc["fetched_at"]))


def test_ttl_fresh_cache_makes_no_request(
    pinman_home: Paths, fake: tuple[Fake, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    state, url = fake
    registry(pinman_home, url).packument(NAME)
    _age_cache(pinman_home, 9 * 60)
    monkeypatch.delenv("PINMAN_REGISTRY_TTL", raising=False)  # the default: 10 minutes
    doc = Registry.within_ttl(pinman_home, url=url).packument(NAME)
    assert len(state.requests) == 1 and not doc.stale


def test_ttl_expired_cache_asks_once(pinman_home: Paths, fake: tuple[Fake, str], monkeypatch: pytest.MonkeyPatch) -> None:
    state, url = fake
    registry(pinman_home, url).packument(NAME)
    _age_cache(pinman_home, 6 * 60)
    monkeypatch.setenv("PINMAN_REGISTRY_TTL", "5")
    reg = Registry.within_ttl(pinman_home, url=url)
    reg.resolve(NAME, "latest")
    reg.resolve(NAME, "stable")
    assert len(state.requests) == 2 and state.requests[1]["If-None-Match"] == '"v1"'


def test_ttl_zero_always_asks(pinman_home: Paths, fake: tuple[Fake, str], monkeypatch: pytest.MonkeyPatch) -> None:
    state, url = fake
    registry(pinman_home, url).packument(NAME)
    monkeypatch.setenv("PINMAN_REGISTRY_TTL", "0")
    Registry.within_ttl(pinman_home, url=url).packument(NAME)
    assert len(state.requests) == 2


def test_a_cache_time_in_the_future_is_not_fresh(pinman_home: Paths, fake: tuple[Fake, str]) -> None:
    state, url = fake
    registry(pinman_home, url).packument(NAME)
    _age_cache(pinman_home, -86400)
    registry(pinman_home, url, max_age=3600).packument(NAME)
    assert len(state.requests) == 2


@pytest.mark.parametrize("value", ["ten", "-1", "nan", "inf", "1e9"])
def test_a_bad_ttl_is_a_one_line_usage_error(value: str) -> None:
    with pytest.raises(UsageError, match="PINMAN_REGISTRY_TTL") as err:
        ttl_seconds({"PINMAN_REGISTRY_TTL": value})
    assert err.value.hint


def test_ttl_setting_is_minutes() -> None:
    assert ttl_seconds({}) == 600
    assert ttl_seconds({"PINMAN_REGISTRY_TTL": "2.5"}) == 150


def test_a_304_touches_the_cache_instead_of_rewriting_it(pinman_home: Paths, fake: tuple[Fake, str]) -> None:
    state, url = fake
    registry(pinman_home, url).packument(NAME)
    _age_cache(pinman_home, 3600)
    (cache_file,) = pinman_home.registry_cache.glob("*.json")
    before = cache_file.read_bytes(), cache_file.stat().st_ino
    doc = registry(pinman_home, url).packument(NAME)
    assert len(state.requests) == 2 and state.full_bodies == 1  # revalidated: 304
    assert (cache_file.read_bytes(), cache_file.stat().st_ino) == before  # same file, not rewritten
    again = registry(pinman_home, url, offline=True).packument(NAME)
    assert time.time() - again.fetched_at < 60 and again.fetched_at == pytest.approx(doc.fetched_at, abs=1)


def test_offline_without_cache_is_not_cached(pinman_home: Paths) -> None:
    with pytest.raises(NotCached):
        registry(pinman_home, closed_port_url(), offline=True).packument(NAME)
