"""Hostile and malformed files: `.pinman.toml`, profile names and edits, pinman's state files.

Each property runs 1,000 generated cases (tests/hostile_support.PROPERTY); every case ends in a
correct result or a PinmanError with a one-line message naming the file (and line, for TOML).
`tests/test_profiles.py` already covers parsing arbitrary profile texts; this file covers the
rest of what pinman reads from disk.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import event, given
from hypothesis import strategies as st
from hostile_support import PROPERTY, TEXT, assert_file_line, assert_one_line

from pinman.runtime.choice import read_global, write_global
from pinman.runtime.pointers import Pointer, pointer_path, record_project_choice, write_pointer
from pinman.runtime.shim import ensure_shim, shim_text
from pinman.state.overrides import read_overrides
from pinman.profile import trust
from pinman.profile.edit import update_profile
from pinman.profile.project import ProjectFile
from pinman.profile.validate import load_profile, validate_name
from pinman.errors import PinmanError, ProfileError
from pinman.paths import Paths
from pinman.profile.project import PROJECT_FILE, read_project_file
from pinman.profile.tomlfile import ProfileFileError
from pinman.profile.model import display_path

# A folder shared by the examples of one property (hypothesis cannot use function-scoped tmp_path).


@pytest.fixture(scope="module")
def scratch() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="pinman-hostile-") as d:
        yield Path(d)


# --------------------------------------------------------------------------- .pinman.toml

_NAMES = st.one_of(st.sampled_from(["stable", "legacy", "a", "A.b-c_1", "x" * 64, "x" * 65, "../x", "/etc",
                                    ".hidden", "a b", "a;b", "a$(b)", "é", "", "a..b", "-a"]),
                   st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._-]{0,8}", fullmatch=True))


def _quoted(name: str, style: int) -> str:
    if style == 0:
        return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if style == 1:
        return "'" + name + "'"
    if style == 2:
        return '"""' + name + '"""'
    if style == 3:
        return "'''" + name + "'''"
    return name  # bare: not TOML


_PROJECT_LINES = st.one_of(
    st.builds(lambda sp1, key, sp2, name, style, tail: f"{sp1}{key}{sp2}={sp2}{_quoted(name, style)}{tail}",
              st.sampled_from(["", " ", "\t", "  \t"]),
              st.sampled_from(["profile", '"profile"', "'profile'", "profile.x", "profiles", "Profile"]),
              st.sampled_from(["", " ", "\t"]),
              _NAMES, st.integers(0, 4),
              st.sampled_from(["", " ", "  # team choice", "#x", " x", ' "y"', "\r"])),
    st.sampled_from(["schema = 1", "schema = 2", "schema = 0", 'schema = "1"', "[tool]", "[profile]",
                     "[[profile]]", "profile = 1", "profile = []", "profile = {}", "profile = true",
                     "# comment", "", "   ", "other = 1", 'profile = "a" "b"', "profile =", "= 1",
                     'profile = "a\\u0062"', 'profile = "a\\nb"', 'profile = """\na"""', "\ufeff",
                     "profile = 'a'  # 'b'", 'profile = "a" # "b"']),
    TEXT,
)


@st.composite
def project_texts(draw: st.DrawFn) -> str:
    lines = draw(st.lists(_PROJECT_LINES, max_size=5))
    newline = draw(st.sampled_from(["\n", "\n", "\r\n"]))
    text = newline.join(lines) + draw(st.sampled_from(["", "\n"]))
    return ("\ufeff" if draw(st.integers(0, 19)) == 0 else "") + text


def _utf8(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")  # a lone surrogate becomes bytes that are not UTF-8


def _read_project(root: Path, data: bytes) -> ProjectFile | ProfileFileError:
    (root / PROJECT_FILE).write_bytes(data)
    try:
        project = read_project_file(root)
    except ProfileError as e:
        assert isinstance(e, ProfileFileError), repr(e)
        assert_file_line(e, display_path(root / PROJECT_FILE))
        return e
    assert project.profile is None or validate_name(project.profile) == project.profile
    return project


@PROPERTY
@given(st.one_of(project_texts().map(_utf8), st.binary(max_size=60)))
def test_any_project_file_gives_a_choice_or_an_error_with_file_and_line(scratch: Path, data: bytes) -> None:
    root = scratch / "project"
    root.mkdir(exist_ok=True)
    _read_project(root, data)


def _shim_reader(paths: Paths) -> str:
    """The real shim, stopped right after it has chosen from `.pinman.toml`: it prints the name."""
    text = shim_text(paths, python="/bin/false")
    marker = 'if [ -z "$_pm_name" ] && [ -f '
    assert marker in text
    return text.replace(marker, "printf 'NAME=%s\\n' \"$_pm_name\"; exit 0\n" + marker, 1)


def _runnable(name: str) -> bool:
    """What the shim's own filter lets through to a pointer file (the fast path)."""
    return bool(name) and not name.startswith(".") and re.fullmatch(r"[A-Za-z0-9._-]+", name) is not None


