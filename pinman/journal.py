"""The journal lives in `pinman.state.journal`; this name stays for the modules that import it here."""

from __future__ import annotations

from pinman.state.journal import (DEFAULT_ENDPOINT, SCHEMA, Entry, Journal, endpoint_of, parse, scrub,
                                  secret_values)

__all__ = ["DEFAULT_ENDPOINT", "SCHEMA", "Entry", "Journal", "endpoint_of", "parse", "scrub", "secret_values"]
