"""Runtime: from a chosen profile to what runs — verification of its installs, and the editors' bundled CLIs."""