def _shim_choice(scratch: Path, paths: Paths, root: Path) -> str:
    script = scratch / "reader.sh"
    if not script.exists():
        script.write_text(_shim_reader(paths))
    env = {"PATH": os.environ["PATH"], "PWD": str(root)}
    out = subprocess.run(["sh", str(script)], cwd=root, env=env, capture_output=True, text=True,
                         errors="surrogateescape", timeout=10).stdout
    assert out.startswith("NAME="), out
    return out[len("NAME="):].removesuffix("\n")


@PROPERTY
@given(project_texts())
def test_the_shim_runs_only_what_pinman_chose_from_a_project_file(scratch: Path, text: str) -> None:
    """The shim never parses `.pinman.toml`: what it runs in a project is what pinman's slow path
    read there and recorded, and a file pinman refuses is never run from (the slow path reports
    it with file:line, every time)."""
    if "\0" in text:
        return  # sh cannot hold a NUL; pinman rejects the file either way
    root = Path(tempfile.mkdtemp(dir=scratch, prefix="shim-"))  # fresh: no record of an earlier case
    paths = Paths.from_env({"PINMAN_HOME": str(scratch / "home")})
    py = _read_project(root, _utf8(text))
    assert not _runnable(_shim_choice(scratch, paths, root))  # nothing recorded yet: the slow path
    if isinstance(py, ProfileFileError):
        with pytest.raises(ProfileFileError):
            record_project_choice(paths, root)
        assert not _runnable(_shim_choice(scratch, paths, root))
        return
    assert record_project_choice(paths, root) == py.profile
    assert _shim_choice(scratch, paths, root) == (py.profile or "")


@pytest.mark.parametrize("text", ['\ufeffprofile = "stable"\n', 'profile = "stable"\r\n',
                                  '\ufeff# team\r\nschema = 1\r\nprofile = \'stable\'  # pinned\r\n'])
def test_bom_and_crlf_project_files_take_the_fast_path(scratch: Path, text: str) -> None:
    """Files saved on Windows name the same profile for the shim as for pinman, without Python
    once the slow path has read them."""
    root = scratch / "windows"
    root.mkdir(exist_ok=True)
    paths = Paths.from_env({"PINMAN_HOME": str(scratch / "home")})
    assert _read_project(root, _utf8(text)).profile == "stable"  # type: ignore[union-attr]
    record_project_choice(paths, root)
    assert _shim_choice(scratch, paths, root) == "stable"


def _utf8_only(text: str) -> bool:
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return "\0" not in text


_CANARY_VALUES = st.sampled_from(["$(touch CANARY)", "`touch CANARY`", "'; touch CANARY; '", '"; touch CANARY; "',
                                  "\ntouch CANARY\n", "\\", "$0 $$ ${HOME}", "a\\'b", "'\\''"])


@PROPERTY
@given(st.one_of(TEXT, _CANARY_VALUES, st.lists(_CANARY_VALUES, max_size=3).map("".join)).filter(_utf8_only),
       st.one_of(TEXT, _CANARY_VALUES).filter(_utf8_only))
