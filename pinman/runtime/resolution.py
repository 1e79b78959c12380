"""From a profile to the exact install it runs: override > exact pin > lock > guarded channel (what
its last promotion verified here, `runtime.channel`) > tag/range via the registry.

This is where profiles, the registry, the store and the shim's pointers meet; the CLI calls these
functions and renders what they return. A tag or range resolves from the registry cache while it
is younger than PINMAN_REGISTRY_TTL (the shim, checks) unless the caller hands in a registry that
is offline (read views) or always asks (installs, `--refresh`). An override belongs to the pin it
replaced; for a guarded channel, to the promotion it replaced.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from pinman.runtime.choice import read_global
from pinman.runtime.pointers import Pointer, pointers, state_stamp, write_pointer
from pinman.runtime.shim import base_env, ensure_shim
from pinman.install.layout import validate_version
from pinman.state.overrides import Override, get_override, profile_key
from pinman.paths import Paths
from pinman.names import CLAUDE_CODE, Progress, clean_version
from pinman.record import record

if TYPE_CHECKING:
    from pinman.profile.model import ClaudeCodePin, Profile
    from pinman.npm.registry import Registry
    from pinman.install.layout import Install



@record
class Target:
    """What a profile runs right now, and why."""

    profile: Profile
    version: str
    integrity: str | None
    why: str
    override: Override | None = None
    stale: bool = False  # the registry answer came from the offline cache
    skipped: tuple[str, ...] = ()
    resolved_at: float | None = None  # a tag or range: when the registry data it came from was fetched
    problem: str | None = None  # the registry was asked but did not answer: why (one line)


def override_for(paths: Paths, profile: Profile) -> Override | None:
    """The local override this profile runs on, if it still belongs to the profile's pin."""
    ov = get_override(paths, profile.name, profile.project_root)
    return ov if ov is not None and stale_override(ov, profile.claude_code, _promoted(paths, profile)) is None else None


def stale_override(ov: Override, pin: ClaudeCodePin, promoted: str | None = None) -> str | None:
    """Why `ov` no longer applies: the pin it replaced is not the profile's pin any more (an edit,
    a `git pull`, `pin`, `lock` or `upgrade` moved it; for a guarded channel, a promotion, which
    only a probe at this machine's endpoint makes). None while it still applies."""
    from pinman.runtime.remedies import pin_changed

    # pin_spec None: recorded before overrides named their pin, it belongs to the pin of today
    return pin_changed(ov.pin_spec, ov.pin_version, pin, promoted)


def _promoted(paths: Paths, profile: Profile) -> str | None:
    """What a guarded channel runs here (None for any other profile, or before its first choice)."""
    from pinman.runtime.channel import channel_state, is_guarded

    if not profile.update.guarded or not is_guarded(paths, profile):
        return None
    state = channel_state(paths, profile)
    return state.version if state is not None else None


def dropped_override(paths: Paths, profile: Profile) -> tuple[Override, str] | None:
    """The override recorded for this profile that its new pin made obsolete, and why."""
    ov = get_override(paths, profile.name, profile.project_root)
    why = stale_override(ov, profile.claude_code, _promoted(paths, profile)) if ov is not None else None
    return (ov, why) if ov is not None and why else None


def dropped_note(ov: Override, why: str) -> str:
    return f"local override {ov.version} dropped: {why}"


def target(paths: Paths, profile: Profile, *, registry: Registry | None = None,
           use_override: bool = True) -> Target:
    """Resolve without installing. Exact pins and overrides need no network."""
    from pinman.npm.spec import parse_spec

    ov = override_for(paths, profile) if use_override else None
    pin = profile.claude_code
    if ov is not None:
        return Target(profile, ov.version, None, why_override(ov), ov)
    spec = parse_spec(pin.version)
    if spec.kind == "exact":
        return Target(profile, clean_version(pin.version) or pin.version, pin.integrity, f"pinned {pin.version}")
    if pin.locked is not None:
        # The lock holds until `pinman lock` or `pinman upgrade` moves it: offline, no drift.
        return Target(profile, pin.locked, pin.integrity, f"{pin.version} locked at {pin.locked}")
    if profile.update.guarded:
        from pinman.runtime.channel import is_guarded, running, why_running

        if is_guarded(paths, profile):  # only a promotion moves it: no registry, no drift
            state = running(paths, profile)
            return Target(profile, state.version, None, why_running(profile, state))
    reg = registry or _registry(paths)
    bad = [b.version for b in pin.bad]
    res = reg.resolve(CLAUDE_CODE, pin.version, skip=bad)
    return Target(profile, res.version, res.integrity, f"{pin.version} -> {res.version}",
                  stale=res.stale, skipped=tuple(res.skipped), resolved_at=res.fetched_at or None,
                  problem=res.problem)


def stale_note(tgt: Target) -> str:
    """One line for a resolution that fell back to old registry data."""
    from pinman.age import ago

    when = f", resolved {ago(tgt.resolved_at)}" if tgt.resolved_at else ""
    return f"registry {tgt.problem}; using {tgt.why}{when}"


