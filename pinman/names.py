"""Names every layer shares, defined once: the Claude Code package and the progress callback type."""

from __future__ import annotations

from collections.abc import Callable

CLAUDE_CODE = "@anthropic-ai/claude-code"

# Installs, checks and bisects report steps as one short line each ("downloading", "verifying");
# the CLI decides how to show them (a live line on a terminal, plain lines when piped).
Progress = Callable[[str], None]
