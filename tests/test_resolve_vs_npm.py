"""pinman picks the version real npm installs.

Two checks against the npm on PATH:
- `Registry.resolve` vs `npm install --package-lock-only` for Claude Code on the real registry;
- `versions.satisfies` / `versions.pick` vs npm's own bundled node-semver and npm-pick-manifest,
  run by node on synthetic packuments (no network).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from pinman.errors import VersionNotFound
from pinman.npm.config import load_npm_config
from pinman.paths import Paths
from pinman.names import CLAUDE_CODE
from pinman.npm.registry import Registry, Resolution, detect_node_version
from pinman.npm.pick import pick
from pinman.npm.semver import satisfies

pytestmark = pytest.mark.e2e  # npm and node are required (pinman installs through npm)

# Read while collecting, before the autouse fixture points HOME at a temp dir: npm and pinman
# both read the user's real npm configuration (registry, CA, credentials) and nothing else.
REAL_HOME = os.environ.get("HOME", "")

SPECS = [
    "latest",
    "2.1.331",
    "1.0.100",
    "v2.1.327",
    "=2.1.327",
    "^2.1.0",
    "~2.1.300",
    "2.1.x",
    ">=1.0.100 <2",
    "1.0.100 || 2.1.331",
    "*",
    "x",
    "^1.0.0",
    "~1.0.100",
    "1.x",
    "<2.0.0",
    ">=2.1.300",
    "2.0.x",
    "^2.0.0",
    "2.1.300 - 2.1.320",
    ">2.1.100 <=2.1.150",
    "~2.0.50",
    "1",
    "2",
    "~2.1",
    "<=2.1.198",
    ">=2.1.190 <2.1.200",
    ">=1.0.0 <1.0.50 || >=2.1.320",
    "^0.2.0",
    "^9.0.0",  # nothing matches: both must fail
    "2.0.999",  # no such version (the 2.0 line ended at 2.0.77; releases are 2.1.N): both must fail
]


def _npm_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PINMAN_HOME",)}
    if REAL_HOME:
        env["HOME"] = REAL_HOME
    return env


def npm_install_version(spec: str) -> str | None:
    """What `npm install` writes into package-lock.json for the spec; None if npm refuses."""
    with tempfile.TemporaryDirectory(prefix="pinman-npm-") as prefix:
        proc = subprocess.run(
            [
                "npm",
                "install",
                "--package-lock-only",
                "--ignore-scripts",
                "--no-audit",
                "--no-fund",
                "--prefer-online",  # npm would otherwise trust a packument cached 5 minutes ago
                "--prefix",
                prefix,
                f"{CLAUDE_CODE}@{spec}",
            ],
            capture_output=True,
            text=True,
            env=_npm_env(),
            cwd=prefix,
            timeout=120,
        )
        if proc.returncode != 0:
            assert "ETARGET" in proc.stderr or "No matching version" in proc.stderr, proc.stderr
            return None
        lock = json.loads(Path(prefix, "package-lock.json").read_text())
        return str(lock["packages"][f"node_modules/{CLAUDE_CODE}"]["version"])


@pytest.fixture(scope="session")
def npm_answers() -> dict[str, str | None]:
    # npm takes ~0.45 s a call here, two thirds of it node startup and CPU: a few workers suffice
    with ThreadPoolExecutor(max_workers=min(8, 2 * (os.cpu_count() or 1))) as pool:
        return dict(zip(SPECS, pool.map(npm_install_version, SPECS)))


@pytest.fixture(scope="session")
def session_registry(tmp_path_factory: pytest.TempPathFactory) -> Registry:
    home = tmp_path_factory.mktemp("resolve-pinman-home")
    env = {**os.environ, "HOME": REAL_HOME} if REAL_HOME else dict(os.environ)
    config = load_npm_config(environ=env)
    reg = Registry(Paths.from_env({"PINMAN_HOME": str(home)}), config=config)
    reg.packument(CLAUDE_CODE)  # fetched once; every resolve below reuses it
    return reg


def pinman_version(reg: Registry, spec: str) -> str | None:
    try:
        res: Resolution = reg.resolve(CLAUDE_CODE, spec)
    except VersionNotFound:
        return None
    assert not res.stale
    return res.version


@pytest.mark.parametrize("spec", SPECS)
def test_resolve_matches_npm_install(
    spec: str, npm_answers: dict[str, str | None], session_registry: Registry
) -> None:
    assert pinman_version(session_registry, spec) == npm_answers[spec], (
        f"{CLAUDE_CODE}@{spec} under node {detect_node_version()}"
    )


PUBLISHED_JS = """
const dir = process.argv[1];
const pick = require(dir + '/npm-pick-manifest');
const semver = require(dir + '/semver');
const {tags, rows, specs} = JSON.parse(require('fs').readFileSync(0, 'utf8'));
const versions = {};
for (const r of rows) versions[r.version] = {
  name: 'x', version: r.version,
  ...(r['engines.node'] ? {engines: {node: r['engines.node']}} : {}),
  ...(r.deprecated ? {deprecated: r.deprecated} : {}),
};
const doc = {'dist-tags': tags, versions};
const engineOk = v => !versions[v].engines || semver.satisfies(process.version, versions[v].engines.node);
console.log(JSON.stringify({
  picks: specs.map(s => { try { return pick(doc, s, {nodeVersion: process.version}).version } catch (e) { return null } }),
  latestEngineOk: tags.latest in versions ? engineOk(tags.latest) : null,
}));
"""


def npm_view(*args: str) -> object:
    proc = subprocess.run(["npm", "view", "--prefer-online", *args, "--json"], capture_output=True, text=True, env=_npm_env(),
                          timeout=120, check=True)
    return json.loads(proc.stdout)


@pytest.fixture(scope="session")
def published() -> dict[str, object]:
    """What the registry publishes now, asked through npm itself: the dist-tags and every
    release's engines.node (npm answers one object instead of a list when one version matches)."""
    rows = npm_view(f"{CLAUDE_CODE}@>=0.0.0", "version", "engines.node", "deprecated")
    return {"tags": npm_view(CLAUDE_CODE, "dist-tags"), "rows": rows if isinstance(rows, list) else [rows]}