def test_any_env_value_reaches_claude_verbatim_through_the_pointer(scratch: Path, value: str, version: str) -> None:
    """The pointer file is sh the shim sources: whatever a profile's [env] holds (and whatever the
    version string is), the binary gets exactly that value and nothing in it runs."""
    paths = Paths.from_env({"PINMAN_HOME": str(scratch / "home-env")})
    if not paths.shim.exists():
        ensure_shim(paths)
        write_global(paths, "p")
    src = scratch / "env-src.toml"
    src.touch()
    printenv = Path(shutil.which("printenv") or "/usr/bin/printenv")
    write_pointer(paths, None, Pointer("p", version, printenv, src, {"H_VALUE": value}))
    cwd = scratch / "env-cwd"  # no .pinman.toml here or above: the global choice `p` runs
    cwd.mkdir(exist_ok=True)
    out = subprocess.run([str(paths.shim), "H_VALUE"], cwd=cwd, capture_output=True,
                         env={"PATH": os.environ["PATH"], "PINMAN_HOME": str(paths.config.parent)}, timeout=10)
    assert out.returncode == 0, out.stderr
    assert out.stdout == value.encode() + b"\n"
    assert not (cwd / "CANARY").exists()


# --------------------------------------------------------------------------- profile names


@PROPERTY
@given(st.one_of(TEXT, _NAMES, st.text(alphabet="./-_aZ09\0\n ", max_size=12)))
def test_a_profile_name_is_safe_as_a_file_name_and_in_sh_or_refused(name: str) -> None:
    try:
        assert validate_name(name) == name
    except ProfileError as e:
        assert_one_line(e)
        assert "invalid profile name" in str(e)
        return
    assert "/" not in name and ".." not in name and not name.startswith(".") and len(name) <= 64
    assert _runnable(name)  # the shim takes the fast path with it
    assert Path(name).name == name  # one path component, never a way out of profiles/


# --------------------------------------------------------------------------- profile edits

_BASE = """\
# team profile
description = "team"   # shown by pinman list

[claude-code]
version = "2.1.331"    # the pin
bad = [
  { version = "2.1.330", reason = "old" },  # keep
]

[env]
TEAM = "x"

# health next
[health]
prompt = "OK?"
"""

_EDIT_KEYS = st.sampled_from([
    "description", "claude-code.version", "claude-code.integrity", "claude-code.bad", "env.TEAM",
    "env.NEW_VAR", "env.ANTHROPIC_API_KEY", "env.PINMAN_PROFILE", "health.prompt", "health.timeout",
    "health.interval", "sdk.package", "sdk.version", "x", "claude-code", "env", "env.a.b", "",
    "claude-code.", ".x", "env.1X", "env.x y",
])
_EDIT_VALUES = st.one_of(
    TEXT, st.none(), st.integers(-5, 10**20), st.floats(allow_nan=True), st.booleans(),
    st.sampled_from(["2.1.331", "latest", "^2.1.0", "../x", "6h", "1d", "cli"]),
    st.lists(st.fixed_dictionaries({"version": st.sampled_from(["2.1.330", "2.1.329", "x"]),
                                    "reason": TEXT}), max_size=3),
    st.dictionaries(st.sampled_from(["a", "b", "x y"]), TEXT, max_size=2),
)


# Edits a user or `pin`/`lock`/`mark-bad` would make, with awkward but legal values, so that the
# success half (what is written parses, keeps the comments and holds each value) is checked too.
_PLAIN = st.one_of(st.text(st.characters(codec="utf-8", exclude_categories=("Cc", "Cs")), max_size=30),
                   st.sampled_from(["$(touch x)", "`id`", "a'b", 'a"b', "back\\slash", "# not a comment", "é🙂"]))
_LEGAL_EDITS = {
    "description": _PLAIN,
    "claude-code.version": st.sampled_from(["2.1.331", "1.0.100", "latest", "^2.1.0", "~2.1.300", ">=1.0.100 <2"]),
    "claude-code.bad": st.lists(st.fixed_dictionaries({"version": st.sampled_from(["2.1.330", "2.1.329", "1.0.99"]),
                                                       "reason": _PLAIN}), max_size=3, unique_by=lambda b: b["version"]),
    "env.TEAM": _PLAIN,
    "env.NEW_VAR": _PLAIN,
    "health.prompt": _PLAIN.filter(str.strip),
    "health.timeout": st.integers(1, 600),
    "health.interval": st.sampled_from(["6h", "1d", "30m"]),
}
_LEGAL_CHANGES = st.lists(st.sampled_from(sorted(_LEGAL_EDITS)), min_size=1, max_size=3, unique=True).flatmap(
    lambda keys: st.fixed_dictionaries({k: _LEGAL_EDITS[k] for k in keys}))