def why_override(ov: Override) -> str:
    base = f"local override {ov.version}"
    if ov.previous:
        base += f" (rolled back from {ov.previous})"
    return base + (f": {ov.reason}" if ov.reason else "")


def _registry(paths: Paths) -> Registry:
    """The default: the cache within its time to live, else the registry (bounded), else the
    stale cache with a note."""
    from pinman.npm.registry import Registry

    return Registry.within_ttl(paths)


def local_registry(paths: Paths) -> Registry:
    """Registry data from this machine only: what read commands resolve tags and ranges with."""
    return _Deferred(paths, offline=True)  # type: ignore[return-value]


def fresh_registry(paths: Paths) -> Registry:
    """Asks the registry (ETag-revalidated): installs, `--refresh`."""
    return _Deferred(paths)  # type: ignore[return-value]


class _Deferred:
    """A Registry made when first used: an exact pin or a lock never uses one, and importing the
    registry client (npm config, cache, packuments) is a good part of a read command's start-up."""

    def __init__(self, paths: Paths, **options: bool) -> None:
        self._args, self._made = (paths, options), None

    def __getattr__(self, name: str) -> object:
        if self._made is None:
            from pinman.npm.registry import Registry

            paths, options = self._args
            self._made = Registry(paths, **options)
        return getattr(self._made, name)


def installed(paths: Paths, version: str) -> Install | None:
    from pinman.install.layout import find_install  # not the store: reading needs none of building

    return find_install(paths.store, CLAUDE_CODE, version)


def ensure_installed(paths: Paths, tgt: Target, progress: Progress | None = None, *,
                     force: bool = False) -> Install:
    """The install for `tgt`: from the store if present (offline), else through npm; `force`
    rebuilds a present one aside and swaps it in only once it is checked.

    Either way it is checked against the pin: the package's integrity and, for 2.x, the lock's
    hash of this platform's native package. An override runs a version the pin does not name, so
    only the registry's own hash applies to it.
    """
    from pinman.errors import PinmanError
    from pinman.install.store import Store
    from pinman.install.integrity import install_checked

    store = Store(paths)
    integrity = tgt.integrity
    if integrity is None and (force or store.get(CLAUDE_CODE, tgt.version) is None):
        # Overrides carry no hash: take the registry's so npm's download is still checked.
        try:
            integrity = _registry(paths).packument(CLAUDE_CODE).versions[tgt.version].integrity
        except (PinmanError, KeyError):  # best effort; npm verifies against the registry anyway
            integrity = None
    native = tgt.profile.claude_code.native if tgt.override is None else {}
    return install_checked(store, tgt.profile.name, tgt.version, integrity, native, progress, force=force).install


def install_exact(paths: Paths, version: str, progress: Progress | None = None, *,
                  force: bool = False) -> Install:
    """`pinman install VERSION`: from the store, else from npm checked against the registry's hash.

    An unknown version fails before npm runs, naming the nearest published ones. `force`
    installs again what is present (a changed install is rebuilt, never patched): built aside and
    swapped in once checked, so a failed or offline rebuild leaves the present install running.
    """
    from pinman.errors import PinmanError
    from pinman.install.store import Store
    from pinman.npm.spec import parse_spec
    from pinman.npm.pick import pick

    store = Store(paths)
    found = store.get(CLAUDE_CODE, version)
    if found is not None and not force:
        return found
    try:
        doc = fresh_registry(paths).packument(CLAUDE_CODE)
    except PinmanError as e:
        if found is None:
            raise
        raise type(e)(f"{e.message}; the installed {version} is kept as it was and still runs", hint=e.hint) from None
    pick(parse_spec(version), doc, None)
    integrity = doc.versions[version].integrity
    if found is not None:
        return store.reinstall(CLAUDE_CODE, version, integrity=integrity, progress=progress)
    return store.install(CLAUDE_CODE, version, integrity=integrity, progress=progress)


def pinned_binary(paths: Paths, profile: Profile) -> Path | None:
    """The profile's installed Claude Code binary, resolved offline; None if not known here."""
    from pinman.errors import PinmanError
    from pinman.npm.spec import is_exact

    pin = profile.claude_code
    registry = None
    if not is_exact(pin.version) and pin.locked is None:  # only a floating spec reads the registry cache
        from pinman.npm.registry import Registry

        registry = Registry(paths, offline=True)
    try:
        inst = installed(paths, target(paths, profile, registry=registry).version)
        return inst.binary if inst is not None else None
    except PinmanError:
        return None


def profile_env(paths: Paths, profile: Profile) -> dict[str, str]:
    """The env a profile's `claude` runs with: its [env] (if trusted), then what pinman sets.

    pinman's part: the pinned binary as CLAUDE_CODE_EXECUTABLE and the [sdk] install (installed
    here if missing), so a script run under the profile gets exactly the pinned pair; then the
    pin-holding vars. A venv's bin comes as sdk.PATH_PREPEND, for the caller to put before PATH
    (`sdk_env.merge_env`).
    """
    from pinman.profile.trust import is_trusted
    from pinman.runtime.sdk_env import profile_sdk_env

    env = dict(profile.env) if is_trusted(paths, profile) else {}
    env.update(profile_sdk_env(paths, profile, pinned_binary(paths, profile)))
    env.update(base_env())
    return env


