"""The public JSON API, version 1 (``/api/v1``)."""
