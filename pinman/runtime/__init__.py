"""Runtime: which profile is chosen here, the shim and its pointers, resolution to an install,
the environment a profile runs with, the hook files handed to the client, install verification,
and editors' bundled CLIs.

Layer: above install; below health and views.
"""
