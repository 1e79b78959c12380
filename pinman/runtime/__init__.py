"""Runtime: which profile is chosen here, the shim and its pointers, resolution to an install,
the environment a profile runs with, the hook files handed to the client, install verification,
and the other ways Claude Code starts: editors' extensions routed through the shim (`editors`,
`ide`), its own self-spawns (`self_spawn`), and the machine's managed settings (`managed`).

Layer: above install; below health and views.
"""
