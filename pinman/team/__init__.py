"""Team-shared profiles: init, pin, lock (integrity and native hashes in the file), sync,
guarded upgrade and known-bad versions.

Layer: beside fingerprint, above views and health.
"""
