"""Prepaid credit: which grants pay how much of an invoice. Pure functions, no I/O.

Rules: only grants in the invoice's currency that have not expired at the end of the
billed period and have something left are used; they are drawn soonest-expiring
first (grants that never expire last), then oldest first; a grant may be partly
used; credit never takes the total below zero, and what is not used carries over.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

__all__ = ["Grant", "draw_credits", "usable"]


@dataclass(frozen=True)
class Grant:
    id: str
    remaining: int
    """Minor units still available (the grant minus what invoices already consumed)."""
    created_at: datetime
    expires_at: datetime | None = None


def usable(grant: Grant, at: datetime) -> bool:
    return grant.remaining > 0 and (grant.expires_at is None or grant.expires_at > at)


def draw_credits(grants: Sequence[Grant], total: int, *, at: datetime) -> list[tuple[Grant, int]]:
    """The grants to draw on for an invoice of ``total`` (minor units), with amounts."""
    order = sorted(
        (g for g in grants if usable(g, at)),
        key=lambda g: (g.expires_at is None, g.expires_at or g.created_at, g.created_at, g.id),
    )
    drawn: list[tuple[Grant, int]] = []
    left = max(total, 0)
    for grant in order:
        if left == 0:
            break
        amount = min(grant.remaining, left)
        drawn.append((grant, amount))
        left -= amount
    return drawn
