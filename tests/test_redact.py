"""`pinman.redact.scrub`: a secret is scrubbed in every form a gateway may echo it in, and every
place that writes what an endpoint said (probe results, the journal, the hook log, notices)
scrubs through it."""

from __future__ import annotations

import base64
import json
import re
import urllib.parse

import pytest
import secret_guard

from pinman.paths import Paths
from pinman.redact import REDACTED, scrub, secret_values

KEY = "sk-ant-api03-redact-KEY-9f8e7d6c5b4a3210"
TOKEN = "tok/en+with=slash/and+plus-0a1b2c3d4e5f"  # "/", "+", "=": every encoding differs from it


def _b64(text: str, url: bool = False, pad: bool = True) -> str:
    out = (base64.urlsafe_b64encode if url else base64.b64encode)(text.encode()).decode()
    return out if pad else out.rstrip("=")


def _forms(secret: str) -> dict[str, str]:
    quoted = urllib.parse.quote(secret, safe="")
    return {
        "plain": secret,
        "json-slash": secret.replace("/", "\\/"),
        "json-slash-twice": secret.replace("/", "\\\\/"),
        "percent": quoted,
        "percent-lower": re.sub(r"%[0-9A-F]{2}", lambda m: m.group().lower(), quoted),
        "percent-every-char": "".join(f"%{b:02X}" for b in secret.encode()),
        "percent-some": secret[:5] + urllib.parse.quote(secret[5:], safe=""),
        "base64": _b64(secret),
        "base64-unpadded": _b64(secret, pad=False),
        "base64url": _b64(secret, url=True),
        "base64url-unpadded": _b64(secret, url=True, pad=False),
    }


@pytest.mark.parametrize("secret", [KEY, TOKEN])
@pytest.mark.parametrize("form", list(_forms(KEY)))
def test_every_form_is_scrubbed(secret: str, form: str) -> None:
    echoed = _forms(secret)[form]
    text = scrub(f"gateway rejected {echoed} (x)", [secret])
    assert REDACTED in text
    secret_guard.assert_clean_output(text, {secret}, form)


@pytest.mark.parametrize("prefix", ["", "a", "ab", "x-api-key: ", "Bearer ", "authorization: Bearer ",
                                    '{"headers": {"x-api-key": "'])
@pytest.mark.parametrize("url", [False, True])
def test_base64_inside_a_longer_encoded_text_at_every_alignment(prefix: str, url: bool) -> None:
    """A gateway that base64-encodes a whole header line or body: the key starts at any of the
    three byte alignments."""
    for secret in (KEY, TOKEN):
        echoed = _b64(prefix + secret + '" and the rest', url=url)
        text = scrub(f"echo: {echoed}", [secret])
        assert REDACTED in text
        secret_guard.assert_clean_output(text, {secret}, prefix)


def test_known_shapes_are_scrubbed_without_knowing_the_value() -> None:
    assert scrub("Authorization: Bearer abcdefgh12345678", []) == f"Authorization: Bearer {REDACTED}"
    assert scrub('"x-api-key": "gw-1234567890"', []) == f'"x-api-key": "{REDACTED}"'
    assert scrub(f"key {KEY} bad", []) == f"key {REDACTED} bad"


def test_other_text_is_left_alone() -> None:
    text = "400 thinking: Extra inputs are not permitted (see https://docs.example/a/b?x=1%2F2)"
    assert scrub(text, [KEY, TOKEN]) == text


def test_the_journal_stores_no_encoded_secret(pinman_home: Paths) -> None:
    from pinman.state.journal import Entry, Journal

    env = {"ANTHROPIC_AUTH_TOKEN": TOKEN}
    for form, echoed in _forms(TOKEN).items():
        Journal(pinman_home).append(Entry("check", "p", "1.0.0", outcome="unknown", message=f"{form}: {echoed}",
                                          extra={"raw": [echoed]}), env)
    stored = json.dumps([e.to_json() for e in Journal(pinman_home).entries()])
    secret_guard.assert_clean_output(stored, {TOKEN}, "journal")
    assert stored.count(REDACTED) >= 2 * len(_forms(TOKEN))
    assert secret_guard.leaks_under(pinman_home.config.parent, {TOKEN}) == []


def test_the_hook_log_and_notices_hold_no_encoded_secret(pinman_home: Paths) -> None:
    from pinman.autopilot.files import HookFiles
    from pinman.autopilot.handler import log
    from pinman.autopilot.notices import add, unseen

    files = HookFiles(pinman_home)
    env = {"ANTHROPIC_API_KEY": KEY, "X_GATEWAY_TOKEN": TOKEN}
    assert set(secret_values(env)) == {KEY, TOKEN}
    for echoed in (_b64("x-api-key: " + KEY), urllib.parse.quote(TOKEN, safe="")):
        log(files, f"StopFailure: {echoed}", env)
        add(files, f"pinman: failed with {echoed}", env)
    text = files.log.read_text() + "\n".join(unseen(files))
    secret_guard.assert_clean_output(text, {KEY, TOKEN}, "hook log")
    assert text.count(REDACTED) == 4


def test_a_crash_report_holds_no_secret(pinman_home: Paths, monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    from pinman.cli import main

    monkeypatch.setenv("ANTHROPIC_AUTH_TOKEN", TOKEN)
    main._crash(RuntimeError(f"upstream said {_b64('authorization: Bearer ' + TOKEN)}"))
    shown = capsys.readouterr().err
    assert REDACTED in shown
    secret_guard.assert_clean_output(shown + pinman_home.log.read_text(), {TOKEN}, "crash")
