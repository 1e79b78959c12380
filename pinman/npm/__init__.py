"""npm, reproduced: node-semver ranges, npm's version picking, the user's npm config, and the
registry client (bounded requests, a cache with a time to live).

Layer: above state; below everything that resolves a version.
"""
