"""Profiles: the file format, its errors, discovery and comment-keeping edits."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pinman.profile import discovery, model
from pinman.errors import ProfileError
from pinman.paths import Paths, builtin_profiles_dir
from pinman.profile.model import ClaudeCodePin, HealthConfig, Profile, SdkPin, UpdateConfig
from pinman.profile.tomlfile import ProfileFileError, key_lines
from pinman.profile.discovery import find_profile, list_profiles, search_dirs
from pinman.profile.validate import load_profile, parse_profile, validate_name
from pinman.profile.edit import update_profile
from pinman.profile.project import find_project_root, read_project_file, write_project_file

SHA_2_1_331 = "sha512-E6IE7pon8YAtlzIBB0yhhQgopGvsYuSjnCaoP9ATw64T/f3I4ZfwVcj5jWV9yD7XkrSQZCwO7PgS+qMcP817gA=="
SHA_1_0_100 = "sha512-b4FRo3t46kPawzE8pT7nxtDc9NdYPTFaPoGGns/ZNqsqRu2jKMiSjjt5DiFvfaBZA8Tnt2qXbv4nd1vqR9Ru8Q=="
HERE = Path("profiles/x.toml")


def parse(text: str) -> Profile:
    return parse_profile(textwrap.dedent(text), HERE)


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


def pin(version: str, description: str = "") -> str:
    return f'description = "{description}"\n[claude-code]\nversion = "{version}"\n'


# --------------------------------------------------------------------------- valid shapes


def test_minimal_profile_gets_defaults() -> None:
    p = parse('[claude-code]\nversion = "latest"\n')
    assert p.name == "x" and p.path == HERE and p.source == "user" and p.project_root is None
    assert p.description == ""
    assert p.claude_code == ClaudeCodePin("latest", None, ())
    assert p.sdk is None and p.env == {}
    assert p.health == HealthConfig("cli", "Reply with the single word OK.", 60.0, True, 21600.0, None)


def test_full_profile() -> None:
    p = parse(f"""\
        schema = 1
        description = "Known to work with our gateway"

        [claude-code]
        version = "2.1.331"
        integrity = "{SHA_2_1_331}"
        bad = [
          {{ version = "2.1.330", reason = "output_config rejected by gateway" }},
          {{ version = "v2.1.329" }},
        ]

        [sdk]
        package = "npm:@anthropic-ai/claude-agent-sdk"
        version = "^0.3.0"

        [env]
        ANTHROPIC_BASE_URL = "https://llm-gateway.internal.example"
        EMPTY = ""

        [health]
        probe = "http"
        model = "claude-haiku-4-5"
        prompt = "Say OK"
        timeout = 2.5
        auto_rollback = false
        interval = "1h30m"
        """)
    assert p.description == "Known to work with our gateway"
    assert p.claude_code.version == "2.1.331" and p.claude_code.integrity == SHA_2_1_331
    assert [(b.version, b.reason) for b in p.claude_code.bad] == [
        ("2.1.330", "output_config rejected by gateway"), ("2.1.329", "")]
    assert p.claude_code.is_bad("2.1.329") is not None and p.claude_code.is_bad("2.1.331") is None
    assert p.sdk == SdkPin("npm:@anthropic-ai/claude-agent-sdk", "^0.3.0", "npm", "@anthropic-ai/claude-agent-sdk")
    assert p.env == {"ANTHROPIC_BASE_URL": "https://llm-gateway.internal.example", "EMPTY": ""}
    assert p.health == HealthConfig("http", "Say OK", 2.5, False, 5400.0, "claude-haiku-4-5")


def test_dotted_keys_and_inline_tables_are_the_same_profile() -> None:
    a = parse('claude-code.version = "^2.1.0"\nenv.A = "1"\n')
    b = parse('claude-code = { version = "^2.1.0" }\nenv = { A = "1" }\n')
    assert a == b and a.claude_code.version == "^2.1.0" and a.env == {"A": "1"}


@pytest.mark.parametrize("version", ["2.1.331", "v2.1.331", "latest", "next", "^2.1.0", "~2.1.300",
                                     "2.1.x", ">=1.0.100 <2", "1.0.100 || 2.1.331", "*"])
def test_claude_code_version_forms(version: str) -> None:
    assert parse(pin(version)).claude_code.version == version


@pytest.mark.parametrize(("package", "version", "eco", "name"), [
    ("anthropic", "0.40.0", "pypi", "anthropic"),
    ("anthropic", ">=0.40,<1", "pypi", "anthropic"),
    ("claude-agent-sdk", "~=0.1.0", "pypi", "claude-agent-sdk"),
    ("npm:@anthropic-ai/sdk", "0.60.0", "npm", "@anthropic-ai/sdk"),
    ("npm:@anthropic-ai/claude-agent-sdk", "latest", "npm", "@anthropic-ai/claude-agent-sdk"),
])
def test_sdk_pins(package: str, version: str, eco: str, name: str) -> None:
    p = parse(pin("latest") + f'[sdk]\npackage = "{package}"\nversion = "{version}"\n')
    assert p.sdk == SdkPin(package, version, eco, name)  # type: ignore[arg-type]


@pytest.mark.parametrize(("raw", "seconds"), [
    ('"90s"', 90), ('"30m"', 1800), ('"6h"', 21600), ('"1d"', 86400), ('"1h30m"', 5400),
    ('"1.5h"', 5400), ('" 2h 15m "', 8100), ("120", 120), ("0.5", 0.5),
])
def test_health_interval(raw: str, seconds: float) -> None:
    assert parse(pin("latest") + f"[health]\ninterval = {raw}\n").health.interval == seconds


def test_bom_and_crlf_are_accepted() -> None:
    data = "\ufeff# c\r\n[claude-code]\r\nversion = \"latest\"\r\n".encode()
    assert parse_profile(data, HERE).claude_code.version == "latest"


@pytest.mark.parametrize("name", ["stable", "latest", "legacy"])
def test_builtin_profiles_load(name: str) -> None:
    p = load_profile(builtin_profiles_dir() / f"{name}.toml", source="builtin")
    assert p.name == name and p.description


def test_builtin_pins() -> None:
    folder = builtin_profiles_dir()
    stable = load_profile(folder / "stable.toml")
    # a guarded channel on `latest`: a week's soak, moved forward by the periodic check
    assert (stable.claude_code.version, stable.claude_code.integrity, stable.claude_code.locked) == ("latest", None, None)
    assert stable.update == UpdateConfig(policy="guarded", soak=7 * 86400.0, auto=True)
    assert load_profile(folder / "latest.toml").claude_code == ClaudeCodePin("latest", None, ())
    assert load_profile(folder / "latest.toml").update == UpdateConfig()  # `latest` stays npm's resolution
    legacy = load_profile(folder / "legacy.toml").claude_code
    assert (legacy.version, legacy.integrity) == ("1.0.100", SHA_1_0_100)


def test_documented_format_is_a_valid_profile() -> None:
    """The example in the module docstring (pasted into the README) must stay loadable."""
    doc = model.__doc__ or ""
    example = re.search(r"```toml\n(.*?)```", doc, re.S)
    assert example
    text = example[1].replace('"sha512-..."', f'"{SHA_2_1_331}"')
    p = parse_profile(text, HERE)
    assert p.sdk is not None and p.env and p.claude_code.bad and p.health.model


def test_loading_does_not_import_tomlkit() -> None:
    """`pinman current` loads a profile on every run; tomlkit is for writing only."""
    code = (
        "import sys; from pathlib import Path; from pinman.profile.validate import load_profile; "
        f"load_profile(Path({str(builtin_profiles_dir() / 'stable.toml')!r})); "
        "print('tomlkit' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# --------------------------------------------------------------------------- errors say where

ERRORS = [
    # (text, line, key, words in the problem)
    ('[claude-code]\nversion = 2.1.331\n', 2, None, "not valid TOML"),
    ('[claude-code]\nversion = "1.0.0"\n[env\n', 3, None, "not valid TOML"),
    ('descripton = "x"\n[claude-code]\nversion = "1.0.0"\n', 1, "descripton", 'unknown key'),
    ('[claude-code]\nverison = "1.0.0"\n', 2, "claude-code.verison", "unknown key"),
    (pin("latest") + '[sdks]\npackage = "a"\n', 4, "sdks", "unknown key"),
    (pin("latest") + '[health]\ntimout = 5\n', 5, "health.timout", "unknown key"),
    (pin("latest") + '[health]\n\nprobe = "cli"\nretries = 3\n', 7, "health.retries", "unknown key"),
    ('[claude-code]\nversion = "1.0.0"\nbad = [\n  { version = "1.0.1", why = "x" },\n]\n', 4,
     "claude-code.bad[0].why", "unknown key"),
    ('description = 1\n[claude-code]\nversion = "1.0.0"\n', 1, "description", "must be a string"),
    ('claude-code = "2.1.331"\n', 1, "claude-code", "must be a table"),
    ('[claude-code]\nversion = 2\n', 2, "claude-code.version", "must be a string"),
    ("description = \"x\"\n", None, "claude-code.version", "missing"),
    ('[claude-code]\nintegrity = "x"\n', 1, "claude-code.version", "missing"),
    ('\n\n[claude-code]\nversion = "2.1.x1"\n', 4, "claude-code.version",
     '"2.1.x1" is not a version, dist-tag or npm range'),
    ('[claude-code]\nversion = "1.0.0; rm -rf ~"\n', 2, "claude-code.version", "is not a version"),
    ('[claude-code]\nversion = "1.0.0"\nintegrity = "sha256-abc="\n', 3, "claude-code.integrity", "sha512-"),
    ('[claude-code]\nversion = "1.0.0"\nintegrity = "sha512-abc"\n', 3, "claude-code.integrity", "sha512-"),
    (f'[claude-code]\nversion = "^2.1.0"\nintegrity = "{SHA_2_1_331}"\n', 3, "claude-code.integrity",
     "exact version"),
    ('[claude-code]\nversion = "1.0.0"\nbad = "1.0.1"\n', 3, "claude-code.bad", "must be an array"),
    ('[claude-code]\nversion = "1.0.0"\nbad = [\n  { version = "1.0.1" },\n  { version = "^1" },\n]\n', 5,
     "claude-code.bad[1].version", "not an exact version"),
    ('[claude-code]\nversion = "1.0.0"\nbad = [{ reason = "x" }]\n', 3, "claude-code.bad[0].version", "missing"),
    ('[claude-code]\nversion = "1.0.0"\n\n[[claude-code.bad]]\nversion = "1.0.1"\nreason = 3\n', 6,
     "claude-code.bad[0].reason", "must be a string"),
    (pin("latest") + '[env]\nA = 1\n', 5, "env.A", "must be a string"),
    (pin("latest") + '[env]\nA = ["x"]\n', 5, "env.A", "must be a string"),
    (pin("latest") + '[env]\n"1A" = "x"\n', 5, "env.1A", "not a valid environment variable name"),
    (pin("latest") + '[env]\n"A-B" = "x"\n', 5, "env.A-B", "not a valid environment variable name"),
    (pin("latest") + '[env]\n"A B" = "x"\n', 5, 'env."A B"', "not a valid environment variable name"),
    (pin("latest") + '[env]\n"$(touch x)" = "x"\n', 5, "env.", "not a valid environment variable name"),
    (pin("latest") + '[env]\n"" = "x"\n', 5, 'env.""', "not a valid environment variable name"),
    (pin("latest") + '[env]\nA = "x\\u0000y"\n', 5, "env.A", "NUL"),
    (pin("latest") + '[env]\nPINMAN_HOME = "/tmp"\n', 5, "env.PINMAN_HOME", "cannot be set"),
    (pin("latest") + '[env]\nDISABLE_AUTOUPDATER = "0"\n', 5, "env.DISABLE_AUTOUPDATER", "cannot be set"),
    (pin("latest") + '[env]\nANTHROPIC_API_KEY = "sk-x"\n', 5, "env.ANTHROPIC_API_KEY", "cannot be set"),
    ('env = "A=1"\n' + pin("latest"), 1, "env", "must be a table"),
    (pin("latest") + '[health]\ntimeout = "60"\n', 5, "health.timeout", "number of seconds"),
    (pin("latest") + '[health]\ntimeout = 0\n', 5, "health.timeout", "positive"),
    (pin("latest") + '[health]\ntimeout = -1.5\n', 5, "health.timeout", "positive"),
    (pin("latest") + '[health]\ntimeout = inf\n', 5, "health.timeout", "positive"),
    (pin("latest") + '[health]\ntimeout = nan\n', 5, "health.timeout", "positive"),
    (pin("latest") + '[health]\ntimeout = true\n', 5, "health.timeout", "number of seconds"),
    (pin("latest") + '[health]\nauto_rollback = "yes"\n', 5, "health.auto_rollback", "true or false"),
    (pin("latest") + '[health]\nprobe = "ssh"\n', 5, "health.probe", "not a probe"),
    (pin("latest") + '[health]\nprompt = " "\n', 5, "health.prompt", "must not be empty"),
    (pin("latest") + '[health]\nmodel = ""\n', 5, "health.model", "must not be empty"),
    (pin("latest") + '[health]\ninterval = "6 hours"\n', 5, "health.interval", "not a duration"),
    (pin("latest") + '[health]\ninterval = "0s"\n', 5, "health.interval", "positive"),
    (pin("latest") + '[health]\ninterval = "\u0663h"\n', 5, "health.interval", "not a duration"),
    (pin("latest") + '[health]\ninterval = 1979-05-27\n', 5, "health.interval", "a date/time"),
    (pin("latest") + '[sdk]\npackage = "anthropic"\n', 4, "sdk.version", "missing"),
    (pin("latest") + '[sdk]\npackage = "anthropic[bedrock]"\nversion = "1"\n', 5, "sdk.package", "PyPI"),
    (pin("latest") + '[sdk]\npackage = "npm:"\nversion = "1.0.0"\n', 5, "sdk.package", "npm package name"),
    (pin("latest") + '[sdk]\npackage = "npm:../../x"\nversion = "1.0.0"\n', 5, "sdk.package", "npm package"),
    (pin("latest") + '[sdk]\npackage = "anthropic"\nversion = "one"\n', 6, "sdk.version", "PEP 440"),
    (pin("latest") + '[sdk]\npackage = "anthropic"\nversion = ""\n', 6, "sdk.version", "must not be empty"),
    (pin("latest") + '[sdk]\npackage = "npm:@anthropic-ai/sdk"\nversion = ">=0.40,<1"\n', 6,
     "sdk.version", "is not a version, dist-tag or npm range"),
    ('schema = 2\n[claude-code]\nversion = "1.0.0"\n', 1, "schema", "this pinman reads schema 1"),
    ('schema = "1"\n[claude-code]\nversion = "1.0.0"\n', 1, "schema", "positive integer"),
]


@pytest.mark.parametrize(("text", "line", "key", "problem"), ERRORS)
def test_errors_name_file_line_and_key(text: str, line: int | None, key: str | None, problem: str) -> None:
    with pytest.raises(ProfileFileError) as info:
        parse_profile(text, HERE)
    err = info.value
    where = f"profiles/x.toml:{line}:" if line else "profiles/x.toml: "
    assert str(err).startswith(where), str(err)
    if key:
        assert f" {key}" in str(err), str(err)
    assert problem in str(err), str(err)
    assert "\n" not in str(err) and err.line == line
    assert err.exit_code == ProfileError.exit_code


def test_error_message_shape_from_the_docs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path / ".pinman.toml", "")
    write(tmp_path / "profiles" / "stable.toml", '# the team pin\ndescription = "x"\n\n[claude-code]\nversion = "2.1.x1"\n')
    with pytest.raises(ProfileError) as info:
        find_profile("stable", tmp_path, Paths.from_env())
    assert str(info.value) == ('profiles/stable.toml:5: claude-code.version: "2.1.x1" is not a version, '
                               "dist-tag or npm range")
    assert info.value.hint and "^2.1.0" in info.value.hint


def test_syntax_error_keeps_the_column_and_a_hint() -> None:
    with pytest.raises(ProfileFileError) as info:
        parse_profile('[claude-code]\nversion = 2.1.331\n', HERE)
    assert re.match(r"profiles/x\.toml:2:\d+: not valid TOML: ", str(info.value))
    assert info.value.hint and "quotes" in info.value.hint


def test_unknown_key_suggests_the_nearest() -> None:
    with pytest.raises(ProfileError) as info:
        parse('[claude-code]\nversion = "1.0.0"\nintegrety = "x"\n')
    assert info.value.hint and 'did you mean "integrity"' in info.value.hint
    with pytest.raises(ProfileError) as info:
        parse('[claude_code]\nversion = "1.0.0"\n')
    assert info.value.hint and 'did you mean "claude-code"' in info.value.hint


def test_values_in_messages_are_escaped() -> None:
    with pytest.raises(ProfileError) as info:
        parse('[claude-code]\nversion = "1\\n2\\u001b[31m"\n')
    assert "\n" not in str(info.value) and "\x1b" not in str(info.value)


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "x.toml"
    path.write_bytes(b'[claude-code]\nversion = "1.0.0"\ndescription = "\xff"\n')
    with pytest.raises(ProfileFileError) as info:
        load_profile(path)
    assert info.value.line == 3 and "UTF-8" in str(info.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ProfileError, match="no such profile file"):
        load_profile(tmp_path / "nope.toml")


# --------------------------------------------------------------------------- names

GOOD_NAMES = ["stable", "a", "2.1-gateway", "team_b.prod", "A" * 64, "x.y"]
BAD_NAMES = ["", "../x", "..", "a/b", "/abs", "a\\b", "$(x)", "`x`", "x;y", "a b", "x\n", "\nx",
             ".hidden", "-rf", "_x", "a..b", "A" * 65, "x\0", "é", "x\t"]


@pytest.mark.parametrize("name", GOOD_NAMES)
def test_good_names(name: str) -> None:
    assert validate_name(name) == name


@pytest.mark.parametrize("name", BAD_NAMES)
def test_bad_names(name: str, tmp_path: Path) -> None:
    with pytest.raises(ProfileError) as info:
        validate_name(name)
    assert "\n" not in str(info.value) and "\0" not in str(info.value)
    with pytest.raises(ProfileError):
        find_profile(name, tmp_path, Paths.from_env())


def test_bad_names_never_reach_the_file_system(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "x.toml").write_text(pin("latest"))  # what "../x" would reach from profiles/
    proj = tmp_path / "proj"
    write(proj / ".pinman.toml", "")
    write(proj / "profiles" / "a.toml", pin("latest"))
    with pytest.raises(ProfileError, match="invalid profile name"):
        find_profile("../x", proj, Paths.from_env())


def test_non_string_name() -> None:
    with pytest.raises(ProfileError):
        validate_name(None)  # type: ignore[arg-type]


def test_file_with_an_invalid_name_cannot_load(tmp_path: Path) -> None:
    with pytest.raises(ProfileError, match="invalid profile name"):
        load_profile(write(tmp_path / "a b.toml", pin("latest")))


# --------------------------------------------------------------------------- discovery


@pytest.fixture
def layout(tmp_path: Path, pinman_home: Paths) -> dict[str, Path]:
    """A project (with a nested folder), a user profile folder and the built-ins."""
    proj = tmp_path / "work" / "repo"
    write(proj / ".pinman.toml", 'profile = "stable"\n')
    write(proj / "profiles" / "stable.toml", pin("2.1.331", "project"))
    write(proj / "profiles" / "only-project.toml", pin("latest", "project"))
    write(pinman_home.user_profiles / "stable.toml", pin("2.1.330", "user"))
    write(pinman_home.user_profiles / "mine.toml", pin("latest", "user"))
    (proj / "src" / "deep").mkdir(parents=True)
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    return {"proj": proj, "deep": proj / "src" / "deep", "outside": outside}


def test_precedence_project_then_user_then_builtin(layout: dict[str, Path], pinman_home: Paths) -> None:
    p = find_profile("stable", layout["deep"], pinman_home)
    assert (p.source, p.description, p.project_root) == ("project", "project", layout["proj"])
    assert p.path == layout["proj"] / "profiles" / "stable.toml"

    p = find_profile("stable", layout["outside"], pinman_home)
    assert (p.source, p.description, p.project_root) == ("user", "user", None)

    (pinman_home.user_profiles / "stable.toml").unlink()
    p = find_profile("stable", layout["outside"], pinman_home)
    assert p.source == "builtin" and p.path == builtin_profiles_dir() / "stable.toml"

    assert find_profile("mine", layout["deep"], pinman_home).source == "user"
    assert find_profile("legacy", layout["deep"], pinman_home).source == "builtin"
    with pytest.raises(ProfileError):
        find_profile("only-project", layout["outside"], pinman_home)


def test_unknown_profile_lists_the_known_ones(layout: dict[str, Path], pinman_home: Paths) -> None:
    with pytest.raises(ProfileError) as info:
        find_profile("stabel", layout["deep"], pinman_home)
    assert str(info.value) == 'unknown profile "stabel"'
    hint = info.value.hint or ""
    assert 'did you mean "stable"' in hint
    for name in ("latest", "legacy", "mine", "only-project", "stable"):
        assert name in hint


def test_search_dirs(layout: dict[str, Path], pinman_home: Paths) -> None:
    assert search_dirs(layout["deep"], pinman_home) == [
        ("project", layout["proj"] / "profiles", layout["proj"]),
        ("user", pinman_home.user_profiles, None),
        ("builtin", builtin_profiles_dir(), None),
    ]
    assert [s for s, _, _ in search_dirs(layout["outside"], pinman_home)] == ["user", "builtin"]


def test_search_dirs_lists_a_folder_once(tmp_path: Path, pinman_home: Paths,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    # Working inside pinman's own checkout: the project's profiles/ are the built-ins.
    write(tmp_path / ".pinman.toml", "")
    (tmp_path / "profiles").mkdir()
    monkeypatch.setattr(discovery, "builtin_profiles_dir", lambda: tmp_path / "profiles")
    assert [s for s, _, _ in search_dirs(tmp_path, pinman_home)] == ["project", "user"]


def test_list_profiles_marks_shadowed_and_reports_broken(layout: dict[str, Path], pinman_home: Paths) -> None:
    write(layout["proj"] / "profiles" / "broken.toml", '[claude-code]\nversion = "nope nope"\n')
    write(layout["proj"] / "profiles" / "notes.txt", "not a profile")
    write(layout["proj"] / "profiles" / "bad name.toml", pin("latest"))
    write(layout["proj"] / "profiles" / ".hidden.toml", pin("latest"))
    write(pinman_home.user_profiles / "broken.toml", pin("latest", "user"))
    listed = list_profiles(layout["deep"], pinman_home)
    seen = [(p.name, p.source, shadowed) for p, shadowed in listed]
    assert ("stable", "project", False) in seen
    assert ("stable", "user", True) in seen
    assert ("stable", "builtin", True) in seen
    assert ("broken", "user", True) in seen  # shadowed by the project's broken file
    assert ("only-project", "project", False) in seen and ("legacy", "builtin", False) in seen
    assert not any(name in ("notes", "bad name", ".hidden") for name, _, _ in seen)
    assert [(b.name, b.source, b.shadowed) for b in listed.broken] == [("broken", "project", False)]
    assert "broken.toml:2: claude-code.version" in str(listed.broken[0].error)
    # and find_profile reports it instead of quietly falling through to the user's file
    with pytest.raises(ProfileError, match="broken.toml:2"):
        find_profile("broken", layout["deep"], pinman_home)


def test_a_project_profile_hiding_the_users_own_is_named(pinman_home: Paths, tmp_path: Path) -> None:
    """The user's `team` carries the corporate base URL; a repo's own `team` replaces it there."""
    import json

    from cli_support import pinman

    from pinman.runtime.resolution import notices, profile_env

    mine = pinman_home.user_profiles / "team.toml"
    mine.parent.mkdir(parents=True)
    mine.write_text('[claude-code]\nversion = "2.1.331"\n[env]\nANTHROPIC_BASE_URL = "https://gw.corp.example"\n')
    repo = tmp_path / "repo"
    (repo / "profiles").mkdir(parents=True)
    (repo / ".pinman.toml").write_text('profile = "team"\n')
    (repo / "profiles" / "team.toml").write_text('[claude-code]\nversion = "1.0.100"\n')

    profile = find_profile("team", repo, pinman_home)
    assert profile.source == "project" and profile.shadows == mine
    assert "ANTHROPIC_BASE_URL" not in profile_env(pinman_home, profile)
    [notice] = notices(pinman_home, profile)
    assert str(mine) in notice and "[env]" in notice
    assert find_profile("team", tmp_path, pinman_home).shadows is None  # outside the repo: the user's own

    r = pinman(pinman_home, repo, "current")
    assert r.code == 0 and f"hides:   {mine}" in r.out, r.text
    assert json.loads(pinman(pinman_home, repo, "current", "--json").out)["shadows"] == str(mine)
    assert json.loads(pinman(pinman_home, repo, "show", "team", "--json").out)["shadows"] == str(mine)
    r = pinman(pinman_home, repo, "exec", "--", "true")
    assert r.code == 0 and r.err.count(f"replaces your own profile {mine}") == 1, r.text
    assert json.loads(pinman(pinman_home, tmp_path, "current", "--json", PINMAN_PROFILE="team").out)["shadows"] is None


def test_find_project_root_walks_up_to_the_nearest(tmp_path: Path) -> None:
    outer = tmp_path / "outer"
    inner = outer / "a" / "inner"
    write(outer / ".pinman.toml", "")
    write(inner / ".pinman.toml", "")
    (inner / "x" / "y").mkdir(parents=True)
    (outer / "b").mkdir()
    assert find_project_root(inner / "x" / "y") == inner
    assert find_project_root(inner) == inner
    assert find_project_root(outer / "a") == outer
    assert find_project_root(outer / "b") == outer
    assert find_project_root(tmp_path) is None
    (outer / "c" / ".pinman.toml").mkdir(parents=True)  # a folder of that name is not the file
    assert find_project_root(outer / "c") == outer


def test_find_project_root_keeps_symlinked_paths(tmp_path: Path) -> None:
    real = tmp_path / "real"
    write(real / ".pinman.toml", "")
    (real / "sub").mkdir()
    (tmp_path / "link").symlink_to(real)
    assert find_project_root(tmp_path / "link" / "sub") == tmp_path / "link"


# --------------------------------------------------------------------------- .pinman.toml


def test_project_file_read(tmp_path: Path) -> None:
    assert read_project_file(tmp_path).profile is None  # no file
    write(tmp_path / ".pinman.toml", "# only marks the project\n")
    pf = read_project_file(tmp_path)
    assert (pf.root, pf.path, pf.profile) == (tmp_path, tmp_path / ".pinman.toml", None)
    write(tmp_path / ".pinman.toml", 'schema = 1\nprofile = "legacy"  # old gateway\n')
    assert read_project_file(tmp_path).profile == "legacy"


@pytest.mark.parametrize(("text", "line", "problem"), [
    ('profle = "x"\n', 1, "unknown key"),
    ('\nprofile = "../x"\n', 2, "invalid profile name"),
    ("profile = 3\n", 1, "must be a string"),
    ('[tool]\nprofile = "x"\n', 1, "unknown key"),
    ('profile = "x\n', 1, "not valid TOML"),
    ('schema = 9\nprofile = "x"\n', 1, "schema"),
])
def test_project_file_errors(tmp_path: Path, text: str, line: int, problem: str) -> None:
    write(tmp_path / ".pinman.toml", text)
    with pytest.raises(ProfileFileError) as info:
        read_project_file(tmp_path)
    assert info.value.line == line and problem in str(info.value)
    assert ".pinman.toml:" in str(info.value)
    assert "version" not in (info.value.hint or "")  # a .pinman.toml has no version key to suggest


def test_a_syntax_error_in_a_project_file_is_explained_in_its_own_keys(tmp_path: Path) -> None:
    write(tmp_path / ".pinman.toml", "profile = stable\n")
    with pytest.raises(ProfileFileError) as info:
        read_project_file(tmp_path)
    assert info.value.hint == 'strings need quotes: profile = "stable"'
    with pytest.raises(ProfileFileError) as info:  # a profile's example stays a profile's
        parse_profile('[claude-code]\nversion = 2.1.331\n', tmp_path / "x.toml")
    assert 'version = "2.1.331"' in (info.value.hint or "")


def _shim_reads(text: str) -> str | None:
    """What the sh shim takes from .pinman.toml: the first top-level `profile = "NAME"` line."""
    for line in text.splitlines():
        if line.startswith("["):
            return None
        m = re.match(r"profile\s*=\s*[\"']([^\"']*)", line)
        if m:
            return m[1]
    return None


def test_write_project_file_creates_and_updates(tmp_path: Path) -> None:
    path = write_project_file(tmp_path, "stable")
    assert path == tmp_path / ".pinman.toml"
    assert read_project_file(tmp_path).profile == "stable"
    assert _shim_reads(path.read_text()) == "stable"

    path.write_text("# our team's choice\nschema = 1\n\n# below: the profile\nprofile = 'x'   # why\n")
    write_project_file(tmp_path, "legacy")
    assert path.read_text() == '# our team\'s choice\nschema = 1\n\n# below: the profile\nprofile = "legacy"   # why\n'
    assert _shim_reads(path.read_text()) == "legacy"

    path.write_text("# marks the root\n")
    write_project_file(tmp_path, "latest")
    assert path.read_text() == '# marks the root\nprofile = "latest"\n'

    with pytest.raises(ProfileError):
        write_project_file(tmp_path, "../x")
    assert read_project_file(tmp_path).profile == "latest"


def test_write_project_file_refuses_to_clobber_a_broken_file(tmp_path: Path) -> None:
    path = write(tmp_path / ".pinman.toml", 'profile = "x\n')
    with pytest.raises(ProfileFileError):
        write_project_file(tmp_path, "stable")
    assert path.read_text() == 'profile = "x\n'


# --------------------------------------------------------------------------- update_profile

COMMENTED = f"""\
# profiles/stable.toml: what this team runs day to day.
#   Owner: platform team.   Ask in #claude before changing.

