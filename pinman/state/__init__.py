"""Files pinman owns: atomic writes, strict readers of its own files, the journal (SQLite), the
local overrides and paused bisects — one module per file, with its shape and migration.

Layer: above names and the ground floor; imports nothing else of pinman.
"""
