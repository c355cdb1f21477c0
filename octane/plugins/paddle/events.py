"""Paddle's notifications: verified with the vendor's secret, recorded once, then applied.

Each vendor has its own notification destination at Paddle, pointing at
``/webhooks/paddle/{vendor id}`` and signed with that destination's secret. The
``Paddle-Signature`` header (``ts=<unix>;h1=<hex>``, several ``h1`` while a secret is
rotated) is checked on the raw body in constant time, with 5 s of tolerance on the
timestamp as Paddle's SDKs do; a bad or stale signature is a 400 and nothing is
recorded. A notification for an unknown or disconnected vendor is acknowledged and
ignored (it cannot be verified, so it is not stored either). Each ``event_id`` is
recorded once: a replay is acknowledged and changes nothing, and outcomes are applied
with guarded updates, so events arriving out of order settle an invoice once.

Applied: ``transaction.paid`` / ``transaction.completed`` settle our invoice (a Paddle
invoice paid, or a subscription charge succeeding), ``transaction.payment_failed`` /
``transaction.past_due`` fail the charge attempt they carry. Other types are recorded
as ignored.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from datetime import datetime
from typing import Any

from octane.core.clocks import SYSTEM_CLOCK, vendor_clock
from octane.core.collection import apply_result
from octane.core.errors import BadRequestError, ConflictError, PluginError
from octane.core.jobs import enqueue_unique
from octane.core.plugins import PluginHost
from octane.core.provider_invoices import record_provider_payment, record_provider_refund
from octane.core.store.tables import Customer, Invoice, PaymentAttempt
from octane.core.timeline import record
from octane.core.webhooks import apply_recorded, apply_unapplied, record_event
from octane.plugins.paddle.client import PROVIDER
from octane.plugins.paddle.connection import load_connection
from octane.plugins.paddle.payments import result_from_transaction

__all__ = [
    "PROCESS_JOB",
    "TOLERANCE_SECONDS",
    "process_event_job",
    "process_pending_job",
    "process_recorded",
    "receive",
    "verify",
]

log = logging.getLogger("octane.paddle")
TOLERANCE_SECONDS = 5
PROCESS_JOB = "paddle:process_event"


def verify(payload: bytes, header: str, secret: str, *, now: datetime) -> None:
    """Raise BadRequestError unless ``header`` signs ``payload`` with ``secret`` recently."""
    parts: dict[str, list[str]] = {}
    for piece in header.split(";"):
        key, _, value = piece.strip().partition("=")
        parts.setdefault(key, []).append(value)
    try:
        ts = int(parts["ts"][0])
        signatures = parts["h1"]
    except (KeyError, ValueError):
        raise BadRequestError(
            "The Paddle-Signature header is missing or malformed (ts=...;h1=...).",
            code="invalid_signature",
            field="Paddle-Signature",
        ) from None
    expected = hmac.new(secret.encode(), f"{ts}:".encode() + payload, hashlib.sha256).hexdigest()
    if not any(hmac.compare_digest(expected, candidate) for candidate in signatures):
        raise BadRequestError(
            "The Paddle-Signature header does not verify with this vendor's webhook secret.",
            code="invalid_signature",
            field="Paddle-Signature",
        )
    if abs(now.timestamp() - ts) > TOLERANCE_SECONDS:
        raise BadRequestError(
            f"The Paddle-Signature timestamp is more than {TOLERANCE_SECONDS} s away from now "
            "(a replayed or delayed notification).",
            code="stale_signature",
            field="Paddle-Signature",
        )


async def receive(
    plugins: PluginHost, vendor_id: str, payload: bytes, signature: str, queue: Any = None
) -> dict[str, Any]:
    """Verify and record one notification, then hand it to a job (``queue``) or, without
    a queue, apply it now; what happened, for the response."""
    context = plugins.context(PROVIDER)
    try:
        connection = await load_connection(context, vendor_id)
    except (ConflictError, PluginError):
        log.warning("Paddle notification for unknown vendor %s ignored", vendor_id)
        return {"received": True, "ignored": "unknown vendor"}
    now = SYSTEM_CLOCK.now()
    verify(payload, signature, connection.webhook_secret, now=now)
    try:
        event = json.loads(payload)
        event_id, event_type = str(event["event_id"]), str(event["event_type"])
        if not isinstance(event["data"], dict):
            raise TypeError
    except (ValueError, KeyError, TypeError):
        raise BadRequestError("The body is not a Paddle notification.", field="body") from None
    row = await record_event(
        provider=PROVIDER,
        event_id=event_id,
        event_type=event_type,
        payload=payload.decode(),
        vendor_id=vendor_id,
        at=now,
    )
    if row is None:
        return {"received": True, "duplicate": True}
    if queue is not None:
        await enqueue_unique(queue, PROCESS_JOB, key=f"paddle-event-{row}", row_id=row)
        return {"received": True, "queued": True}
    return {"received": True, "status": await process_recorded(plugins, row)}


def _applier(plugins: PluginHost) -> Any:
    async def apply(vendor_id: str, payload: str) -> str:
        event = json.loads(payload)
        return await _apply(plugins, vendor_id, str(event["event_type"]), event["data"])

    return apply


async def process_recorded(plugins: PluginHost, row_id: int) -> str:
    """Apply a recorded notification, once: the run that claims it does it."""
    return await apply_recorded(row_id, _applier(plugins), now=SYSTEM_CLOCK.now())


async def process_event_job(ctx: dict[str, Any], *, row_id: int) -> str:
    """The job behind ``POST /webhooks/paddle/{vendor}``."""
    return await process_recorded(ctx["octane"].plugins, row_id)


async def process_pending_job(ctx: dict[str, Any]) -> int:
    """Every minute: apply notifications whose job was lost, so none is left unapplied."""
    return await apply_unapplied(PROVIDER, _applier(ctx["octane"].plugins), now=SYSTEM_CLOCK.now())


def _custom(data: dict[str, Any], key: str) -> str | None:
    value = (data.get("custom_data") or {}).get(key)
    if value:
        return str(value)
    for item in data.get("items") or []:
        value = ((item.get("price") or {}).get("custom_data") or {}).get(key)
        if value:
            return str(value)
    return None


REFUNDING = ("refund", "chargeback", "chargeback_reverse")
"""Adjustment actions that give money back to the customer (a reversed chargeback
gives it back to the vendor: recorded with the opposite sign)."""


async def _invoice_of_transaction(vendor_id: str, transaction_id: str) -> str | None:
    """Our invoice behind a Paddle transaction: the one Paddle invoiced, or the one a
    subscription charge paid."""
    invoiced = await (
        Invoice.select(Invoice.id)
        .where((Invoice.vendor == vendor_id) & (Invoice.provider_invoice_id == transaction_id))
        .first()
    )
    if invoiced is not None:
        return str(invoiced["id"])
    charged = await (
        PaymentAttempt.select(PaymentAttempt.invoice)
        .where(
            (PaymentAttempt.vendor == vendor_id)
            & (PaymentAttempt.provider_reference == transaction_id)
        )
        .first()
    )
    return str(charged["invoice"]) if charged is not None else None


async def _adjustment(vendor_id: str, data: dict[str, Any]) -> str:
    """A refund or chargeback Paddle approved: a ``refund`` ledger entry on our invoice,
    once per adjustment (a credit to the customer's Paddle balance changes nothing here)."""
    if data.get("action") not in REFUNDING or data.get("status") != "approved":
        return "ignored"
    invoice_id = await _invoice_of_transaction(vendor_id, str(data.get("transaction_id")))
    if invoice_id is None:
        return "ignored"
    total = int(str((data.get("totals") or {}).get("total", "0")))
    if data["action"] == "chargeback_reverse":
        total = -total
    clock = await vendor_clock(vendor_id)
    await record_provider_refund(
        vendor_id,
        invoice_id,
        provider=PROVIDER,
        charge=str(data.get("id")),
        refunded_total=total,
        at=clock.now(),
    )
    return "processed"


async def _noted(vendor_id: str, event_type: str, target: str, data: dict[str, Any]) -> str:
    """An event a person should see (a subscription past due or canceled, an invoice
    transaction billed or canceled in Paddle): recorded on the timeline."""
    clock = await vendor_clock(vendor_id)
    await record(
        vendor_id,
        f"paddle.{event_type}",
        target,
        at=clock.now(),
        actor=PROVIDER,
        paddle_id=str(data.get("id")),
        status=str(data.get("status")),
    )
    return "processed"


async def _apply(plugins: PluginHost, vendor_id: str, event_type: str, data: Any) -> str:
    if not isinstance(data, dict):
        return "ignored"
    if event_type in ("adjustment.created", "adjustment.updated"):
        return await _adjustment(vendor_id, data)
    if event_type in ("subscription.past_due", "subscription.canceled"):
        customers = await (
            Customer.select(Customer.id, Customer.provider_ids, Customer.payment_config)
            .where(Customer.vendor == vendor_id)
            .output(load_json=True)
        )
        owner = next(
            (
                c["id"]
                for c in customers
                if data.get("id")
                in (
                    (c["provider_ids"] or {}).get("paddle_subscription"),
                    ((c["payment_config"] or {}).get(PROVIDER) or {}).get("subscription_id"),
                )
            ),
            None,
        )
        return "ignored" if owner is None else await _noted(vendor_id, event_type, owner, data)
    if not event_type.startswith("transaction."):
        return "ignored"
    attempt_id = _custom(data, "octane_attempt")
    if attempt_id:  # a subscription charge Octane made
        attempt = await (
            PaymentAttempt.select(PaymentAttempt.id)
            .where((PaymentAttempt.id == attempt_id) & (PaymentAttempt.vendor == vendor_id))
            .first()
        )
        if attempt is None or event_type not in (
            "transaction.paid",
            "transaction.completed",
            "transaction.payment_failed",
            "transaction.past_due",
        ):
            return "ignored"
        result = result_from_transaction(data)
        if event_type == "transaction.payment_failed" and result.status.value == "pending":
            return "ignored"  # a failed try Paddle retries itself; wait for the outcome
        clock = await vendor_clock(vendor_id)
        await apply_result(plugins, vendor_id, attempt_id, result, clock=clock)
        return "processed"
    invoice_id = _custom(data, "octane_invoice")
    if invoice_id and event_type in ("transaction.billed", "transaction.canceled"):
        if await _invoice_of_transaction(vendor_id, str(data.get("id"))) != invoice_id:
            return "ignored"
        return await _noted(vendor_id, event_type, invoice_id, data)
    if not invoice_id or event_type not in ("transaction.paid", "transaction.completed"):
        return "ignored"
    owned = await (
        Invoice.select(Invoice.id)
        .where((Invoice.id == invoice_id) & (Invoice.vendor == vendor_id))
        .first()
    )
    if owned is None:
        return "ignored"
    clock = await vendor_clock(vendor_id)
    await record_provider_payment(
        vendor_id, invoice_id, provider=PROVIDER, reference=str(data.get("id")), at=clock.now()
    )
    return "processed"