@PROPERTY
@given(st.one_of(st.dictionaries(_EDIT_KEYS, _EDIT_VALUES, max_size=3), _LEGAL_CHANGES))
def test_any_profile_edit_writes_a_valid_profile_or_nothing(scratch: Path, changes: dict[str, object]) -> None:
    path = scratch / "profiles" / "team.toml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(_BASE)
    try:
        update_profile(path, changes)
    except ProfileError as e:
        event("outcome: refused")
        assert_one_line(e)
        assert path.read_text() == _BASE  # refused: nothing written
        return
    event("outcome: written")
    profile = load_profile(path)  # whatever was written parses and validates
    text = path.read_text()
    assert text.startswith("# team profile\n")  # comments outside what changed stay
    if not {"claude-code", "claude-code.version"} & set(changes):
        assert "# the pin" in text
    for key, value in changes.items():  # each value is there, unless its table was changed too
        if key == "description" and isinstance(value, str):
            assert profile.description == value
        if key.startswith("env.") and isinstance(value, str) and "env" not in changes:
            assert profile.env[key[4:]] == value
        if key == "claude-code.version" and isinstance(value, str) and "claude-code" not in changes:
            assert profile.claude_code.version == value
        if key == "claude-code.bad" and isinstance(value, list) and "claude-code" not in changes:
            assert [(b.version, b.reason) for b in profile.claude_code.bad] == [(b["version"], b["reason"])
                                                                                for b in value]
        if key in ("health.prompt", "health.timeout") and value is not None and "health" not in changes:
            assert getattr(profile.health, key[7:]) == value


# --------------------------------------------------------------------------- state files

JSON = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70), st.floats(allow_nan=False), TEXT),
    lambda inner: st.one_of(st.lists(inner, max_size=3),
                            st.dictionaries(st.one_of(TEXT, st.sampled_from(["version", "previous", "reason", "at",
                                                                             "hash", "keys", "project", "files",
                                                                             "overrides", "schema"])),
                                            inner, max_size=4)),
    max_leaves=8,
)


def _override_docs() -> st.SearchStrategy[object]:
    entry = st.fixed_dictionaries({}, optional={"version": st.one_of(TEXT, JSON, st.just("1.0.1")),
                                               "previous": st.one_of(TEXT, JSON), "reason": st.one_of(TEXT, JSON),
                                               "at": st.one_of(JSON, st.sampled_from(["nan", "inf", "1e400", "x"]))})
    doc = st.fixed_dictionaries({"schema": st.one_of(st.just(1), JSON),
                                 "overrides": st.one_of(st.dictionaries(st.sampled_from(["p", "q"]), entry,
                                                                        max_size=2), JSON)})
    return st.one_of(doc, JSON)


def _encoded(value: object) -> st.SearchStrategy[bytes]:
    return st.just(json.dumps(value).encode())


STATE_BYTES = st.one_of(
    _override_docs().flatmap(_encoded),
    st.binary(max_size=40),
    TEXT.map(lambda s: _utf8(s)),
)


def _home(scratch: Path, name: str) -> Paths:
    """A PINMAN_HOME of its own per property, with a user profile `p` pinned exactly."""
    paths = Paths.from_env({"PINMAN_HOME": str(scratch / f"home-{name}")})
    profile = paths.user_profiles / "p.toml"
    if not profile.exists():
        profile.parent.mkdir(parents=True)
        profile.write_text('[claude-code]\nversion = "1.0.1"\n')
    return paths


def _try(fn: object, path: Path) -> None:
    try:
        fn()  # type: ignore[operator]
    except PinmanError as e:
        assert_one_line(e)
        assert str(path) in str(e) or display_path(path) in str(e) or "profile name" in str(e), str(e)


