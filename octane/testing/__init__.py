"""Helpers for testing Octane and Octane plugins (shipped with the package for plugin authors)."""
