"""What a Claude Code version sends: a recording loopback proxy, the loopback fake Anthropic API it
can answer with (tests and demos), and per-version fingerprints with their diff.

Layer: beside team, above views and health.
"""
