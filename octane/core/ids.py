"""Identifiers: prefixed random strings (``cus_5x2k...``), readable in logs and URLs."""

from __future__ import annotations

import base64
import secrets

__all__ = ["new_id", "new_secret"]


def _token(nbytes: int) -> str:
    return base64.b32encode(secrets.token_bytes(nbytes)).decode().rstrip("=").lower()


def new_id(prefix: str) -> str:
    """A new id such as ``inv_3jz4k2m8q...`` (120 random bits: collisions are not a concern)."""
    return f"{prefix}_{_token(15)}"


def new_secret(prefix: str) -> str:
    """A new secret token (API keys): 200 random bits from the OS's CSPRNG."""
    return f"{prefix}_{_token(25)}"
