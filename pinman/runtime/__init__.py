"""Runtime: from a chosen profile to what runs (verification of its installs so far)."""
