"""The record of messages channels send, so a re-run never sends one twice.

A channel calls :func:`begin_message` before it hands a message to the outside
world and :func:`mark_sent` once the other side accepted it. ``begin_message``
answers False when that message id was already sent: the channel then reports
"delivered" again without sending. A message left ``sending`` (its sender died, or
the server refused it) is sent again under the same message id, so the receiving
side can still recognise a duplicate in the narrow window of a crash.
"""

from __future__ import annotations

from datetime import datetime

from octane.core.store.engine import is_unique_violation
from octane.core.store.tables import OutboundMessage

__all__ = ["begin_message", "mark_sent", "sent_messages"]


async def begin_message(
    *,
    vendor_id: str,
    invoice_id: str | None,
    channel: str,
    kind: str,
    message_id: str,
    recipient: str,
    at: datetime,
) -> bool:
    """Record the message as being sent; False if it was sent already."""
    try:
        await OutboundMessage.insert(
            OutboundMessage(
                vendor=vendor_id,
                invoice=invoice_id,
                channel=channel,
                kind=kind,
                message_id=message_id,
                recipient=recipient,
                status="sending",
                created_at=at,
            )
        )
        return True
    except Exception as exc:
        if not is_unique_violation(exc):
            raise
    row = await (
        OutboundMessage.select(OutboundMessage.status)
        .where(OutboundMessage.message_id == message_id)
        .first()
    )
    return row is None or row["status"] != "sent"


async def mark_sent(message_id: str, *, at: datetime) -> None:
    await OutboundMessage.update(
        {OutboundMessage.status: "sent", OutboundMessage.sent_at: at}
    ).where(OutboundMessage.message_id == message_id)


async def sent_messages(vendor_id: str, invoice_id: str) -> list[dict[str, object]]:
    """The messages sent about an invoice, oldest first."""
    rows = await (
        OutboundMessage.select()
        .where((OutboundMessage.vendor == vendor_id) & (OutboundMessage.invoice == invoice_id))
        .order_by(OutboundMessage.id)
    )
    return [dict(row) for row in rows]
