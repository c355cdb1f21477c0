"""Plugins bundled with Octane. Each uses only the public plugin API (octane.hookimpl)."""