@PROPERTY
@given(STATE_BYTES)
def test_any_global_choice_file_gives_a_name_or_an_error(scratch: Path, data: bytes) -> None:
    paths = _home(scratch, "global")
    paths.global_choice.parent.mkdir(parents=True, exist_ok=True)
    paths.global_choice.write_bytes(data)

    def read() -> None:
        name = read_global(paths)
        assert name is None or validate_name(name) == name

    _try(read, paths.global_choice)


@PROPERTY
@given(STATE_BYTES)
def test_any_overrides_file_gives_overrides_or_an_error(scratch: Path, data: bytes) -> None:
    paths = _home(scratch, "overrides")
    paths.overrides.parent.mkdir(parents=True, exist_ok=True)
    paths.overrides.write_bytes(data)

    def read() -> None:
        for key, ov in read_overrides(paths).items():
            assert isinstance(key, str) and isinstance(ov.version, str) and isinstance(ov.reason, str)
            assert ov.previous is None or isinstance(ov.previous, str)
            assert isinstance(ov.at, float)
        profile = load_profile(paths.user_profiles / "p.toml")
        from pinman.runtime.resolution import target, why_override

        tgt = target(paths, profile)  # an override's version reaches the store only if valid
        assert isinstance(tgt.version, str)
        if tgt.override:
            why_override(tgt.override)
            from pinman.runtime.resolution import installed

            installed(paths, tgt.version)

    _try(read, paths.overrides)


def _channel_docs() -> st.SearchStrategy[object]:
    entry = st.fixed_dictionaries({}, optional={
        "version": st.one_of(TEXT, JSON, st.sampled_from(["1.0.1", "../1.0.1", "1.0.1\n"])),
        "spec": st.one_of(TEXT, JSON, st.just(">=1 <2")), "since": st.one_of(JSON, st.just(1e400)),
        "previous": st.one_of(TEXT, JSON, st.just("1.0.0")), "endpoint": st.one_of(TEXT, JSON),
        "verified": JSON, "fetched": st.one_of(JSON, st.lists(st.one_of(TEXT, st.just("1.0.0")), max_size=3)),
        "noticed": st.one_of(TEXT, JSON)})
    # well formed, or well formed but for one field: the success half is checked too
    good = st.fixed_dictionaries({"version": st.just("1.0.1"), "spec": st.just(">=1 <2")},
                                 optional={"since": JSON, "previous": st.one_of(TEXT, st.just("1.0.0")),
                                           "verified": JSON, "endpoint": TEXT})
    doc = st.fixed_dictionaries({"schema": st.one_of(st.just(1), JSON),
                                 "channels": st.one_of(st.dictionaries(st.sampled_from(["g", "q"]),
                                                                       st.one_of(good, entry), max_size=2), JSON)})
    return st.one_of(doc, JSON)


@PROPERTY
@given(st.one_of(_channel_docs().flatmap(_encoded), st.binary(max_size=40), TEXT.map(lambda s: _utf8(s))))
def test_any_channels_file_gives_what_a_guarded_profile_runs_or_an_error(scratch: Path, data: bytes) -> None:
    from pinman.runtime.channel import ChannelUnset
    from pinman.runtime.resolution import installed, target
    from pinman.state.channels import read_channels

    paths = _home(scratch, "channels")
    guarded = paths.user_profiles / "g.toml"
    if not guarded.exists():
        guarded.write_text('[claude-code]\nversion = ">=1 <2"\n[update]\npolicy = "guarded"\n')
    paths.channels.parent.mkdir(parents=True, exist_ok=True)
    paths.channels.write_bytes(data)

    def read() -> None:
        for state in read_channels(paths).values():
            assert validate_version_ok(state.version) and isinstance(state.since, float)
            assert all(validate_version_ok(v) for v in (*state.fetched, *([state.previous] if state.previous else [])))
        try:
            tgt = target(paths, load_profile(guarded))
        except ChannelUnset:
            event("no channel record applies")
            return
        event("runs a recorded version")
        assert tgt.version == "1.0.1" and "guarded" in tgt.why
        installed(paths, tgt.version)  # names a folder the store could hold

    _try(read, paths.channels)


