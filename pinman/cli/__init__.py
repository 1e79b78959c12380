"""The `pinman` command: parse, call the core, render. Nothing else lives here.

* `main`: the entry point, the one error guard, and the fast path (`current`, `which`, the shim's
  slow path) that never imports typer.
* `app`: the typer app and the one table of every verb.
* `ui`: the one place that renders (text, `--json`, tables, notices, progress).
* `verbs_*`: one module per group of verbs; they never import each other.

Layer: the top; nothing imports it.
"""
