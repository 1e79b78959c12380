"""The bisect search on synthetic version lists and oracles, and the driver with a fake probe."""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Sequence
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pinman.bisect import driver as bisect
from pinman.bisect.report import BisectReport, Event
from pinman.bisect.search import OK, SCHEMA, Probe, SearchResult, probe_budget, search
from pinman.state.bisect_state import load_state, state_path
from pinman.health.result import ProbeResult
from pinman.state.journal import Entry, Journal, endpoint_of
from pinman.paths import Paths
from pinman.names import CLAUDE_CODE
from pinman.install.store import Store


def names(n: int) -> list[str]:
    """[good, *n candidates, bad] as 1.0.0 … 1.0.n+1."""
    return [f"1.0.{i}" for i in range(n + 2)]


class Table:
    """An oracle from a list of kinds (index-aligned with `versions`), counting its calls."""

    def __init__(self, versions: Sequence[str], kinds: Sequence[str | Sequence[str]]) -> None:
        # an entry may be a sequence: the answers to the 1st, 2nd, … call for that version
        self.answers = {v: iter([k] if isinstance(k, str) else list(k))
                        for v, k in zip(versions, kinds)}
        self.last: dict[str, str] = {}
        self.calls: list[str] = []

    def __call__(self, version: str) -> Probe:
        self.calls.append(version)
        kind = next(self.answers[version], None) or self.last[version]
        self.last[version] = kind
        return Probe(version, kind, message=f"{kind} from the table",
                     rejected="thinking" if kind == SCHEMA else None)


def monotone(n: int, boundary: int) -> list[str]:
    """versions[0..boundary] ok, the rest schema (boundary = index of the newest working)."""
    return [OK if i <= boundary else SCHEMA for i in range(n + 2)]


def assert_sound(res: SearchResult) -> None:
    """What every answer must satisfy, whatever the oracle did."""
    assert res.verdicts <= res.budget, (res.verdicts, res.budget)
    if res.status == "found":
        nw, ff = res.newest_working, res.first_failing
        assert nw is not None and ff is not None
        assert res.versions.index(ff) == res.versions.index(nw) + 1
        assert res.observed[nw] and all(p.kind == OK for p in res.observed[nw])
        assert res.observed[ff] and all(p.kind == SCHEMA for p in res.observed[ff])
    else:
        assert res.newest_working is None and res.first_failing is None or res.status == "found"


# ------------------------------------------------------------------ monotone endpoints


@pytest.mark.parametrize("n", [*range(0, 18), 31, 32, 33, 64, 100])
def test_monotone_finds_every_boundary_within_budget(n: int) -> None:
    versions = names(n)
    for boundary in range(0, n + 1):  # newest working: good (0) … last candidate (n)
        oracle = Table(versions, monotone(n, boundary))
        res = search(versions, oracle)
        assert res.status == "found", res.detail
        assert (res.newest_working, res.first_failing) == (versions[boundary], versions[boundary + 1])
        assert len(oracle.calls) == res.probes <= probe_budget(n) == math.ceil(math.log2(max(n, 1))) + 2
        assert_sound(res)


def test_budget_values() -> None:
    assert [probe_budget(n) for n in (0, 1, 2, 3, 4, 5, 8, 9, 1000)] == [2, 2, 3, 4, 4, 5, 5, 6, 12]


@pytest.mark.parametrize("n, boundary", [(100, 37), (64, 0), (64, 64), (7, 3)])
def test_binary_search_itself_uses_log2_probes(n: int, boundary: int) -> None:
    # The first ⌈log2(n+1)⌉ probes bracket the answer; the rest re-check it and the two ends.
    versions = names(n)
    res = search(versions, Table(versions, monotone(n, boundary)))
    search_probes = math.ceil(math.log2(n + 1))
    tail = {p.version for p in res.attempts[search_probes:]}
    assert tail <= {res.newest_working, res.first_failing, versions[0], versions[-1]}
    assert res.probes <= probe_budget(n)


