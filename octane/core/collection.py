"""Collecting payment: attempts, their outcomes, retries on the schedule, reconciliation.

The order that keeps a charge single (django-silver's and Kill Bill's lesson):

1. In one transaction, the invoice moves to ``collecting`` with a guarded update and a
   ``pending`` attempt is stored with its idempotency key ``<invoice id>:<number>``.
   Only one run can win this step; the unique index on (invoice, attempt number) backs it.
2. The one plugin owning the provider is called with the attempt.
3. Its answer is applied with guarded updates: ``succeeded`` pays the invoice (and the
   ledger records the payment); ``failed`` schedules the next attempt from the retry
   schedule, or makes the invoice ``uncollectible`` after the last; ``pending`` and
   ``unknown`` (timeout, ambiguous answer, a plugin exception) are *not retried*: the
   attempt is reconciled later by asking the provider about this very attempt.

A worker that dies between 1 and 3 leaves a ``pending`` attempt whose reconcile time
passes; reconciliation then finds out whether the provider charged.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from octane.core.clock import Clock
from octane.core.contracts import (
    FAILURE_CODES,
    FailureCode,
    Notification,
    NotificationKind,
    PaymentResult,
    PaymentStatus,
)
from octane.core.delivery import send_notification, settings_for
from octane.core.errors import ConflictError, OctaneError, StateError
from octane.core.ids import new_id
from octane.core.invoices import get_invoice_row
from octane.core.plugins import PluginHost
from octane.core.store.engine import write_transaction
from octane.core.store.tables import Invoice, LedgerEntry, PaymentAttempt
from octane.core.timeline import record
from octane.core.views import attempt_view, customer_view_by_id, invoice_view, vendor_view

logger = logging.getLogger(__name__)

__all__ = [
    "COLLECTABLE",
    "RECONCILE_AFTER",
    "apply_result",
    "collect",
    "reconcile",
    "record_payment",
]

RECONCILE_AFTER = timedelta(minutes=5)
"""How long a pending or unknown attempt (or one whose worker died) waits before the
provider is asked about it."""
COLLECTABLE = ("finalized", "delivered", "failed")


async def collect(
    plugins: PluginHost,
    vendor_id: str,
    invoice_id: str,
    *,
    clock: Clock,
    manual: bool = False,
    actor: str = "octane",
) -> dict[str, Any] | None:
    """Charge the invoice if a charge is due (or ``manual``: "retry payment" now).

    Returns the attempt made, or None when nothing was due or another run got there.
    """
    invoice = await get_invoice_row(vendor_id, invoice_id)
    now = clock.now()
    allowed = (*COLLECTABLE, "uncollectible") if manual else COLLECTABLE
    if invoice["status"] not in allowed:
        if manual:
            raise StateError(
                f"The invoice {invoice['number'] or invoice_id} is {invoice['status']}; only "
                "finalized, delivered, failed or uncollectible invoices can be charged.",
                field="id",
                code="invoice_not_collectable",
            )
        return None
    if not manual and (invoice["next_payment_at"] is None or invoice["next_payment_at"] > now):
        return None
    due = invoice["amount_due"] - invoice["amount_paid"]
    customer, customer_row = await customer_view_by_id(invoice["customer"])
    settings = await settings_for(vendor_id, customer_row)
    provider = settings.payment_provider
    if due <= 0 or provider is None or (not manual and not settings.auto_charge):
        if manual:
            raise StateError(
                "There is no payment provider configured for this customer."
                if provider is None
                else "Nothing is due on this invoice.",
                field="payment_provider" if provider is None else "id",
                code="not_chargeable",
            )
        await Invoice.update({Invoice.next_payment_at: None}).where(
            (Invoice.id == invoice_id) & (Invoice.next_payment_at == invoice["next_payment_at"])
        )
        await record(
            vendor_id,
            "payment.skipped",
            invoice_id,
            at=now,
            reason="auto-charge is off" if provider else "no payment provider configured",
        )
        return None
    async with write_transaction():
        query = Invoice.update({Invoice.status: "collecting", Invoice.next_payment_at: None}).where(
            (Invoice.id == invoice_id) & (Invoice.status == invoice["status"])
        )
        if not manual:
            query = query.where(Invoice.next_payment_at == invoice["next_payment_at"])
        if not await query.returning(Invoice.id):
            return None
        number = 1 + await PaymentAttempt.count().where(PaymentAttempt.invoice == invoice_id)
        attempt = PaymentAttempt(
            id=new_id("pay"),
            vendor=vendor_id,
            invoice=invoice_id,
            attempt_number=number,
            provider=provider,
            status="pending",
            amount=due,
            currency=invoice["currency"],
            idempotency_key=f"{invoice_id}:{number}",
            created_at=now,
            next_retry_at=now + RECONCILE_AFTER,
        )
        await PaymentAttempt.insert(attempt)
    await record(
        vendor_id,
        "payment.attempted",
        invoice_id,
        at=now,
        actor=actor,
        attempt=number,
        provider=provider,
        amount=due,
        manual=manual,
    )
    row = attempt.to_dict()
    vendor = await vendor_view(vendor_id)
    view = await invoice_view({**invoice, "status": "collecting"}, vendor, customer)
    try:
        owner = plugins.provider_owner(provider)
        result = await plugins.call_owner(
            owner,
            "collect_payment",
            expect=PaymentResult,
            invoice=view,
            provider=provider,
            attempt=attempt_view(row),
            vendor=vendor,
            customer=customer,
        )
    except Exception as exc:  # lost or ambiguous: never a blind retry
        result = _unknown_after(exc, "collect_payment", provider)
    await apply_result(plugins, vendor_id, row["id"], result, clock=clock)
    return row


def _unknown_after(exc: Exception, hook: str, provider: str) -> PaymentResult:
    """A provider call that raised may still have moved money: the outcome is unknown, and
    the reconciliation job asks the provider later. The error (which names the plugin)
    is kept on the attempt and logged with its traceback for the operator."""
    logger.warning("%s for provider %r raised: %s", hook, provider, exc, exc_info=exc)
    message = str(exc) if isinstance(exc, OctaneError) else f"{type(exc).__name__}: {exc}"
    return PaymentResult(status=PaymentStatus.UNKNOWN, failure_message=message)


async def reconcile(
    plugins: PluginHost, vendor_id: str, attempt_id: str, *, clock: Clock
) -> str | None:
    """Ask the provider what happened to a pending or unknown attempt; apply the answer."""
    attempt = (
        await PaymentAttempt.select()
        .where((PaymentAttempt.id == attempt_id) & (PaymentAttempt.vendor == vendor_id))
        .first()
    )
    now = clock.now()
    if (
        attempt is None
        or attempt["status"] not in ("pending", "unknown")
        or attempt["next_retry_at"] is None
        or attempt["next_retry_at"] > now
    ):
        return None
    claimed = await (
        PaymentAttempt.update({PaymentAttempt.next_retry_at: now + RECONCILE_AFTER})
        .where(
            (PaymentAttempt.id == attempt_id)
            & (PaymentAttempt.next_retry_at == attempt["next_retry_at"])
        )
        .returning(PaymentAttempt.id)
    )
    if not claimed:
        return None
    invoice = await get_invoice_row(vendor_id, attempt["invoice"])
    customer, _ = await customer_view_by_id(invoice["customer"])
    vendor = await vendor_view(vendor_id)
    try:
        result = await plugins.call_owner(
            plugins.provider_owner(attempt["provider"]),
            "reconcile_payment",
            expect=PaymentResult,
            provider=attempt["provider"],
            attempt=attempt_view(attempt),
            vendor=vendor,
            customer=customer,
        )
    except Exception as exc:
        result = _unknown_after(exc, "reconcile_payment", attempt["provider"])
    await record(
        vendor_id,
        "payment.reconciled",
        attempt["invoice"],
        at=now,
        attempt=attempt["attempt_number"],
        outcome=result.status.value,
    )
    return await apply_result(plugins, vendor_id, attempt_id, result, clock=clock)


async def record_payment(
    vendor_id: str,
    invoice: dict[str, Any],
    amount: int,
    *,
    at: datetime,
    source_ref: str,
    description: str,
    from_statuses: tuple[str, ...],
) -> bool:
    """Mark the invoice paid and write the payment to the ledger (inside a transaction)."""
    moved = await (
        Invoice.update(
            {
                Invoice.status: "paid",
                Invoice.amount_paid: invoice["amount_paid"] + amount,
                Invoice.paid_at: at,
                Invoice.next_payment_at: None,
            }
        )
        .where((Invoice.id == invoice["id"]) & Invoice.status.is_in(list(from_statuses)))
        .returning(Invoice.id)
    )
    if not moved:
        return False
    await LedgerEntry.insert(
        LedgerEntry(
            vendor=vendor_id,
            customer=invoice["customer"],
            cycle=invoice["cycle"],
            invoice=invoice["id"],
            kind="payment",
            amount=-amount,
            currency=invoice["currency"],
            description=description,
            source_ref=source_ref,
            effective_at=at,
            created_at=at,
        )
    )
    return True


async def apply_result(
    plugins: PluginHost,
    vendor_id: str,
    attempt_id: str,
    result: PaymentResult,
    *,
    clock: Clock,
) -> str | None:
    """Apply a provider's answer about an attempt (from the call, a reconciliation or a
    webhook). Guarded: an answer already applied changes nothing. Returns the attempt's
    new status, or None if nothing changed."""
    now = clock.now()
    attempt = await PaymentAttempt.select().where(PaymentAttempt.id == attempt_id).first()
    if attempt is None:
        raise ConflictError(f"There is no payment attempt '{attempt_id}'.", field="attempt")
    invoice = await get_invoice_row(vendor_id, attempt["invoice"])
    open_states = ["pending", "unknown"]
    notification: Notification | None = None
    customer, customer_row = await customer_view_by_id(invoice["customer"])
    if result.status is PaymentStatus.SUCCEEDED:
        async with write_transaction():
            moved = await (
                PaymentAttempt.update(
                    {
                        PaymentAttempt.status: "succeeded",
                        PaymentAttempt.provider_reference: result.provider_reference,
                        PaymentAttempt.completed_at: now,
                        PaymentAttempt.next_retry_at: None,
                    }
                )
                .where(
                    (PaymentAttempt.id == attempt_id)
                    & PaymentAttempt.status.is_in([*open_states, "failed"])
                )
                .returning(PaymentAttempt.id)
            )
            if not moved:
                return None
            paid = await record_payment(
                vendor_id,
                invoice,
                attempt["amount"],
                at=now,
                source_ref=attempt_id,
                description=f"Payment (attempt {attempt['attempt_number']}, {attempt['provider']})",
                from_statuses=("finalized", "delivered", "collecting", "failed", "uncollectible"),
            )
        await record(
            vendor_id,
            "payment.succeeded",
            invoice["id"],
            at=now,
            attempt=attempt["attempt_number"],
            reference=result.provider_reference,
            invoice_paid=paid,
        )
        if paid:
            notification = await _notification(
                vendor_id, invoice, customer, NotificationKind.PAYMENT_RECEIVED, attempt
            )
        status = "succeeded"
    elif result.status is PaymentStatus.FAILED:
        code = result.failure_code or FailureCode.OTHER
        settings = await settings_for(vendor_id, customer_row)
        async with write_transaction():
            moved = await (
                PaymentAttempt.update(
                    {
                        PaymentAttempt.status: "failed",
                        PaymentAttempt.failure_code: code.value,
                        PaymentAttempt.failure_message: result.failure_message
                        or FAILURE_CODES[code][0],
                        PaymentAttempt.provider_reference: result.provider_reference,
                        PaymentAttempt.completed_at: now,
                        PaymentAttempt.next_retry_at: None,
                    }
                )
                .where((PaymentAttempt.id == attempt_id) & PaymentAttempt.status.is_in(open_states))
                .returning(PaymentAttempt.id)
            )
            if not moved:
                return None
            failures = await PaymentAttempt.count().where(
                (PaymentAttempt.invoice == invoice["id"]) & (PaymentAttempt.status == "failed")
            )
            schedule = settings.payment_retry_schedule
            next_at = now + schedule[failures - 1] if failures <= len(schedule) else None
            await Invoice.update(
                {
                    Invoice.status: "failed" if next_at else "uncollectible",
                    Invoice.next_payment_at: next_at,
                }
            ).where((Invoice.id == invoice["id"]) & (Invoice.status == "collecting"))
        await record(
            vendor_id,
            "payment.failed",
            invoice["id"],
            at=now,
            attempt=attempt["attempt_number"],
            failure_code=code.value,
            message=result.failure_message or FAILURE_CODES[code][0],
            next_attempt_at=next_at.isoformat() if next_at else None,
        )
        if next_at is None:
            await record(vendor_id, "invoice.uncollectible", invoice["id"], at=now)
        notification = await _notification(
            vendor_id,
            invoice,
            customer,
            NotificationKind.PAYMENT_FAILED if next_at else NotificationKind.PAYMENT_FINAL_FAILURE,
            attempt,
            code=code,
            next_at=next_at,
        )
        status = "failed"
    else:
        status = result.status.value  # pending or unknown: reconciled later
        moved = await (
            PaymentAttempt.update(
                {
                    PaymentAttempt.status: status,
                    PaymentAttempt.provider_reference: result.provider_reference
                    or attempt["provider_reference"],
                    PaymentAttempt.failure_message: result.failure_message or "",
                }
            )
            .where((PaymentAttempt.id == attempt_id) & PaymentAttempt.status.is_in(open_states))
            .returning(PaymentAttempt.id)
        )
        if not moved:
            return None
        await record(
            vendor_id,
            f"payment.{status}",
            invoice["id"],
            at=now,
            attempt=attempt["attempt_number"],
            message=result.failure_message,
            reconcile_at=attempt["next_retry_at"].isoformat() if attempt["next_retry_at"] else None,
        )
    if notification is not None:
        await send_notification(plugins, vendor_id, notification, clock=clock)
    return status


async def _notification(
    vendor_id: str,
    invoice: dict[str, Any],
    customer: Any,
    kind: NotificationKind,
    attempt: dict[str, Any],
    *,
    code: FailureCode | None = None,
    next_at: datetime | None = None,
) -> Notification:
    fresh = await get_invoice_row(vendor_id, invoice["id"])
    view = await invoice_view(fresh, await vendor_view(vendor_id), customer)
    message, remedy = ("", "")
    if code is not None:
        message, remedy, _ = FAILURE_CODES[code]
    return Notification(
        id=f"{kind.value}:{attempt['id']}",
        kind=kind,
        invoice=view,
        attempt=attempt_view(attempt),
        failure_code=code,
        message=message,
        remedy=remedy,
        next_attempt_at=next_at,
    )