def validate_version_ok(version: str) -> bool:
    from pinman.names import is_exact_version

    return is_exact_version(version)


def _trust_docs() -> st.SearchStrategy[object]:
    record = st.fixed_dictionaries({}, optional={"hash": st.one_of(TEXT, JSON), "keys": JSON, "at": JSON,
                                                "project": st.one_of(TEXT, JSON)})
    return st.one_of(st.fixed_dictionaries({"schema": st.just(1), "files": st.one_of(
        st.dictionaries(st.sampled_from(["/p/profiles/a.toml", "x", ""]), st.one_of(record, JSON), max_size=2),
        JSON)}), JSON)


@PROPERTY
@given(st.one_of(_trust_docs().flatmap(_encoded), st.binary(max_size=40)))
def test_any_trust_db_gives_records_or_an_error(scratch: Path, data: bytes) -> None:
    paths = _home(scratch, "trust")
    db = paths.config / "trust.json"
    db.write_bytes(data)

    def read() -> None:
        for t in trust.list_trusted(paths):
            assert isinstance(t.keys, tuple) and all(isinstance(k, str) for k in t.keys)
            assert isinstance(t.hash, str) and isinstance(t.at, float)

    _try(read, db)


_POINTER_LINES = st.one_of(
    st.sampled_from(["_pm_ver='1.0.1'", "_pm_ver=1.0.1", "_pm_bin='/bin/true'", "_pm_bin=", "_pm_src='/x'",
                     "_pm_env() {", "}", "_pm_ver", "_pm_", "_pm_ver='a'b'", "# generated"]),
    TEXT.map(lambda s: "_pm_ver=" + s), TEXT)


@PROPERTY
@given(st.one_of(st.lists(_POINTER_LINES, max_size=5).map(lambda ls: _utf8("\n".join(ls))),
                 st.binary(max_size=40)))
def test_any_pointer_file_gives_current_or_an_error(scratch: Path, data: bytes) -> None:
    """`pinman current` reads the shim's pointer; a damaged one must not break it."""
    from pinman.views.status import describe_current

    paths = _home(scratch, "pointer")
    write_global(paths, "p")
    ptr = pointer_path(paths, None, "p")
    ptr.parent.mkdir(parents=True, exist_ok=True)
    ptr.write_bytes(data)
    os.utime(ptr)  # fresher than the profile: pinman takes it at its word if it can read it

    def read() -> None:
        info = describe_current(Path(os.sep), paths)
        assert info["profile"] == "p" and isinstance(info["version"], str)

    _try(read, ptr)


# --------------------------------------------------------------------------- .npmrc

_NPMRC_LINES = st.one_of(
    st.sampled_from(["registry=http://127.0.0.1:9/", "registry = not a url", "registry=", "@a:registry=x",
                     "//127.0.0.1:9/:_authToken=${NPM_TOKEN}", "//x/:_auth=%%%", "//x/:username=u",
                     "//x/:_password=***", "//127.0.0.1:9/:username=u", "//127.0.0.1:9/:_password=***",
                     "//127.0.0.1:9/:_password=dTpw", "registry=http://[::1", "registry=http://[x]/", "strict-ssl=false", "cafile=/nope", "[section]", "ca[]=x", "=x",
                     "${UNSET}", "\\${X}", "key=${"]),
    TEXT)


@PROPERTY
@given(st.lists(_NPMRC_LINES, max_size=5).map("\n".join))
def test_any_npmrc_gives_a_config_or_an_error(scratch: Path, text: str) -> None:
    from pinman.npm.config import load_npm_config

    home = scratch / "npm-home"
    home.mkdir(exist_ok=True)
    (home / ".npmrc").write_text(text, errors="surrogatepass")
    env = {"HOME": str(home), "NPM_TOKEN": "t0k3n-value"}
    try:
        cfg = load_npm_config(env)
        url = cfg.registry_for("@anthropic-ai/claude-code")
        assert isinstance(url, str)
        cfg.auth_header(url)
        cfg.tls_verify()
        assert "t0k3n-value" not in repr(cfg)
    except PinmanError as e:
        assert_one_line(e)
