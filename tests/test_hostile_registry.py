"""Hostile registries: whatever a registry (or a proxy in front of it) answers, pinman ends with a
packument whose versions the store can hold, or one RegistryError line — never a crash, and never
a version that could name a path outside the store.

The answers are served over real HTTP from a loopback server, so the whole `Registry` path runs:
status handling, ETag revalidation, parsing, the on-disk cache and the offline read of it.
"""

from __future__ import annotations

import json
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from hypothesis import event, given
from hypothesis import strategies as st
from hostile_support import PROPERTY, TEXT, assert_one_line

from pinman.errors import PinmanError, RegistryError
from pinman.paths import Paths
from pinman.npm.packument import Packument
from pinman.npm.registry import Registry
from pinman.install.layout import validate_version
from pinman.npm.packument import Packument
from pinman.npm.registry import Registry
from pinman.install.layout import validate_version

NAME = "@anthropic-ai/claude-code"


@dataclass
class Answer:
    status: int = 200
    body: bytes = b"{}"
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Server:
    url: str
    answer: Answer


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    state = Server("", Answer())

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            a = state.answer
            try:
                self.send_response(a.status)
                for k, v in a.headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(a.body)))
                self.end_headers()
                if a.status not in (204, 304):
                    self.wfile.write(a.body)
            except (BrokenPipeError, ConnectionResetError):
                pass

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{httpd.server_address[1]}/"
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture(scope="module")
def home() -> Iterator[Paths]:
    with tempfile.TemporaryDirectory(prefix="pinman-registry-") as d:
        yield Paths.from_env({"PINMAN_HOME": d})


# --------------------------------------------------------------------------- documents

_VERSION_KEYS = st.one_of(
    st.sampled_from(["1.0.100", "2.1.331", "2.1.320", "2.1.330-beta.1", "2.0.0+build.5", "v2.0.0", " 2.0.0",
                     "2.0.0\n", "../../../tmp/x", "/etc/passwd", "", "latest", "01.0.0", "2.1", "9" * 30 + ".0.0",
                     "1.0.0-\u001b[31mred", "1.0.0-$(touch x)"]),
    TEXT,
)
_ANY = st.recursive(st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), TEXT),
                    lambda inner: st.one_of(st.lists(inner, max_size=3),
                                            st.dictionaries(TEXT, inner, max_size=3)), max_leaves=6)
_MANIFEST = st.one_of(
    st.fixed_dictionaries({}, optional={
        "dist": st.one_of(st.fixed_dictionaries({}, optional={
            "integrity": st.one_of(st.just("sha512-" + "A" * 86 + "=="), TEXT, _ANY),
            "tarball": st.one_of(st.just("https://registry.npmjs.org/x.tgz"), TEXT, _ANY)}), _ANY),
        "engines": st.one_of(st.fixed_dictionaries({"node": st.one_of(st.sampled_from([">=18", ">=22.0.0", "^99",
                                                                                       "not a range", ""]),
                                                                      TEXT, _ANY)}), _ANY),
        "deprecated": st.one_of(st.booleans(), TEXT, _ANY),
        "optionalDependencies": st.one_of(st.dictionaries(TEXT, st.one_of(TEXT, _ANY), max_size=2), _ANY),
    }),
    _ANY,
)
_DOCS = st.one_of(
    st.fixed_dictionaries({}, optional={
        "name": st.one_of(st.just(NAME), TEXT),
        "dist-tags": st.one_of(st.dictionaries(st.one_of(st.sampled_from(["latest", "stable", "next", "a\nb"]), TEXT),
                                               st.one_of(_VERSION_KEYS, _ANY), max_size=3), _ANY),
        "versions": st.one_of(st.dictionaries(_VERSION_KEYS, _MANIFEST, max_size=5), _ANY),
    }),
    _ANY,
)


@st.composite
def bodies(draw: st.DrawFn) -> bytes:
    raw = json.dumps(draw(_DOCS)).encode()
    how = draw(st.integers(0, 9))
    if how == 0:
        return raw[: draw(st.integers(0, len(raw)))]  # truncated by a proxy
    if how == 1:
        return draw(st.sampled_from([b"", b"<html>502 Bad Gateway</html>", b"\xff\xfe{}", b"[" * 1200,
                                     b'{"versions": {"1.0.0": ' + b"[" * 1200 + b"]" * 1200 + b"}}",
                                     b'{"versions": NaN}', b'{"versions": {"1.0.0": {}}, "dist-tags": 1e400}']))
    return raw


ANSWERS = st.builds(
    Answer,
    status=st.sampled_from([200] * 8 + [304, 404, 401, 403, 500, 502, 503, 418, 302, 204, 201]),
    body=bodies(),
    headers=st.fixed_dictionaries({}, optional={
        "ETag": st.sampled_from(['"v1"', "W/\"x\"", "", "garbage \t"]),
        "Last-Modified": st.sampled_from(["Wed, 21 Oct 2015 07:28:00 GMT", "yesterday"]),
        "Content-Type": st.sampled_from(["application/json", "text/html"]),
    }),
)
# A registry that mostly behaves: real-shaped documents with hostile parts mixed in, so that the
# success half of the property (what a resolution names) is checked, not only the refusals.
_REAL_VERSIONS = st.sampled_from(["1.0.100", "1.0.99", "2.1.331", "2.1.320", "2.1.0", "2.1.330-beta.1",
                                  "2.0.0+build.5", "3.0.0"])
