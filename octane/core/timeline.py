"""An invoice's timeline: what happened to it, when, and who did it (the audit log).

Finalization, each delivery and notification, each payment attempt and its outcome,
retries scheduled, manual actions and provider webhooks are recorded here, append-only,
so the portal can show the whole story of an invoice.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from octane.core.store.tables import AuditLog

__all__ = ["SYSTEM_ACTOR", "record", "timeline"]

SYSTEM_ACTOR = "octane"


async def record(
    vendor_id: str,
    action: str,
    target: str,
    *,
    at: datetime,
    actor: str = SYSTEM_ACTOR,
    **details: Any,
) -> None:
    await AuditLog.insert(
        AuditLog(
            vendor=vendor_id, actor=actor, action=action, target=target, details=details, at=at
        )
    )


async def timeline(vendor_id: str, target: str) -> list[dict[str, Any]]:
    rows = await (
        AuditLog.select(AuditLog.action, AuditLog.actor, AuditLog.details, AuditLog.at)
        .where((AuditLog.vendor == vendor_id) & (AuditLog.target == target))
        .order_by(AuditLog.at)
        .order_by(AuditLog.id)
        .output(load_json=True)
    )
    return [dict(row) for row in rows]
