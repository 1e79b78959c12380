"""Files pinman owns: each state file's shape, version and migration in one module (the journal first)."""