_PLAUSIBLE_MANIFEST = st.fixed_dictionaries(
    {"dist": st.fixed_dictionaries({"integrity": st.one_of(st.just("sha512-" + "A" * 86 + "=="), TEXT)})},
    optional={"engines": st.fixed_dictionaries({"node": st.sampled_from([">=18", ">=22.0.0", "^99", "not a range",
                                                                          ""])}),
              "deprecated": st.one_of(st.just("use 2.x"), st.booleans())},
)


@st.composite
def plausible_docs(draw: st.DrawFn) -> dict[str, object]:
    good = draw(st.lists(_REAL_VERSIONS, min_size=1, max_size=5, unique=True))
    versions: dict[str, object] = {v: draw(_PLAUSIBLE_MANIFEST) for v in good}
    for key in draw(st.lists(_VERSION_KEYS, max_size=2)):  # hostile keys beside the real ones
        versions.setdefault(key, draw(st.one_of(_PLAUSIBLE_MANIFEST, _MANIFEST)))
    tag = st.one_of(st.sampled_from(good), _VERSION_KEYS)
    tags = draw(st.fixed_dictionaries({"latest": tag}, optional={"stable": tag, "next": tag}))
    return {"name": NAME, "dist-tags": tags, "versions": versions}


PLAUSIBLE = st.builds(
    Answer,
    status=st.just(200),
    body=plausible_docs().map(lambda doc: json.dumps(doc).encode()),
    headers=st.fixed_dictionaries({}, optional={"ETag": st.sampled_from(['"v1"', '"v2"'])}),
)
SPECS = ["latest", "stable", "^2.1.0", "2.1.331", "*", ">=1.0.100 <2"]


def _valid(doc: Packument) -> None:
    for version, info in doc.versions.items():
        validate_version(version)  # a folder name in the store, nothing else
        assert info.version == version
        assert info.integrity is None or isinstance(info.integrity, str)
        assert all(isinstance(k, str) and isinstance(v, str) for k, v in info.optional_dependencies.items())
    for tag, version in doc.dist_tags.items():
        assert isinstance(tag, str) and isinstance(version, str)
        assert tag.isprintable() and version.isprintable(), (tag, version)


@PROPERTY
@given(st.one_of(ANSWERS, PLAUSIBLE), st.sampled_from(SPECS))
def test_any_registry_answer_gives_a_safe_packument_or_one_error_line(
        server: Server, home: Paths, answer: Answer, spec: str) -> None:
    server.answer = answer
    reg = Registry(home, url=server.url, timeout=5)
    try:
        doc = reg.packument(NAME)
    except RegistryError as e:
        event("outcome: registry error")
        assert_one_line(e)
        return
    _valid(doc)
    try:
        res = reg.resolve(NAME, spec, node_version="22.1.0")
    except PinmanError as e:
        event("outcome: empty packument" if not doc.versions else "outcome: resolve error")
        assert_one_line(e)
    else:
        event("outcome: resolved")
        validate_version(res.version)  # a resolution always names something the store can hold
        assert res.version in doc.versions
    if not doc.stale:  # just fetched and cached: offline, the cache gives the same document
        again = Registry(home, url=server.url, offline=True).packument(NAME)
        assert (again.dist_tags, again.versions) == (doc.dist_tags, doc.versions)


@PROPERTY
@given(st.one_of(bodies(), st.binary(max_size=60)))
def test_any_cache_file_gives_a_packument_or_a_fresh_fetch(home: Paths, server: Server, body: bytes) -> None:
    """A damaged cache is as good as none: offline it is an error line, online a fetch."""
    reg = Registry(home, url=server.url, offline=True)
    cache = reg._cache_file(server.url, NAME)
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_bytes(body)
    try:
        doc = reg.packument(NAME)
    except RegistryError as e:
        assert_one_line(e)
        return
    _valid(doc)
    assert doc.stale


def test_a_truncated_answer_names_the_registry_and_the_cause(server: Server, home: Paths, tmp_path: Path) -> None:
    body = json.dumps({"dist-tags": {"latest": "2.1.331"}, "versions": {"2.1.331": {}}}).encode()
    server.answer = Answer(200, body[:20])
    paths = Paths.from_env({"PINMAN_HOME": str(tmp_path / "h")})
    with pytest.raises(RegistryError, match=r"sent malformed metadata .*\(.* at byte \d+\)"):
        Registry(paths, url=server.url).packument(NAME)


def test_a_version_with_build_metadata_is_left_out(server: Server, home: Paths) -> None:
    """npm cleans build metadata before publishing; a key that carries it could never be a store folder."""
    doc = {"dist-tags": {"latest": "2.0.0+build.5"},
           "versions": {"2.0.0+build.5": {}, "1.0.100": {"dist": {"integrity": "sha512-x"}}}}
    server.answer = Answer(200, json.dumps(doc).encode())
    reg = Registry(home, url=server.url)
    got = reg.packument(NAME)
    assert list(got.versions) == ["1.0.100"] and got.dist_tags == {}
    assert reg.resolve(NAME, "*").version == "1.0.100"
