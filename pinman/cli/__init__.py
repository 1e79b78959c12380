"""The `pinman` command: parse, call the core, render. Nothing else lives here.

* `main`: the entry point, the one error guard, and the fast path (the shim's slow path, the
  hooks, and the read commands `fastpath` lists) that never imports typer.
* `fastpath`: the verbs answered without typer and the options each takes.
* `current`, `reads`: those verbs' typer-free bodies, which their typer verbs call too.
* `app`: the typer app and the one table of every verb; it builds only the verb that runs.
* `ui`: the one place that renders (text, `--json`, tables, notices, progress).
* `verbs_*`: one module per group of verbs; they never import each other.

Layer: the top; nothing imports it.
"""