def withheld(paths: Paths, profile: Profile) -> str | None:
    """The one-line notice for a project profile whose env is withheld until `pinman trust`."""
    from pinman.profile.trust import is_trusted, withheld_notice

    return None if is_trusted(paths, profile) else withheld_notice(profile)


def shadow_notice(profile: Profile) -> str | None:
    """The one-line notice for a project profile that hides the user's own profile of that name."""
    if profile.shadows is None:
        return None
    return (f"{profile.path} replaces your own profile {profile.shadows} in this project: nothing of "
            f"yours applies here, its [env] included; rename one of them to keep both")


def notices(paths: Paths, profile: Profile) -> list[str]:
    """What to tell the user, once, about how `profile` applies here."""
    return [n for n in (shadow_notice(profile), withheld(paths, profile)) if n]


def pointer_for(paths: Paths, profile: Profile, tgt: Target, inst: Install, basis_ns: int = 0) -> Pointer:
    """`basis_ns`: state_stamp() from before `tgt` was resolved (see write_pointer). The pinned
    version carries its remedies (an override's version has none: it is not the pin)."""
    from pinman.runtime.remedies import remedies_for
    from pinman.runtime.self_spawn import wrapper_env

    remedies = remedies_for(paths, profile, tgt.version) if tgt.override is None else {}
    env = {**profile_env(paths, profile), **wrapper_env(paths, tgt.version)}
    return Pointer(profile.name, tgt.version, inst.binary, profile.path, env, basis_ns, remedies)


def activate(paths: Paths, profile: Profile, context_root: Path | None, *,
             progress: Progress | None = None, registry: Registry | None = None) -> tuple[Target, Install]:
    """Resolve, install if needed, and point this context's shim at it (one rename)."""
    from pinman.runtime.sdk_env import ensure_installed as ensure_sdk

    basis = state_stamp(paths)  # before the override and trust are read
    tgt = target(paths, profile, registry=registry)
    inst = ensure_installed(paths, tgt, progress)
    ensure_sdk(paths, profile, refresh=True, progress=progress)  # before the pointer names it
    ensure_shim(paths)
    write_pointer(paths, context_root, pointer_for(paths, profile, tgt, inst, basis))
    return tgt, inst


def repoint(paths: Paths, name: str) -> int:
    """After an override changes, make every context's pointer for `name` follow it.

    Pointers whose context can be re-resolved offline are rewritten in place; the rest are
    dropped, so that context's shim resolves again on its next run. Returns pointers touched.
    """
    from pinman.errors import PinmanError, SystemProblem, from_os_error
    from pinman.profile.discovery import find_profile

    touched = 0
    basis = state_stamp(paths)  # before the override and trust are read
    local = local_registry(paths)  # a rollback must not wait on the network
    for ptr, root in pointers(paths, name):
        try:
            profile = find_profile(name, root, paths) if root else _global_profile(paths, name)
            tgt = target(paths, profile, registry=local)
            inst = installed(paths, tgt.version)
            if inst is None:
                raise PinmanError("not installed")
            write_pointer(paths, root, pointer_for(paths, profile, tgt, inst, basis))
        except (PinmanError, OSError):
            try:
                ptr.unlink(missing_ok=True)
            except OSError as e:  # the override is written: this pointer is stale for the shim already
                raise from_os_error(e) or SystemProblem(
                    f"{ptr}: cannot remove: {e.strerror or e}", hint="remove it by hand") from None
        touched += 1
    return touched


def _global_profile(paths: Paths, name: str) -> Profile:
    """A profile as seen outside any project: user folder, then built-ins."""
    from pinman.profile.discovery import find_profile

    return find_profile(name, Path(os.sep), paths)


def in_use(paths: Paths) -> list[Profile]:
    """The profiles `claude` runs on this machine: the global choice, and every (context, profile)
    the shim keeps a pointer for (a project where it ran, a name run with PINMAN_PROFILE). Pointers
    of projects that are gone and names that no longer load are skipped."""
    from pinman.errors import PinmanError
    from pinman.profile.discovery import find_profile

    wanted: list[tuple[str, Path | None]] = []
    try:
        chosen = read_global(paths)
    except PinmanError:
        chosen = None
    if chosen:
        wanted.append((chosen, None))
    wanted += [(ptr.name, root) for ptr, root in pointers(paths)]
    out: dict[str, Profile] = {}
    for name, root in wanted:
        if root is not None and not (root / ".pinman.toml").is_file():
            continue
        try:
            profile = find_profile(name, root, paths) if root else _global_profile(paths, name)
        except PinmanError:
            continue
        out.setdefault(profile_key(profile.name, profile.project_root), profile)
    return list(out.values())


def runs_offline(paths: Paths, profile: Profile) -> bool:
    """True when the version this profile runs resolves offline and is in the store already."""
    from pinman.errors import PinmanError
    from pinman.npm.registry import Registry

    try:
        tgt = target(paths, profile, registry=Registry(paths, offline=True))
    except PinmanError:
        return False
    return installed(paths, tgt.version) is not None