def test_n0_probes_both_ends() -> None:
    versions = ["1.0.0", "1.0.1"]
    oracle = Table(versions, [OK, SCHEMA])
    res = search(versions, oracle)
    assert (res.status, res.newest_working, res.first_failing) == ("found", "1.0.0", "1.0.1")
    assert sorted(oracle.calls) == versions and res.budget == 2


def test_n1() -> None:
    versions = names(1)
    for boundary, expected in ((0, ("1.0.0", "1.0.1")), (1, ("1.0.1", "1.0.2"))):
        oracle = Table(versions, monotone(1, boundary))
        res = search(versions, oracle)
        assert (res.newest_working, res.first_failing) == expected
        assert len(oracle.calls) <= 2


def test_n2() -> None:
    versions = names(2)
    for boundary in range(3):
        res = search(versions, Table(versions, monotone(2, boundary)))
        assert res.versions.index(res.newest_working) == boundary and res.verdicts <= 3


def test_too_short_a_list_is_a_bug() -> None:
    with pytest.raises(ValueError):
        search(["1.0.0"], Table(["1.0.0"], [OK]))


# ------------------------------------------------------------------ the ends are claims, verified


@pytest.mark.parametrize("n", [0, 1, 2, 5, 8])
def test_all_good_means_the_bad_version_works(n: int) -> None:
    versions = names(n)
    res = search(versions, Table(versions, [OK] * (n + 2)))
    assert res.status == "bad-works" and res.newest_working is None
    assert res.observed[versions[-1]][0].kind == OK
    assert "works against this endpoint" in res.detail
    assert_sound(res)


@pytest.mark.parametrize("n", [0, 1, 2, 5, 8])
def test_all_bad_means_the_good_version_fails_too(n: int) -> None:
    versions = names(n)
    res = search(versions, Table(versions, [SCHEMA] * (n + 2)))
    assert res.status == "good-fails" and res.first_failing is None
    assert "--good" in res.detail
    assert_sound(res)


# ------------------------------------------------------------------ non-monotone endpoints


def test_works_again_above_the_boundary_is_reported() -> None:
    # ok … schema at 3 … ok again at the claimed bad end: a good above a bad.
    versions = names(6)
    kinds = [OK, OK, OK, SCHEMA, SCHEMA, SCHEMA, SCHEMA, OK]
    res = search(versions, Table(versions, kinds))
    assert res.status == "inconsistent", res.detail
    assert res.conflict is not None
    fails, works = res.conflict
    assert versions.index(fails) < versions.index(works)
    assert res.newest_working is None and "no single answer" in res.detail


def test_claimed_good_failing_below_a_working_version_is_reported() -> None:
    versions = names(5)
    kinds = [SCHEMA, OK, OK, OK, SCHEMA, SCHEMA, SCHEMA]
    res = search(versions, Table(versions, kinds))
    assert res.status == "inconsistent" and res.conflict == ("1.0.0", "1.0.3")
    assert res.verdicts == res.budget == 5


def test_a_wrong_good_end_goes_unnoticed_only_when_the_budget_is_spent() -> None:
    # n = 4: two probes bracket 1.0.2/1.0.3, two re-check 1.0.2 and the bad end; none is left for
    # the good end. The answer is still a real, verified boundary of this endpoint.
    versions = names(4)
    res = search(versions, Table(versions, [SCHEMA, OK, OK, SCHEMA, SCHEMA, SCHEMA]))
    assert (res.status, res.newest_working, res.first_failing) == ("found", "1.0.2", "1.0.3")
    assert res.verdicts == res.budget == 4


def test_every_non_monotone_pattern_is_sound() -> None:
    # Exhaustive over small windows: an answer is always a real adjacent (ok, schema) pair of the
    # table, or the search says it has none; it never reports verdicts the oracle did not give.
    for n in range(0, 6):
        versions = names(n)
        for kinds in itertools.product((OK, SCHEMA), repeat=n + 2):
            res = search(versions, Table(versions, kinds))
            assert_sound(res)
            if res.status == "found":
                i = versions.index(res.newest_working)
                assert (kinds[i], kinds[i + 1]) == (OK, SCHEMA)
            is_monotone = list(kinds) == sorted(kinds, key=lambda k: k == SCHEMA)
            if is_monotone and kinds[0] == OK and kinds[-1] == SCHEMA:
                assert res.status == "found"


