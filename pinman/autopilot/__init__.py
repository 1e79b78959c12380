"""Claude Code hooks: pinman acts on the client's own failures and tells the user what it did.

* `settings`: pinman's entries in Claude Code's settings JSON (install, uninstall, status).
* `scripts`: the POSIX sh hook commands (no Python when there is nothing to do).
* `notices`: the one-line notice a session shows once, and the "next check due" time.
* `handler`: the detached StopFailure handler that runs the verified check/rollback policy.

Layering: imports health, rollback, journal, activation and paths; only the CLI imports this.
"""
