"""Bisect: the newest version an endpoint accepts.

* `search`: the pure search over a version window (no I/O; its probe budget is proven in tests).
* `report`: what a bisect found and the events it went through.
* `driver`: real installs and probes, resumable state, journalled verdicts, clean-up.

Layer: above fingerprint and team, below policy.
"""