# ------------------------------------------------------------------ flaky endpoints


def test_a_transient_outcome_is_retried_once() -> None:
    versions = names(3)
    kinds: list[str | Sequence[str]] = monotone(3, 1)
    kinds[2] = ("overloaded", SCHEMA)  # the first mid: 529 once, then the real verdict
    oracle = Table(versions, kinds)
    res = search(versions, oracle)
    assert res.status == "found" and res.newest_working == "1.0.1"
    assert [p.kind for p in res.attempts if p.version == "1.0.2"] == ["overloaded", SCHEMA]
    assert [p.attempt for p in res.attempts if p.version == "1.0.2"] == [1, 2]
    assert res.verdicts <= res.budget


def test_a_transient_outcome_twice_stops_without_an_answer() -> None:
    versions = names(5)
    kinds: list[str | Sequence[str]] = monotone(5, 4)
    kinds[3] = ("timeout", "overloaded")
    res = search(versions, Table(versions, kinds))
    assert res.status == "stopped"
    assert res.newest_working is None and res.first_failing is None
    assert res.stopped_at is not None and res.stopped_at.kind == "overloaded"
    assert "1.0.3: timeout, then overloaded" in res.detail and "rather than guess" in res.detail


def test_auth_failure_is_not_a_verdict() -> None:
    versions = names(2)
    res = search(versions, Table(versions, [OK, "auth", OK, SCHEMA]))
    assert res.status == "stopped" and res.stopped_at is not None
    assert res.stopped_at.kind == "auth"


def test_an_answer_that_flips_is_reported_not_returned() -> None:
    # The newest working version answers ok, then schema when re-checked: a load balancer with
    # two gateway versions behind it, say. The answer cannot be trusted.
    versions = names(4)
    kinds: list[str | Sequence[str]] = monotone(4, 2)
    kinds[2] = (OK, SCHEMA)
    res = search(versions, Table(versions, kinds))
    assert res.status == "inconsistent" and res.conflict == ("1.0.2", "1.0.2")
    assert "answered both ok and schema" in res.detail


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 40), st.data())
def test_random_oracles_are_always_sound(n: int, data: st.DataObject) -> None:
    versions = names(n)
    kinds = data.draw(st.lists(
        st.one_of(st.sampled_from([OK, SCHEMA, "timeout"]),
                  st.lists(st.sampled_from([OK, SCHEMA, "overloaded"]), min_size=1, max_size=3)),
        min_size=n + 2, max_size=n + 2))
    res = search(versions, Table(versions, kinds))
    assert_sound(res)
    if res.status == "stopped":
        assert res.stopped_at is not None and not res.stopped_at.is_verdict


# ------------------------------------------------------------------ resuming


def test_a_resumed_search_asks_the_same_questions_and_probes_only_new_ones() -> None:
    versions = names(20)
    kinds = monotone(20, 13)
    full = search(versions, Table(versions, kinds))

    class Interrupt(Exception):
        pass

    for stop_after in range(1, full.probes):
        seen: dict[str, list[Probe]] = {}
        calls = 0

        def oracle(v: str) -> Probe:
            nonlocal calls
            if calls == stop_after:
                raise Interrupt
            calls += 1
            p = Table(versions, kinds)(v)
            seen.setdefault(v, []).append(p)
            return p

        with pytest.raises(Interrupt):
            search(versions, oracle)
        again = Table(versions, kinds)
        res = search(versions, again, known=seen)
        assert (res.newest_working, res.first_failing) == (full.newest_working, full.first_failing)
        assert len(again.calls) == full.probes - stop_after
        assert not set(again.calls) & {v for v, ps in seen.items() if len(ps) >= 2}
        assert res.verdicts <= res.budget
        assert all(p.known for v in seen for p in res.observed[v][: len(seen[v])])


