"""What a person does to an invoice: mark it paid out of band, or void it with a reason.

Both are guarded transitions in one transaction with their ledger entries. Voiding
reverses the invoice's entries (credit drawn is given back to its grant, so it can be
used again); the invoice itself is never edited beyond its status. The cycle stays
invoiced: a replacement is issued as a new invoice, never by rewriting this one.
"""

from __future__ import annotations

from typing import Any

from octane.core.clock import Clock
from octane.core.collection import record_payment
from octane.core.errors import StateError, ValidationError
from octane.core.invoices import get_invoice_row
from octane.core.store.engine import write_transaction
from octane.core.store.tables import Invoice, LedgerEntry
from octane.core.timeline import record

__all__ = ["mark_paid", "void_invoice"]

_UNPAID = ("finalized", "delivered", "failed", "uncollectible")


def _refuse(invoice: dict[str, Any], action: str) -> StateError:
    label = invoice["number"] or invoice["id"]
    if invoice["status"] == "collecting":
        return StateError(
            f"A payment of invoice {label} is in progress; wait for its outcome before you "
            f"{action} it.",
            field="id",
            code="payment_in_progress",
        )
    return StateError(
        f"Invoice {label} is {invoice['status']}; only an unpaid finalized invoice can be "
        f"{'marked paid' if action == 'mark as paid' else 'voided'}.",
        field="id",
        code="invalid_invoice_state",
    )


async def mark_paid(
    vendor_id: str, invoice_id: str, *, reference: str, actor: str, clock: Clock
) -> dict[str, Any]:
    """Record a payment received outside Octane (a bank transfer...); stops retries."""
    if not isinstance(reference, str) or not 1 <= len(reference.strip()) <= 200:
        raise ValidationError(
            "Say how it was paid (1 to 200 characters, e.g. a bank transfer reference).",
            field="reference",
        )
    invoice = await get_invoice_row(vendor_id, invoice_id)
    if invoice["status"] not in _UNPAID:
        raise _refuse(invoice, "mark as paid")
    now = clock.now()
    async with write_transaction():
        paid = await record_payment(
            vendor_id,
            invoice,
            invoice["amount_due"] - invoice["amount_paid"],
            at=now,
            source_ref=f"manual:{invoice_id}",
            description=f"Paid outside Octane: {reference.strip()}",
            from_statuses=(invoice["status"],),
        )
    if not paid:
        raise _refuse(await get_invoice_row(vendor_id, invoice_id), "mark as paid")
    await record(
        vendor_id,
        "invoice.marked_paid",
        invoice_id,
        at=now,
        actor=actor,
        reference=reference.strip(),
    )
    return await get_invoice_row(vendor_id, invoice_id)


async def void_invoice(
    vendor_id: str, invoice_id: str, *, reason: str, actor: str, clock: Clock
) -> dict[str, Any]:
    if not isinstance(reason, str) or not 1 <= len(reason.strip()) <= 500:
        raise ValidationError("Give a reason of 1 to 500 characters.", field="reason")
    invoice = await get_invoice_row(vendor_id, invoice_id)
    if invoice["status"] == "draft":
        raise StateError(
            "A draft cannot be voided: correct its usage during the grace period, or finalize "
            "it and then void it.",
            field="id",
            code="invalid_invoice_state",
        )
    if invoice["status"] not in _UNPAID:
        raise _refuse(invoice, "void")
    now = clock.now()
    async with write_transaction():
        moved = await (
            Invoice.update(
                {
                    Invoice.status: "void",
                    Invoice.voided_at: now,
                    Invoice.void_reason: reason.strip(),
                    Invoice.next_payment_at: None,
                    Invoice.delivery_next_at: None,
                }
            )
            .where((Invoice.id == invoice_id) & (Invoice.status == invoice["status"]))
            .returning(Invoice.id)
        )
        if not moved:
            raise _refuse(await get_invoice_row(vendor_id, invoice_id), "void")
        entries = await LedgerEntry.select().where(
            (LedgerEntry.invoice == invoice_id)
            & LedgerEntry.kind.not_in(["accrual", "payment", "refund", "reversal"])
        )
        reversals = [
            LedgerEntry(
                vendor=vendor_id,
                customer=entry["customer"],
                cycle=entry["cycle"],
                invoice=invoice_id,
                # Credit drawn goes back to its grant (same kind and grant reference).
                kind="credit" if entry["kind"] == "credit" else "reversal",
                amount=-entry["amount"],
                currency=entry["currency"],
                description=f"Void: {entry['description']}",
                source_ref=entry["source_ref"]
                if entry["kind"] == "credit"
                else f"void:{entry['id']}",
                effective_at=now,
                created_at=now,
            )
            for entry in entries
        ]
        if reversals:
            await LedgerEntry.insert(*reversals)
    await record(
        vendor_id, "invoice.voided", invoice_id, at=now, actor=actor, reason=reason.strip()
    )
    return await get_invoice_row(vendor_id, invoice_id)