def test_known_facts_about_engines(npm_answers: dict[str, str | None], published: dict[str, object]) -> None:
    """2.1.198 and later declare engines.node >= 22 (a published manifest never changes), so on
    node 20 a range stops before them while the `latest` tag ignores engines; on node >= 22 ranges
    reach latest. Which versions that means is derived from what the registry publishes now,
    with npm's own npm-pick-manifest, so a new release moves the expectation with it."""
    engines = {r["version"]: r.get("engines.node") for r in published["rows"]}  # type: ignore[union-attr]
    assert engines["2.1.197"] == ">=18.0.0" and engines["2.1.198"] == ">=22.0.0"
    specs = ["^2.1.0", "*"]
    derived = run_node(PUBLISHED_JS, {**published, "specs": specs})
    assert isinstance(derived, dict)
    assert npm_answers["latest"] == published["tags"]["latest"]  # type: ignore[index]
    for spec, want in zip(specs, derived["picks"]):
        assert npm_answers[spec] == want, spec
    if derived["latestEngineOk"] is False:  # on node 20: the comparison covers the engines filter
        assert npm_answers["*"] != npm_answers["latest"]


# --- npm's own semver and pick-manifest on synthetic data ----------------------------------


def npm_module_dir() -> Path:
    npm = Path(os.path.realpath(shutil.which("npm") or "npm"))
    return npm.parent.parent / "node_modules"  # <npm>/bin/npm-cli.js -> <npm>/node_modules