def test_on_probe_sees_every_attempt_and_saved_verdict() -> None:
    versions = names(3)
    events: list[Probe] = []
    known = {"1.0.2": [Probe("1.0.2", OK)]}
    search(versions, Table(versions, monotone(3, 2)), known=known, on_probe=events.append)
    assert events[0].version == "1.0.2" and events[0].known
    assert all(not p.known for p in events[1:])


# ================================================================== the driver, with a fake probe


@pytest.fixture
def npm_on_path(fake_npm: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PATH", f"{fake_npm.parent}:{__import__('os').environ['PATH']}")
    return fake_npm


WINDOW = ["2.1.40", "2.1.41", "2.1.42", "2.1.44", "2.1.45", "2.1.47", "2.1.48", "2.1.49", "2.1.50"]
ENDPOINT_URL = "http://127.0.0.1:9"  # never contacted: the probe is fake


def write_profile(paths: Paths, *, pin: str = "2.1.50", bad: str = "", probe: str = "cli") -> Path:
    path = paths.user_profiles / "gw.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    bad_line = f'bad = [{{ version = "{bad}", reason = "broke our gateway" }}]\n' if bad else ""
    path.write_text(f'schema = 1\n[claude-code]\nversion = "{pin}"\n{bad_line}'
                    f'[env]\nANTHROPIC_BASE_URL = "{ENDPOINT_URL}"\n'
                    f'[health]\nprobe = "{probe}"\n')
    return path


class FakeGateway:
    """A prober: versions from `first_failing` on get the 400 a gateway gives for `thinking`."""

    def __init__(self, first_failing: str, *, transient: dict[str, list[str]] | None = None) -> None:
        from pinman.npm.semver import compare, parse_version

        self.cut = parse_version(first_failing)
        self.compare, self.parse = compare, parse_version
        self.transient = {v: list(ks) for v, ks in (transient or {}).items()}
        self.calls: list[str] = []

    def __call__(self, version: str) -> ProbeResult:
        self.calls.append(version)
        queue = self.transient.get(version)
        if queue:
            kind = queue.pop(0)
            assert kind == "overloaded"
            return ProbeResult("cli", 1, 529, "overloaded_error", "Overloaded", 0.1, is_error=True)
        if self.compare(self.parse(version), self.cut) >= 0:
            return ProbeResult("cli", 1, 400, "invalid_request_error",
                               "thinking: Extra inputs are not permitted", 0.2, is_error=True)
        return ProbeResult("cli", 0, None, None, "OK", 0.3, is_error=False)


def fake_fingerprint(version: str) -> "bisect.Fingerprint":  # type: ignore[name-defined]
    from pinman.fingerprint.fingerprints import Fingerprint
    from pinman.fingerprint.proxy import Recorded

    keys = ["max_tokens", "messages", "model", "stream"]
    if version >= "2.1.47":
        keys += ["thinking", "thinking.type"]
    rec = Recorded("POST", "/v1/messages", ["beta"], ["x-api-key"], keys, ["claude-code-20250219"],
                   f"claude-cli/{version}", "claude-sonnet-4-6", 200)
    return Fingerprint(version, (rec,))


def run(paths: Paths, gateway: FakeGateway, events: list[Event] | None = None,
        **kw: object) -> BisectReport:
    from pinman.profile.discovery import find_profile

    profile = find_profile("gw", Path.cwd(), paths)
    store = Store(paths)
    return bisect.run(paths, profile, prober=gateway, fingerprinter=fake_fingerprint,
                      installer=lambda v: store.install(CLAUDE_CODE, v), published=WINDOW,
                      environ={"PATH": __import__("os").environ["PATH"]},
                      on_event=(events.append if events is not None else None), **kw)  # type: ignore[arg-type]


def known_good(paths: Paths, version: str) -> None:
    Journal(paths).append(Entry("check", "gw", version, endpoint=endpoint_of(ENDPOINT_URL),
                                outcome="ok"))


def test_driver_finds_records_and_cleans_up(pinman_home: Paths, npm_on_path: Path,
                                            tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    write_profile(pinman_home)
    known_good(pinman_home, "2.1.41")
    store = Store(pinman_home)
    store.install(CLAUDE_CODE, "2.1.41")  # the known-good and the pin were installed before
    store.install(CLAUDE_CODE, "2.1.50")
    store.install(CLAUDE_CODE, "2.1.48")  # installed by the user before: not ours to remove
    gateway = FakeGateway("2.1.47")
    events: list[Event] = []
    report = run(pinman_home, gateway, events)
    r = report.result
    assert (r.status, r.newest_working, r.first_failing) == ("found", "2.1.45", "2.1.47")
    assert report.candidates == ["2.1.42", "2.1.44", "2.1.45", "2.1.47", "2.1.48", "2.1.49"]
    assert report.rejected == "thinking"
    assert report.diff is not None and report.diff.keys_added == ["thinking", "thinking.type"]
    assert report.diff.summary() == "adds body key thinking"
    assert report.pin_command == "pinman pin gw 2.1.45"
    assert r.probes <= r.budget == 5
    # every verdict is in the journal, and the answer is now the last known-good here
    journal = Journal(pinman_home)
    endpoint = endpoint_of(ENDPOINT_URL)
    verdicts = journal.verdicts("gw", endpoint)
    for v, ps in r.observed.items():
        assert verdicts[v].outcome == ps[-1].kind and verdicts[v].event in ("good", "bad")
    assert journal.last_known_good("gw", endpoint).version == "2.1.45"
    assert set(journal.known_bad("gw", endpoint)) >= {"2.1.47"}
    # installs it made are gone, except the answer; the user's own installs stay
    have = {i.version for i in store.list(CLAUDE_CODE)}
    assert {"2.1.41", "2.1.45", "2.1.48", "2.1.50"} <= have
    assert not have & (set(r.observed) - {"2.1.41", "2.1.45", "2.1.48", "2.1.50"})
    assert set(report.removed) == {v for v in r.observed if v not in have}
    assert not state_path(pinman_home, "gw", endpoint).exists()
    kinds = [e.kind for e in events]
    assert kinds[0] == "window" and "install" in kinds and "probe" in kinds and "remove" in kinds
    doc = report.to_json()
    assert json.dumps(doc) and doc["newest_working"] == "2.1.45" and doc["exit_code"] == 0


def test_keep_leaves_every_probe_install(pinman_home: Paths, npm_on_path: Path) -> None:
    write_profile(pinman_home)
    known_good(pinman_home, "2.1.41")
    report = run(pinman_home, FakeGateway("2.1.47"), keep=True)
    have = {i.version for i in Store(pinman_home).list(CLAUDE_CODE)}
    assert set(report.result.observed) <= have and report.removed == []


def test_known_bad_versions_are_skipped(pinman_home: Paths, npm_on_path: Path) -> None:
    write_profile(pinman_home, bad="2.1.48")
    known_good(pinman_home, "2.1.41")
    Journal(pinman_home).append(Entry("check", "gw", "2.1.49", endpoint=endpoint_of(ENDPOINT_URL),
                                      outcome="schema", rejected="thinking"))
    Journal(pinman_home).append(Entry("check", "gw", "2.1.44", endpoint="http://other:1",
                                      outcome="schema"))  # another endpoint: not skipped here
    report = run(pinman_home, FakeGateway("2.1.47"))
    assert report.candidates == ["2.1.42", "2.1.44", "2.1.45", "2.1.47"]
    assert report.skipped == {"2.1.48": "broke our gateway",
                              "2.1.49": "thinking rejected by this endpoint"}
    assert report.result.first_failing == "2.1.47"


def test_defaults_and_explicit_ends(pinman_home: Paths, npm_on_path: Path) -> None:
    write_profile(pinman_home)
    with pytest.raises(bisect.UsageError, match="no known-good version of gw recorded"):
        run(pinman_home, FakeGateway("2.1.47"))
    report = run(pinman_home, FakeGateway("2.1.47"), good="2.1.44", bad="2.1.48")
    assert report.candidates == ["2.1.45", "2.1.47"]
    assert (report.result.newest_working, report.result.first_failing) == ("2.1.45", "2.1.47")
    with pytest.raises(bisect.UsageError, match="not older"):
        run(pinman_home, FakeGateway("2.1.47"), good="2.1.48", bad="2.1.44")
    with pytest.raises(bisect.UsageError, match="exact version"):
        run(pinman_home, FakeGateway("2.1.47"), good="^2.1.0", bad="2.1.48")


def test_the_http_probe_cannot_bisect(pinman_home: Paths) -> None:
    from pinman.profile.discovery import find_profile

    write_profile(pinman_home, probe="http")
    with pytest.raises(bisect.UsageError, match="CLI probe"):
        bisect.run(pinman_home, find_profile("gw", Path.cwd(), pinman_home), good="2.1.41")


def test_stopped_bisect_keeps_state_and_resumes(pinman_home: Paths, npm_on_path: Path) -> None:
    write_profile(pinman_home)
    known_good(pinman_home, "2.1.41")
    # 2.1.45 (ok) is the first mid, 2.1.48 the second: overloaded on the probe and the retry
    flaky = FakeGateway("2.1.47", transient={"2.1.48": ["overloaded", "overloaded"]})
    first = run(pinman_home, flaky)
    assert first.result.status == "stopped" and first.exit_code == 12
    assert first.result.newest_working is None and first.pin_command is None
    path = state_path(pinman_home, "gw", endpoint_of(ENDPOINT_URL))
    state = load_state(path, Probe.from_json)
    assert state is not None and state.installed == ["2.1.45", "2.1.48"]
    assert list(state.observed) == ["2.1.45"]  # the overloaded answers are not verdicts
    verdicts = Journal(pinman_home).verdicts("gw", endpoint_of(ENDPOINT_URL))
    assert "2.1.48" not in verdicts and verdicts["2.1.45"].outcome == "ok"
    # 2.1.45 is now the last known-good, yet the same command resumes the same window
    events: list[Event] = []
    again = FakeGateway("2.1.47")
    second = run(pinman_home, again, events)
    assert events[0].kind == "resume" and second.resumed == 1
    assert second.result.status == "found" and second.result.newest_working == "2.1.45"
    assert again.calls[0] == "2.1.48"
    assert not path.exists()
    assert "2.1.48" in second.removed  # installed by the first run, cleaned by the second


def test_interrupted_bisect_resumes_without_reprobing(pinman_home: Paths, npm_on_path: Path) -> None:
    write_profile(pinman_home)
    known_good(pinman_home, "2.1.41")
    full = run(pinman_home, FakeGateway("2.1.47"), keep=True)

    class Boom(KeyboardInterrupt):
        pass

    Journal(pinman_home).path.unlink()
    known_good(pinman_home, "2.1.41")
    gateway = FakeGateway("2.1.47")
    real_call = gateway.__call__
    count = 0

    def interrupting(version: str) -> ProbeResult:
        nonlocal count
        count += 1
        if count == 3:
            raise Boom
        return real_call(version)

    with pytest.raises(Boom):
        run(pinman_home, interrupting)  # type: ignore[arg-type]
    events: list[Event] = []
    again = FakeGateway("2.1.47")
    resumed = run(pinman_home, again, events)
    assert resumed.resumed == 2 and events[0].kind == "resume"
    assert (resumed.result.newest_working, resumed.result.first_failing) == (
        full.result.newest_working, full.result.first_failing)
    assert len(again.calls) == full.result.probes - 2
    # the resumed window is the saved one, although its verdicts made 2.1.47 known-bad since
    assert resumed.candidates == full.candidates


def test_another_window_starts_afresh(pinman_home: Paths, npm_on_path: Path) -> None:
    write_profile(pinman_home)
    flaky = FakeGateway("2.1.47", transient={"2.1.48": ["overloaded", "overloaded"]})
    assert run(pinman_home, flaky, good="2.1.47", bad="2.1.50").result.status == "stopped"
    gateway = FakeGateway("2.1.47")
    report = run(pinman_home, gateway, good="2.1.42", bad="2.1.49")
    assert report.resumed == 0 and report.result.status == "found"
    assert report.result.newest_working == "2.1.45" and "2.1.48" not in gateway.calls
    assert "2.1.48" in report.removed  # the abandoned window's install is cleaned up too


def test_fingerprint_failure_does_not_lose_the_answer(pinman_home: Paths, npm_on_path: Path) -> None:
    from pinman.errors import HealthError
    from pinman.profile.discovery import find_profile

    write_profile(pinman_home)

    def broken(version: str) -> object:
        raise HealthError(f"{version} did not complete")

    store = Store(pinman_home)
    report = bisect.run(pinman_home, find_profile("gw", Path.cwd(), pinman_home),
                        good="2.1.44", bad="2.1.48", prober=FakeGateway("2.1.47"),
                        fingerprinter=broken,  # type: ignore[arg-type]
                        installer=lambda v: store.install(CLAUDE_CODE, v), published=WINDOW,
                        environ={})
    assert report.result.status == "found" and report.diff is None
    assert report.fingerprint_error == "2.1.45 did not complete"


def test_one_bisect_at_a_time(pinman_home: Paths, npm_on_path: Path) -> None:
    from filelock import FileLock

    write_profile(pinman_home)
    path = state_path(pinman_home, "gw", endpoint_of(ENDPOINT_URL))
    pinman_home.locks.mkdir(parents=True, exist_ok=True)
    with FileLock(str(pinman_home.locks / f"bisect-{path.stem}.lock")):
        with pytest.raises(bisect.PinmanError, match="another bisect of gw"):
            run(pinman_home, FakeGateway("2.1.47"), good="2.1.44", bad="2.1.48")


def test_candidates_exclude_prereleases_and_ends() -> None:
    published = ["2.1.40", "2.1.41-beta.1", "2.1.41", "2.1.42", "junk", "2.1.43-rc.0", "2.1.44"]
    cands, skipped = bisect.candidates(published, "2.1.40", "2.1.44", {"2.1.42": "bad"})
    assert cands == ["2.1.41"] and skipped == {"2.1.42": "bad"}



# ------------------------------------------------------------------ rendering


def test_progress_and_result_rendering(capsys: pytest.CaptureFixture[str]) -> None:
    from pinman.cli.verbs_bisect import _Progress, _render_bisect
    from pinman.fingerprint.fingerprints import diff

    show = _Progress()
    show(Event("install", "2.1.47"))
    show(Event("probe", "2.1.47"))
    show(Event("result", "2.1.47", Probe("2.1.47", "overloaded", "529 Overloaded", status=529)))
    show(Event("probe", "2.1.47"))
    show(Event("result", "2.1.47", Probe("2.1.47", SCHEMA, "400 thinking: Extra inputs are not "
                                         "permitted", "thinking", 400, 1.23, attempt=2)))
    show(Event("result", "2.1.45", Probe("2.1.45", OK, known=True)))
    err = capsys.readouterr().err
    assert "  installing 2.1.47 ...\n" in err
    assert "  probing 2.1.47 ... overloaded (529 Overloaded)  0.0 s; retrying\n" in err
    assert "  probing 2.1.47 ... schema (400 thinking: Extra inputs are not permitted)  1.2 s\n" in err
    assert "  2.1.45: ok (saved)\n" in err

    versions = ["2.1.42", "2.1.45", "2.1.47", "2.1.50"]
    res = search(versions, Table(versions, [OK, OK, SCHEMA, SCHEMA]))
    report = BisectReport("gw", "http://gw:80", res, versions[1:-1], {"2.1.46": "bad"})
    report.diff = diff(fake_fingerprint("2.1.45"), fake_fingerprint("2.1.47"))
    _render_bisect(report)
    out = capsys.readouterr().out
    assert "newest working: 2.1.45    first failing: 2.1.47  (adds body key thinking)" in out
    assert "  rejected: thinking  (schema from the table)" in out
    assert "  known bad in between, not probed: 2.1.46" in out
    assert "  pin it:  pinman pin gw 2.1.45" in out

    stopped = search(versions, Table(versions, [OK, "timeout", SCHEMA, SCHEMA]))
    _render_bisect(BisectReport("gw", "http://gw:80", stopped, versions[1:-1], {}))
    out = capsys.readouterr().out
    assert "no answer: 2.1.45: timeout twice" in out and "run the same command to resume" in out
