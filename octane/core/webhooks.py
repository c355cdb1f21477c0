"""Provider events, recorded once by (provider, event id) before they are processed.

A provider delivers an event at least once, in any order: :func:`record_event`
answers None for an event already recorded, so a replay changes nothing. The
plugin that received it then processes it and records the outcome with
:func:`finish_event` (``processed``, ``ignored`` with the reason, or ``failed``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from octane.core.store.engine import is_unique_violation
from octane.core.store.tables import WebhookEvent

__all__ = [
    "LOST",
    "STALE_PROCESSING",
    "apply_recorded",
    "apply_unapplied",
    "claim_event",
    "event_status",
    "finish_event",
    "last_event",
    "record_event",
    "unapplied_events",
]

LOST = timedelta(minutes=1)
"""A recorded event still waiting after this long lost its job: the sweep applies it."""
STALE_PROCESSING = timedelta(minutes=5)
"""A run that claimed an event and did not finish in this long died: another takes over."""


async def record_event(
    *,
    provider: str,
    event_id: str,
    event_type: str,
    payload: str,
    vendor_id: str | None,
    at: datetime,
) -> int | None:
    """Store the event; its row id, or None if this event was recorded before."""
    try:
        rows = await WebhookEvent.insert(
            WebhookEvent(
                vendor=vendor_id,
                provider=provider,
                event_id=event_id,
                event_type=event_type,
                payload=payload,
                received_at=at,
            )
        ).returning(WebhookEvent.id)
    except Exception as exc:
        if is_unique_violation(exc):
            return None
        raise
    return int(rows[0]["id"])


async def finish_event(row_id: int, status: str, *, at: datetime, error: str = "") -> None:
    await WebhookEvent.update(
        {WebhookEvent.status: status, WebhookEvent.error: error, WebhookEvent.processed_at: at}
    ).where(WebhookEvent.id == row_id)


async def event_status(provider: str, event_id: str) -> str | None:
    row = await (
        WebhookEvent.select(WebhookEvent.status)
        .where((WebhookEvent.provider == provider) & (WebhookEvent.event_id == event_id))
        .first()
    )
    return str(row["status"]) if row else None


async def last_event(vendor_id: str, provider: str) -> dict[str, object] | None:
    """The vendor's latest event from ``provider`` (webhook health, for the portal)."""
    row = await (
        WebhookEvent.select(WebhookEvent.event_type, WebhookEvent.status, WebhookEvent.received_at)
        .where((WebhookEvent.vendor == vendor_id) & (WebhookEvent.provider == provider))
        .order_by(WebhookEvent.id, ascending=False)
        .first()
    )
    return dict(row) if row else None


async def claim_event(row_id: int, *, now: datetime) -> dict[str, Any] | None:
    """Take a recorded event to apply it: its vendor and payload, or None when another
    run has it or it is done. A claim older than :data:`STALE_PROCESSING` is taken over."""
    claimed = await (
        WebhookEvent.update({WebhookEvent.status: "processing", WebhookEvent.processed_at: now})
        .where(
            (WebhookEvent.id == row_id)
            & (
                (WebhookEvent.status == "received")
                | (
                    (WebhookEvent.status == "processing")
                    & (WebhookEvent.processed_at < now - STALE_PROCESSING)
                )
            )
        )
        .returning(WebhookEvent.vendor, WebhookEvent.payload)
    )
    return dict(claimed[0]) if claimed else None


async def unapplied_events(provider: str, *, now: datetime, limit: int = 500) -> list[int]:
    """Events of ``provider`` whose job was lost or whose run died, oldest first."""
    rows = await (
        WebhookEvent.select(WebhookEvent.id)
        .where(
            (WebhookEvent.provider == provider)
            & WebhookEvent.vendor.is_not_null()
            & (
                ((WebhookEvent.status == "received") & (WebhookEvent.received_at < now - LOST))
                | (
                    (WebhookEvent.status == "processing")
                    & (WebhookEvent.processed_at < now - STALE_PROCESSING)
                )
            )
        )
        .order_by(WebhookEvent.id)
        .limit(limit)
    )
    return [int(row["id"]) for row in rows]


Applier = Callable[[str, str], Awaitable[str]]
"""A plugin's way to apply one of its events: (vendor id, raw payload) -> outcome."""


async def apply_recorded(row_id: int, apply: Applier, *, now: datetime) -> str:
    """Apply a recorded event once (the run that claims it) and record the outcome; a
    failure is recorded as ``failed`` with the error and raised, for the job to retry."""
    claimed = await claim_event(row_id, now=now)
    if claimed is None:
        return "already handled"
    try:
        outcome = await apply(str(claimed["vendor"]), str(claimed["payload"]))
    except Exception as exc:
        await finish_event(row_id, "failed", at=now, error=f"{type(exc).__name__}: {exc}")
        raise
    await finish_event(row_id, outcome, at=now)
    return outcome


async def apply_unapplied(provider: str, apply: Applier, *, now: datetime) -> int:
    """The sweep: apply every event of ``provider`` whose job was lost; how many."""
    rows = await unapplied_events(provider, now=now)
    for row_id in rows:
        await apply_recorded(row_id, apply, now=now)
    return len(rows)