def run_node(script: str, data: object) -> object:
    proc = subprocess.run(
        ["node", "-e", script, str(npm_module_dir())],
        input=json.dumps(data),
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return json.loads(proc.stdout)


SEMVER_JS = """
const dir = process.argv[1];
const semver = require(dir + '/semver');
const cases = JSON.parse(require('fs').readFileSync(0, 'utf8'));
console.log(JSON.stringify(cases.map(([v, r, incpr, loose]) =>
  semver.satisfies(v, r, {includePrerelease: incpr, loose}))));
"""

RANGES = [
    "*", "", "x", "1", "1.x", "1.2", "1.2.x", "^1.2.3", "~1.2.3", "^0.2.3", "^0.0.3", "~0.0.3",
    "^1.2.3-beta.2", "~1.2.3-beta.2", ">=1.2.3 <2", ">1.2", "<=1.2", "<1.2", ">=1.x", ">1", "<2",
    "1.2.3 - 2.3.4", "1.2 - 2.3", "1.2.3 - 2", "1.2.3-rc.1 - 2.0.0", "* - 2", "1.2.3 || 2.x",
    "^1 || ^2.0.0-alpha", "=1.2.3", "v1.2.3", ">= 1.2.3", "~ 1.2", "^ 1.2", "~>1.2.3", ">=0.0.0",
    "1.2.3 foo", "2.1.x1", "2.x.1", "x.2.3", ">=1.0.0-0", "^1.2.3+build", "1.2.3beta",
    ">1.2.3-alpha", "1.2.3-alpha.1", "^0.x", "~0", "^0", ">=1.2.3 <1.2.3", "<0.0.0", ">x", "<x",
    "1.2.*", "^1.2.x", "~1.2.x", "1.x || >=2.5.0 || 5.0.0 - 7.2.3", ">=22", "^20.0.0 || >=22",
    ">=20.19.0 <21 || >=22.12", "00.1.2", ">=01.2.3", "1.2.3-01", ">1.2.3-alpha.10", "~2.1",
]
VERSIONS = [
    "0.0.3", "0.0.4", "0.2.3", "0.2.9", "0.3.0", "1.0.0", "1.2.2", "1.2.3", "1.2.3-alpha",
    "1.2.3-alpha.1", "1.2.3-alpha.10", "1.2.3-alpha.9", "1.2.3-beta.2", "1.2.3-beta.4",
    "1.2.4-alpha", "1.2.4", "1.3.0", "1.3.0-0", "2.0.0-alpha", "2.0.0", "2.1.5", "2.3.4",
    "2.3.5", "2.5.0", "7.2.3", "7.2.4", "v20.20.2", "22.0.0", "22.12.0", "21.0.0-pre",
    "1.2.3beta", "v1.2.3", "=1.2.3", "junk",
]


# Every range form node-semver knows, each with a zero major, a zero minor, a prerelease, loose
# spellings and x/* wildcards where the form takes them.
FORMS = [
    # exact and comparators, each operator, partial and with a prerelease
    "0.0.3", "=0.2.3", "v1.2.3", "1.2.3-alpha.1", "1.2.3+build.5", "1.2.3-rc.1+b",
    ">1.2.3", ">=1.2.3", "<1.2.3", "<=1.2.3", ">0.0.3", ">=0.2.3-alpha", "<0.0.3-0", "<=0.2.3-alpha",
    ">1", ">=1", "<1", "<=1", ">1.2", ">=1.2", "<1.2", "<=1.2", ">0", "<0.2", "<=0.0",
    ">=1.2.3 <1.3.0-0", ">1.2.3-alpha <1.2.3", "<1.2.3-beta >1.2.3-alpha",
    # x-ranges
    "*", "", "x", "X", "1.x", "1.X", "1.*", "1.2.x", "1.2.*", "0.x", "0.0.x", "0.0", "1", "1.2",
    ">=1.x", ">1.x", "<1.x", "<=1.x", ">=1.2.x", ">1.2.x", "<1.2.x", "<=1.2.x", "=1.x", "=1.2.x",
    # caret: every zero position, with and without a prerelease, partial and wildcard
    "^1.2.3", "^0.2.3", "^0.0.3", "^0.0.0", "^1.2.3-beta.2", "^0.2.3-beta.2", "^0.0.3-beta.2",
    "^1.2", "^0.2", "^0.0", "^1", "^0", "^1.x", "^0.x", "^0.0.x", "^1.2.x", "^0.2.x", "^*", "^ 1.2.3",
    # tilde, and the ~> alias
    "~1.2.3", "~0.2.3", "~0.0.3", "~1.2.3-beta.2", "~0.0.3-beta.2", "~1.2", "~0.2", "~1", "~0",
    "~1.x", "~1.2.x", "~>1.2.3", "~> 0.2.3", "~ 1.2",
    # hyphen ranges: full, partial and prerelease on either side
    "1.2.3 - 2.3.4", "0.0.3 - 0.0.4", "0.2.3 - 0.2.4-alpha", "1.2.3-rc.1 - 2.0.0", "1.2 - 2.3",
    "1.2.3 - 2", "1 - 2", "* - 2", "1.2.3 - *", "0.0.3-0 - 0.0.3", "1.x - 2.x",
    # unions and intersections
    "1.2.3 || 2.x", "^0.0.3 || ^0.2.3", "^1 || ^2.0.0-alpha", "1.x || >=2.5.0 || 5.0.0 - 7.2.3",
    ">=0.2.3 <0.3.0 || ~0.0.3",
    # loose-only and invalid spellings (strict refuses them; loose reads or drops them)
    "1.2.3beta", "^1.2.3beta", "~0.2.3beta", ">=01.2.3", "00.1.2", "1.2.3 foo", "2.1.x1", "2.x.1",
    "x.2.3", "1.2.3-01", ">x", "<x", ">=1.2.3 <1.2.3", "<0.0.0",
]


def boundary_versions(range_: str) -> list[str]:
    """Versions on and beside every bound a range can have: each version it names, its
    prerelease, the next patch/minor/major and their `-0`, so a wrong `-0` shows."""
    out: set[str] = set()
    for m in re.finditer(r"(\d+)(?:\.(\d+|[xX*]))?(?:\.(\d+|[xX*]))?", range_):
        nums = [int(g) if g and g.isdigit() else 0 for g in m.groups()]
        M, mi, p = nums
        for a, b, c in ((M, mi, p), (M, mi, p + 1), (M, mi + 1, 0), (M + 1, 0, 0), (M, mi, max(p - 1, 0))):
            base = f"{a}.{b}.{c}"
            out.update({base, f"{base}-0", f"{base}-alpha", f"{base}-beta.2", f"{base}-beta.4"})
    return sorted(out)


def test_satisfies_matches_node_semver() -> None:
    cases = [
        (v, r, incpr, loose)
        for v in VERSIONS
        for r in RANGES
        for incpr in (False, True)
        for loose in (False, True)
    ]
    cases += [
        (v, r, incpr, loose)
        for r in FORMS
        for v in boundary_versions(r) + ["1.2.3beta", "v0.2.3", "=0.0.3", "junk"]
        for incpr in (False, True)
        for loose in (False, True)
    ]
    expected = run_node(SEMVER_JS, cases)
    got = [satisfies(v, r, incpr, loose=loose) for v, r, incpr, loose in cases]
    assert isinstance(expected, list)
    wrong = [(c, g) for c, g, e in zip(cases, got, expected) if g != e]
    assert not wrong, f"{len(wrong)} of {len(cases)} differ: {wrong[:10]}"


PICK_JS = """
const dir = process.argv[1];
const pick = require(dir + '/npm-pick-manifest');
const {docs, specs, nodes} = JSON.parse(require('fs').readFileSync(0, 'utf8'));
const out = [];
for (const doc of docs) for (const spec of specs) for (const node of nodes) {
  try { out.push(pick(doc, spec, {nodeVersion: node}).version) }
  catch (e) { out.push(null) }
}
console.log(JSON.stringify(out));
"""


def synthetic_docs() -> list[dict[str, object]]:
    def doc(latest: str, versions: dict[str, tuple[str | None, bool]]) -> dict[str, object]:
        return {
            "name": "pkg",
            "dist-tags": {"latest": latest, "next": max(versions)},
            "versions": {
                v: {
                    "name": "pkg",
                    "version": v,
                    **({"engines": {"node": node}} if node else {}),
                    **({"deprecated": "do not use"} if dep else {}),
                }
                for v, (node, dep) in versions.items()
            },
        }

    base = {
        "1.0.0": (">=16", False),
        "1.1.0": (">=18", True),
        "1.2.0": (None, False),
        "2.0.0-beta.1": (">=18", False),
        "2.0.0": (">=18", False),
        "2.1.0": (">=22", False),
        "2.2.0": (">=22", True),
        "2.3.0-rc.1": (">=18", False),
        "3.0.0": ("^22.12 || >=24", False),
        "3.1.0": ("not a range", False),
    }
    return [
        doc("2.2.0", base),
        doc("2.1.0", base),
        doc("2.0.0", base),
        doc("3.1.0", base),
        doc("2.3.0-rc.1", base),
        doc("1.1.0", base),
        doc("9.9.9", base),  # latest points at nothing
    ]


PICK_SPECS = [
    "*", "x", "latest", "next", "1", "1.x", "^1.0.0", "~1.1.0", "2", "^2.0.0", "^2.0.0-beta.1",
    ">=2.0.0-beta.1", "2.0.0-beta.1", "2.3.0-rc.1", ">=2.1", "<3", "3", ">=1.2.0 <2.1.0",
    "1.0.0 || 2.2.0", "2.0.0 - 2.2.0", "^4", "4.0.0",
]
PICK_NODES = ["v16.20.0", "v18.19.0", "v20.20.2", "v22.12.0", "v24.1.0"]


def test_pick_matches_npm_pick_manifest() -> None:
    docs = synthetic_docs()
    expected = run_node(PICK_JS, {"docs": docs, "specs": PICK_SPECS, "nodes": PICK_NODES})

    from pinman.npm.packument import packument_from

    got: list[str | None] = []
    cases = []
    for raw in docs:
        packument = packument_from("pkg", raw, fetched_at=0.0)
        assert packument is not None
        for spec in PICK_SPECS:
            for node in PICK_NODES:
                cases.append((raw["dist-tags"], spec, node))
                try:
                    got.append(pick(spec, packument, node))
                except VersionNotFound:
                    got.append(None)
    assert isinstance(expected, list)
    wrong = [(c, g, e) for c, g, e in zip(cases, got, expected) if g != e]
    assert not wrong, wrong[:10]
    assert len(cases) == len(expected) > 700
