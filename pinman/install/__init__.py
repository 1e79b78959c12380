"""Installs: the immutable store's parts (file manifests so far)."""
