"""Files pinman owns: atomic writes, strict readers of its own files, the journal (SQLite), the
local overrides and paused bisects — one module per file, with its shape and migration; and the
reader and byte-keeping editor of JSON with comments (`jsonc`) that editors' settings files need.

Layer: above names and the ground floor; imports nothing else of pinman.
"""
