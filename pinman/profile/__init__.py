"""Profiles: the model, TOML with file:line errors, validation, discovery, comment-keeping edits,
`.pinman.toml`, and trust for a project's files.

Layer: above npm; below install.
"""
