"""What runs `claude` and how: the editors' bundled CLIs and whether they go through the shim."""