schema = 1    # file format
description = 'Known to work with our gateway'   # literal string, single quotes

[claude-code]
# The version everyone runs. Bump it with `pinman pin`.
version = "2.1.331"      # pinned 2025-01-10 after the gateway fix
integrity = "{SHA_2_1_331}"

bad = [
    # 2.1.330 sends output_config, which the gateway rejects
    {{ version = "2.1.330", reason = "output_config rejected by gateway" }},   # INC-1234
]


[env]
  # indented on purpose
  ANTHROPIC_BASE_URL = "https://llm-gateway.internal.example"    # prod gateway

# ---- health: tuned for the slow gateway ----
[health]
timeout = 120   # the gateway can be slow
auto_rollback = true
"""


def _edit(tmp_path: Path, changes: dict[str, object], text: str = COMMENTED) -> tuple[list[str], list[str]]:
    path = write(tmp_path / "profiles" / "stable.toml", text)
    update_profile(path, changes)
    load_profile(path)  # still valid
    return text.splitlines(keepends=True), path.read_text().splitlines(keepends=True)


def test_update_changes_only_the_value(tmp_path: Path) -> None:
    before, after = _edit(tmp_path, {"claude-code.version": "2.1.327", "claude-code.integrity": SHA_1_0_100})
    assert len(before) == len(after)
    changed = [i for i, (a, b) in enumerate(zip(before, after)) if a != b]
    assert [after[i] for i in changed] == [
        'version = "2.1.327"      # pinned 2025-01-10 after the gateway fix\n',
        f'integrity = "{SHA_1_0_100}"\n',
    ]


def test_update_inserts_new_keys_beside_their_neighbours(tmp_path: Path) -> None:
    text = COMMENTED.replace(f'integrity = "{SHA_2_1_331}"\n', "")
    before, after = _edit(tmp_path, {"claude-code.integrity": SHA_2_1_331, "env.NO_PROXY": "localhost",
                                     "health.probe": "http"}, text)
    i = before.index('version = "2.1.331"      # pinned 2025-01-10 after the gateway fix\n')
    j = before.index('  ANTHROPIC_BASE_URL = "https://llm-gateway.internal.example"    # prod gateway\n')
    expected = [*before[: i + 1], f'integrity = "{SHA_2_1_331}"\n', *before[i + 1: j + 1],
                '  NO_PROXY = "localhost"\n', *before[j + 1:], 'probe = "http"\n']
    assert after == expected


def test_update_appends_a_bad_version_keeping_the_array(tmp_path: Path) -> None:
    path = write(tmp_path / "profiles" / "stable.toml", COMMENTED)
    bad = [{"version": b.version, "reason": b.reason} for b in load_profile(path).claude_code.bad]
    update_profile(path, {"claude-code.bad": [*bad, {"version": "2.1.331", "reason": 'rejects "x"'}]})
    after = path.read_text()
    assert after == COMMENTED.replace(
        "   # INC-1234\n", '   # INC-1234\n    { version = "2.1.331", reason = "rejects \\"x\\"" },\n')
    assert [b.version for b in load_profile(path).claude_code.bad] == ["2.1.330", "2.1.331"]


def test_update_creates_bad_and_tables(tmp_path: Path) -> None:
    path = write(tmp_path / "p.toml", '[claude-code]\nversion = "1.0.0"  # c\n')
    update_profile(path, {"claude-code.bad": [{"version": "1.0.1", "reason": "r"}],
                          "sdk.package": "anthropic", "sdk.version": "0.40.0"})
    assert path.read_text() == (
        '[claude-code]\nversion = "1.0.0"  # c\nbad = [\n    { version = "1.0.1", reason = "r" },\n]\n'
        '\n[sdk]\npackage = "anthropic"\nversion = "0.40.0"\n')


def test_update_removes_with_none(tmp_path: Path) -> None:
    before, after = _edit(tmp_path, {"claude-code.integrity": None, "claude-code.version": "^2.1.0",
                                     "sdk.version": None})
    assert [line for line in before if not line.startswith(("integrity", "version"))] == \
        [line for line in after if not line.startswith("version")]


def test_update_refuses_an_invalid_result_and_leaves_the_file(tmp_path: Path) -> None:
    path = write(tmp_path / "profiles" / "stable.toml", COMMENTED)
    for changes in ({"claude-code.version": "2.1.x1"}, {"claude-code.version": "latest"},
                    {"env.BAD-NAME": "x"}, {"health.timeout": -1}, {"claude-code.verison": "1.0.0"}):
        with pytest.raises(ProfileError):
            update_profile(path, changes)
        assert path.read_text() == COMMENTED


def test_update_rejects_a_malformed_key(tmp_path: Path) -> None:
    path = write(tmp_path / "x.toml", pin("latest"))
    with pytest.raises(ProfileError, match="dotted key"):
        update_profile(path, {"claude-code..version": "1.0.0"})
    assert path.read_text() == pin("latest")


def test_update_reports_a_malformed_file_with_its_line(tmp_path: Path) -> None:
    path = write(tmp_path / "x.toml", '[claude-code]\nversion = 1.0.0\n')
    with pytest.raises(ProfileFileError) as info:
        update_profile(path, {"claude-code.version": "1.0.1"})
    assert info.value.line == 2


def test_update_keeps_crlf_bom_mode_and_symlink(tmp_path: Path) -> None:
    real = tmp_path / "team" / "stable.toml"
    real.parent.mkdir()
    real.write_bytes(b'\xef\xbb\xbf# c\r\n[claude-code]\r\nversion = "1.0.0"\r\n\r\n[env]\r\nA = "x"\r\n')
    real.chmod(0o600)
    link = tmp_path / "profiles" / "stable.toml"
    link.parent.mkdir()
    link.symlink_to(real)
    update_profile(link, {"claude-code.version": "1.0.1", "env.B": "y"})
    assert link.is_symlink()
    assert real.read_bytes() == (b'\xef\xbb\xbf# c\r\n[claude-code]\r\nversion = "1.0.1"\r\n\r\n'
                                 b'[env]\r\nA = "x"\r\nB = "y"\r\n')
    assert real.stat().st_mode & 0o777 == 0o600


def test_update_without_a_change_does_not_write(tmp_path: Path) -> None:
    path = write(tmp_path / "profiles" / "stable.toml", COMMENTED)
    before = path.stat()
    update_profile(path, {"claude-code.version": "2.1.331"})
    after = path.stat()
    assert (before.st_ino, before.st_mtime_ns) == (after.st_ino, after.st_mtime_ns)


def test_update_dotted_and_inline_forms(tmp_path: Path) -> None:
    path = write(tmp_path / "a.toml", 'claude-code.version = "1.0.0"  # dotted\n')
    update_profile(path, {"claude-code.version": "1.0.1"})
    assert path.read_text() == 'claude-code.version = "1.0.1"  # dotted\n'
    path = write(tmp_path / "b.toml", 'claude-code = { version = "1.0.0" }  # inline\n')
    update_profile(path, {"claude-code.version": "1.0.1"})
    assert load_profile(path).claude_code.version == "1.0.1"
    assert path.read_text().endswith("  # inline\n")


# --------------------------------------------------------------------------- key_lines


def test_key_lines_finds_keys_headers_and_elements() -> None:
    text = textwrap.dedent("""\
        a = 1
        "quoted key".x = 'v'
        s = \"\"\"
        not = a key
        \"\"\"

        [t]  # c
        arr = [
          1,
          # comment
          { k = "v", "q k" = [2, 3] },
        ]
        [[aot]]
        x = 1
        [[aot]]
        x = 2
        """)
    lines = key_lines(text)
    assert lines[("a",)] == 1
    assert lines[("quoted key", "x")] == 2
    assert lines[("s",)] == 3 and ("not",) not in lines
    assert lines[("t",)] == 7 and lines[("t", "arr")] == 8
    assert lines[("t", "arr", 0)] == 9 and lines[("t", "arr", 1)] == 11
    assert lines[("t", "arr", 1, "q k", 1)] == 11
    assert lines[("aot", 1, "x")] == 16


# --------------------------------------------------------------------------- never another exception

_KEY_NAMES = ["schema", "description", "claude-code", "version", "integrity", "bad", "reason", "sdk",
              "package", "env", "health", "probe", "model", "prompt", "timeout", "auto_rollback",
              "interval", "A", "PATH", "1X", "x y", "PINMAN_X"]
_SCALARS = st.one_of(
    st.sampled_from(['"2.1.331"', '"latest"', '"^2.1.0"', '"2.1.x1"', '"npm:@a/b"', '"anthropic"',
                     '">=0.40,<1"', '"6h"', '"cli"', '"http"', f'"{SHA_2_1_331}"', '"sha512-x"', "60",
                     "0", "-1", "1.5", "inf", "nan", "true", "false", "1979-05-27", "07:32:00",
                     "1979-05-27T07:32:00Z", '""', "'lit'", '"\\u0000"', "[]", "{}"]),
    st.text(max_size=12).map(lambda s: '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'),
    st.integers().map(str),
)


# Arrays and inline tables of the scalars above, nested two deep: enough to hit every type check.
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3).map(lambda items: "[" + ", ".join(items) + "]"),
        st.lists(st.tuples(st.sampled_from(_KEY_NAMES), inner), max_size=3).map(
            lambda pairs: "{ " + ", ".join(f'"{k}" = {v}' for k, v in dict(pairs).items()) + " }"),
    ),
    max_leaves=4,
)


_PLAUSIBLE = {
    "schema": ["1", "2"],
    "description": ['"team"', '""'],
    "version": ['"2.1.331"', '"latest"', '"^2.1.0"', '"1.0.100 || 2.1.331"', '"2.1.x1"', '"0.40.0"',
                '">=0.40,<1"'],
    "integrity": [f'"{SHA_2_1_331}"', '"sha512-x"'],
    "bad": ['[{ version = "2.1.330", reason = "r" }]', '[{ version = "^2" }]', "[]", '["2.1.330"]'],
    "package": ['"anthropic"', '"npm:@anthropic-ai/sdk"', '"npm:"', '"a b"'],
    "probe": ['"cli"', '"http"', '"ssh"'],
    "model": ['"claude-haiku-4-5"', '""'],
    "prompt": ['"OK?"', '""'],
    "timeout": ["60", "0", "1.5", '"60"'],
    "auto_rollback": ["true", '"no"'],
    "interval": ['"6h"', '"1h30m"', "90", '"soon"'],
    "A": ['"x"', "1", '"\\u0000"'],
    "PINMAN_X": ['"x"'],
}
_TABLES = {
    "": ["schema", "description", "descripton"],
    "claude-code": ["version", "integrity", "bad", "verison"],
    "sdk": ["package", "version", "pakage"],
    "env": ["A", "PATH", "1X", "x y", "PINMAN_X"],
    "health": ["probe", "model", "prompt", "timeout", "auto_rollback", "interval", "retries"],
    "x": ["y"],
}


@st.composite
def _profile_texts(draw: st.DrawFn) -> str:
    """Mostly well-formed TOML with plausible keys and values, so validation is reached."""
    lines = []
    tables = draw(st.lists(st.sampled_from(list(_TABLES)[1:]), unique=True, max_size=5))
    if draw(st.integers(0, 9)) < 8 and "claude-code" not in tables:
        tables.insert(0, "claude-code")
    for table in ["", *tables]:
        if table:
            lines.append(f"[{table}]")
        keys = draw(st.lists(st.sampled_from(_TABLES[table]), unique=True, max_size=4))
        if table == "claude-code" and draw(st.integers(0, 9)) < 8 and "version" not in keys:
            keys.insert(0, "version")
        for key in keys:
            plausible = _PLAUSIBLE.get(key, _PLAUSIBLE["A"])
            value = draw(st.sampled_from(plausible) if draw(st.integers(0, 3)) else _VALUES)
            lines.append(f'"{key}" = {value}' if " " in key else f"{key} = {value}")
    if draw(st.integers(0, 9)) == 0:  # now and then, a line of junk somewhere
        lines.insert(draw(st.integers(0, len(lines))), draw(st.text(max_size=20)))
    return "\n".join(lines)


def _outcome(data: str | bytes) -> None:
    try:
        p = parse_profile(data, HERE)
    except ProfileFileError as e:
        assert "\n" not in str(e)
        assert str(e).startswith("profiles/x.toml")
        if e.key is not None and e.problem != "missing":
            assert e.line is not None, str(e)  # a key that is written has a line
        return
    assert isinstance(p, Profile)
    assert isinstance(p.claude_code.version, str) and p.health.timeout > 0
    assert all(model.ENV_KEY_RE.match(k) and isinstance(v, str) and "\0" not in v for k, v in p.env.items())


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(_profile_texts(), st.text(max_size=200)))
def test_any_text_gives_a_profile_or_a_profile_error(text: str) -> None:
    _outcome(text)
    key_lines(text)  # never raises, whatever the text


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=100))
def test_any_bytes_give_a_profile_or_a_profile_error(data: bytes) -> None:
    _outcome(data)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.sampled_from(["claude-code", "env", "health", "t"]),
                       st.dictionaries(st.from_regex(r"[A-Za-z_][A-Za-z0-9_-]{0,6}", fullmatch=True),
                                       st.one_of(st.integers(), st.text(max_size=8), st.booleans(),
                                                 st.lists(st.integers(), max_size=3)),
                                       max_size=4),
                       max_size=4))
def test_key_lines_agree_with_tomlkit_layout(doc: dict[str, dict[str, object]]) -> None:
    import tomlkit

    text = tomlkit.dumps(doc)
    lines = key_lines(text)
    rows = text.split("\n")  # TOML lines end at \n only (str.splitlines also splits at \x85)
    for table, body in doc.items():
        for key in body:
            row = rows[lines[(table, key)] - 1]
            assert row.lstrip().startswith((key, f'"{key}"')), (row, key)


def test_profile_list_unpacks_as_pairs(layout: dict[str, Path], pinman_home: Paths) -> None:
    listed = list_profiles(layout["outside"], pinman_home)
    names = [p.name for p, shadowed in listed if not shadowed]
    assert names == ["mine", "stable", "latest", "legacy"] and listed.broken == []


def test_paths_in_messages_are_relative_to_the_working_directory(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path / "team" / "profiles" / "a.toml", '[claude-code]\nversion = "x y z"\n')
    monkeypatch.chdir(tmp_path / "team")
    with pytest.raises(ProfileError, match=r"^profiles/a\.toml:2: "):
        load_profile(path)
    monkeypatch.chdir(os.sep)
    with pytest.raises(ProfileError, match=rf"^{re.escape(str(path))}:2: "):
        load_profile(path)
