"""How a version gets probed the way a profile's `[health]` says, and how each verdict is journaled.

The env is the user's (their key, their base URL) with the profile's over it; an untrusted
project's prompt, model and `[sdk]` never reach a probe. A version that is not in the store is
installed only when the caller allows it.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Callable, Mapping

from pinman.errors import InstallError, PinmanError
from pinman.health.result import ProbeResult, Waiting
from pinman.paths import Paths
from pinman.state.journal import Entry, Journal, endpoint_of
from pinman.redact import secret_values
from pinman.runtime.resolution import profile_env
from pinman.runtime.sdk_env import installed_for, merge_env

if TYPE_CHECKING:
    from pinman.health.outcome import Outcome
    from pinman.npm.registry import Registry
    from pinman.profile.model import Profile
    from pinman.runtime.resolution import Target


# version -> what probing that version against the endpoint saw
Prober = Callable[..., "ProbeResult"]  # (version, *, sdk_version=None) -> what probing that pair saw


def run_env(paths: Paths, profile: Profile, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The env a probe runs with: the user's env (their key, their base URL) + the profile's."""


    return merge_env(os.environ if environ is None else environ, profile_env(paths, profile))


def make_prober(paths: Paths, profile: Profile, env: Mapping[str, str], *, isolated_home: bool = False,
                waiting: Callable[[Waiting], None] | None = None) -> Prober:
    """Probe any installed version of Claude Code the way `[health]` says.

    `waiting` hears about a CLI probe while it waits for the client (about once a second) and once
    more when it is over, so a terminal can show that something is happening."""
    from pinman.profile.trust import applied_health

    def probe(version: str, sdk_version: str | None = None) -> ProbeResult:
        cfg = applied_health(paths, profile)  # an untrusted project's [health] does not decide
        if waiting is None or cfg.probe != "cli":
            return _probe(paths, profile, env, version, sdk_version, isolated_home, None)
        endpoint = endpoint_of(env.get("ANTHROPIC_BASE_URL"))
        limit = cfg.timeout

        def tick(elapsed: float) -> None:
            waiting(Waiting(version, endpoint, elapsed, limit))

        try:
            return _probe(paths, profile, env, version, sdk_version, isolated_home, tick)
        finally:
            waiting(Waiting(version, endpoint, 0.0, limit, done=True))

    return probe


def _probe(paths: Paths, profile: Profile, env: Mapping[str, str], version: str, sdk_version: str | None,
           isolated_home: bool, tick: Callable[[float], None] | None) -> ProbeResult:
    from pinman.health import cli_probe, http_probe, sdk_probe  # not for a rollback by hand
    from pinman.runtime.resolution import installed
    from pinman.profile.trust import applied_health

    cfg = applied_health(paths, profile)  # an untrusted project's prompt, model, probe, timeout are not used
    if cfg.probe == "http":
        return http_probe.probe_http(env.get("ANTHROPIC_BASE_URL") or "https://api.anthropic.com", env,
                                 timeout=cfg.timeout)
    if cfg.probe == "sdk":
        from pinman.errors import HealthError
        from pinman.install.sdk import SdkStore
        from pinman.runtime.sdk_env import ensure_installed, untrusted_project

        if untrusted_project(paths, profile):
            raise HealthError(f'{profile.name}: probe = "sdk" runs this project\'s [sdk], which is not trusted',
                              hint=f"review {profile.path}, then run `pinman trust` in {profile.project_root}")
        pinned = ensure_installed(paths, profile)
        if pinned is not None and sdk_version and sdk_version != pinned.version:
            # re-probing a known-good pair: its own SDK, not the one pinned now
            pinned = SdkStore(paths).install(pinned.ecosystem, pinned.name, sdk_version)
        if pinned is None or pinned.ecosystem != "pypi":
            raise HealthError(f'{profile.name}: probe = "sdk" needs a PyPI [sdk] with the anthropic package',
                              hint='e.g. [sdk] package = "anthropic", version = "0.40.0"')
        return sdk_probe.probe_sdk(pinned.python, env.get("ANTHROPIC_BASE_URL") or "https://api.anthropic.com",
                                env, timeout=cfg.timeout, model=cfg.model, prompt=cfg.prompt)
    inst = installed(paths, version)
    if inst is None:
        raise InstallError(f"{version} is not installed", hint=f"run `pinman install {version}`")
    return cli_probe.probe_cli(inst.binary, env, prompt=cfg.prompt, timeout=cfg.timeout,
                            isolated_home=isolated_home, on_wait=tick)


def offline_registry(paths: Paths) -> Registry:
    from pinman.npm.registry import Registry

    return Registry(paths, offline=True)


def have(paths: Paths, tgt: Target, progress: Callable[[str], None] | None, may_install: bool) -> None:
    """The target's install, downloaded only when allowed."""
    from pinman.runtime.resolution import ensure_installed, installed

    if may_install:
        ensure_installed(paths, tgt, progress)
    elif installed(paths, tgt.version) is None:
        raise PinmanError(f"{tgt.profile.name}: {tgt.version} is not installed (not downloaded by a periodic check)",
                          hint=f"run `pinman install {tgt.profile.name}`")


def sdk_version(paths: Paths, profile: Profile) -> str | None:
    """The SDK version the profile runs with now (recorded beside the CLI version in checks)."""
    if profile.sdk is None:
        return None

    inst = installed_for(paths, profile)
    return inst.version if inst is not None else None


def probe_and_record(journal: Journal, probe: Prober, key: str, version: str, endpoint: str,
                      env: Mapping[str, str], sdk: str | None = None, *, with_sdk: bool = False,
                      switches: Mapping[str, str] | None = None,
                      event: Callable[[Outcome], str] | None = None) -> Outcome:
    """Probe (with `sdk` explicitly when `with_sdk`: a known-good pair) and journal the verdict.

    `switches`: the client switches the probe ran with (a remedy's); its entry then records them
    and is no verdict about the plain version (`journal_db.row`). `event`: what the entry is
    journaled as, from the outcome (default `check`; a guarded channel's candidate probe that
    decides nothing yet is a `candidate`)."""
    from pinman.health.classify import classify

    result = probe(version, sdk_version=sdk) if with_sdk else probe(version)
    outcome = classify(result, secret_values(env))
    name = event(outcome) if event is not None else "check"
    journal.append(Entry(name, key, version, endpoint=endpoint, outcome=outcome.kind.value,
                         status=outcome.status, message=outcome.message[:300], rejected=outcome.rejected,
                         duration=round(result.duration, 3), sdk_version=sdk,
                         extra={"remedy": dict(switches)} if switches else {}), env)
    return outcome
