"""Read models behind the commands that only look: what they show, computed from local state."""
