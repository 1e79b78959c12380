"""Installs: the immutable store (built aside with real npm, marker last, renamed into place),
the native binary, integrity and file manifests, and SDK venvs and prefixes.

Layer: above profile; it knows nothing of which profile runs where (runtime does).
"""
