"""The shim's slow path (`python -m pinman _shim`): resolve here, install if needed, write the
pointer, exec claude. It runs once per change; every later `claude` takes the sh fast path.

A guarded profile with no version chosen on this machine yet cannot be resolved at this layer:
choosing one probes candidates against the endpoint, which is policy. The caller hands that in
(`first_choice`), so the first `claude` of a guarded channel runs only a version that passed a
probe here, as `pinman use` would have chosen it.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from pinman.paths import Paths
from pinman.runtime.choice import choose
from pinman.runtime.pointers import record_project_choice
from pinman.runtime.resolution import activate, notices, profile_env, stale_note

if TYPE_CHECKING:
    from pinman.profile.model import Profile

FirstChoice = Callable[[Paths, "Profile", Callable[[str], None]], None]


def shim_main(argv: list[str], first_choice: FirstChoice | None = None) -> int:
    """Resolve, install if needed, write the pointer, exec claude (see the module docstring)."""
    from pinman.errors import PinmanError
    from pinman.profile.discovery import find_profile
    from pinman.profile.project import find_project_root
    from pinman.runtime.channel import ChannelUnset
    from pinman.runtime.client_hooks import hook_args, print_mode

    paths = Paths.from_env()
    cwd = Path.cwd()
    try:
        root = find_project_root(cwd)
        if root is not None and not os.environ.get("PINMAN_PROFILE"):
            record_project_choice(paths, root)  # what the shim reads instead of the file
        choice = choose(cwd, paths)
        profile = find_profile(choice.name, cwd, paths)

        def say(msg: str) -> None:
            print(f"pinman: {choice.name} {msg}", file=sys.stderr)

        try:
            tgt, inst = activate(paths, profile, choice.project_root, progress=say)
        except ChannelUnset:
            if first_choice is None:
                raise
            first_choice(paths, profile, say)  # probes candidates; raises when none can run
            tgt, inst = activate(paths, profile, choice.project_root, progress=say)
        for notice in notices(paths, profile):  # once: the pointer keeps later runs on the fast path
            print(f"pinman: {notice}", file=sys.stderr)
        if tgt.problem:
            print(f"pinman: {stale_note(tgt)}", file=sys.stderr)
    except PinmanError as e:
        hint = f" ({e.hint})" if e.hint else ""
        print(f"pinman: {e.message}{hint}", file=sys.stderr)
        return int(e.exit_code)
    from pinman.runtime.remedies import applied, remedies_for
    from pinman.runtime.sdk_env import merge_env
    from pinman.runtime.self_spawn import keep_callers, wrapper_env

    env = keep_callers(merge_env(os.environ, {**profile_env(paths, profile), **wrapper_env(paths, tgt.version)}),
                       os.environ)
    if tgt.override is None:  # the pinned version carries its remedy at this endpoint
        env.update(applied(env, remedies_for(paths, profile, tgt.version)))
    binary = str(inst.binary)
    if print_mode(argv):  # what pinman did unattended, as the shim's fast path would print it
        from pinman.state.notice import take

        for line in take(paths.notice):
            print(line, file=sys.stderr)
    os.execve(binary, [binary, *hook_args(paths, tgt.version, argv), *argv], env)
    return 127  # not reached
