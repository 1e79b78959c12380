"""Claude Code hooks: pinman acts on the client's own failures and tells the user what it did.

* `files`: where the hook scripts, pinman's hook settings and the hooks' state live.
* `settings`: install/uninstall/status of pinman's hook files (and cleaning entries an earlier
  pinman wrote into the user's settings).
* `scripts`: the POSIX sh hook commands (no Python when there is nothing to do).
* `notices`: the one-line notice a session shows once, and the "next check due" time.
* `handler`: the detached StopFailure handler that runs the verified check/rollback policy.

Layer: above policy (and everything below it); only the CLI imports it.
"""
