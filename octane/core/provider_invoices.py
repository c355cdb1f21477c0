"""When the payment provider invoices: its invoice recorded on ours, and paid through it.

With "invoicing via payment provider" on, Octane still finalizes its own invoice (the
ledger and the usage behind it are Octane's); the provider's plugin then creates the
provider's invoice and reports back here: the provider's id, links and the tax it
computed (Stripe Tax, or Paddle as merchant of record), which become tax lines and
ledger entries on our invoice, so both invoices show the same total.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from octane.core.collection import record_payment
from octane.core.invoices import get_invoice_row
from octane.core.store.engine import write_transaction
from octane.core.store.tables import Invoice, InvoiceLine, LedgerEntry
from octane.core.timeline import record

__all__ = [
    "PAYABLE",
    "record_provider_invoice",
    "record_provider_payment",
    "record_provider_refund",
]

PAYABLE = ("finalized", "delivered", "collecting", "failed", "uncollectible")
"""The states from which a payment the provider reports settles the invoice."""


async def record_provider_invoice(
    vendor_id: str,
    invoice_id: str,
    *,
    provider: str,
    provider_invoice_id: str,
    url: str,
    pdf_url: str,
    tax_lines: Sequence[tuple[str, int]] = (),
    at: datetime,
) -> bool:
    """Copy the provider's invoice onto ours, once: False if it was recorded already.

    ``tax_lines`` are (description, amount) the provider computed; each becomes a tax
    line and a tax ledger entry, and raises the invoice's tax, total and amount due.
    """
    async with write_transaction():
        invoice = await get_invoice_row(vendor_id, invoice_id)
        added = sum(amount for _, amount in tax_lines)
        moved = await (
            Invoice.update(
                {
                    Invoice.provider: provider,
                    Invoice.provider_invoice_id: provider_invoice_id,
                    Invoice.provider_invoice_url: url,
                    Invoice.provider_invoice_pdf: pdf_url,
                    Invoice.tax: invoice["tax"] + added,
                    Invoice.total: invoice["total"] + added,
                    Invoice.amount_due: invoice["amount_due"] + added,
                }
            )
            .where(
                (Invoice.id == invoice_id)
                & Invoice.provider_invoice_id.is_null()
                & (Invoice.total == invoice["total"])
            )
            .returning(Invoice.id)
        )
        if not moved:
            return False
        last = await (
            InvoiceLine.select(InvoiceLine.position)
            .where(InvoiceLine.invoice == invoice_id)
            .order_by(InvoiceLine.position, ascending=False)
            .first()
        )
        position = (last["position"] if last else 0) + 1
        for offset, (description, amount) in enumerate(tax_lines):
            await InvoiceLine.insert(
                InvoiceLine(
                    vendor=vendor_id,
                    invoice=invoice_id,
                    position=position + offset,
                    section="adjustment",
                    kind="tax",
                    description=description,
                    amount=amount,
                    details={"kind": "tax", "computed_by": provider},
                    source=provider,
                )
            )
            await LedgerEntry.insert(
                LedgerEntry(
                    vendor=vendor_id,
                    customer=invoice["customer"],
                    cycle=invoice["cycle"],
                    invoice=invoice_id,
                    kind="tax",
                    amount=amount,
                    currency=invoice["currency"],
                    description=description,
                    source_ref=f"{provider}:{provider_invoice_id}:tax:{offset}",
                    effective_at=at,
                    created_at=at,
                )
            )
        await record(
            vendor_id,
            "invoice.provider_invoiced",
            invoice_id,
            at=at,
            actor=provider,
            provider_invoice_id=provider_invoice_id,
            url=url,
            tax_added=added,
        )
    return True


async def record_provider_payment(
    vendor_id: str, invoice_id: str, *, provider: str, reference: str, at: datetime
) -> bool:
    """The provider says the customer paid the invoice (its hosted page, a bank transfer):
    settle what is due, once. False if the invoice was settled already."""
    async with write_transaction():
        invoice: dict[str, Any] = await get_invoice_row(vendor_id, invoice_id)
        due = invoice["amount_due"] - invoice["amount_paid"]
        paid = await record_payment(
            vendor_id,
            invoice,
            due,
            at=at,
            source_ref=f"{provider}:{reference}",
            description=f"Paid through {provider} ({reference})",
            from_statuses=PAYABLE,
        )
        if paid:
            await record(
                vendor_id,
                "invoice.paid",
                invoice_id,
                at=at,
                actor=provider,
                reference=reference,
                amount=due,
            )
    return paid


async def record_provider_refund(
    vendor_id: str,
    invoice_id: str,
    *,
    provider: str,
    charge: str,
    refunded_total: int,
    at: datetime,
) -> int:
    """The provider refunded (part of) a payment of the invoice: ``refunded_total`` is all
    that was refunded of ``charge`` so far (providers report the running total). The part
    not recorded yet becomes a ``refund`` ledger entry and lowers the amount paid; returns
    it (0 when a repeated or out-of-order event brings nothing new)."""
    source = f"{provider}:refund:{charge}"
    async with write_transaction():
        invoice = await get_invoice_row(vendor_id, invoice_id)
        recorded = await LedgerEntry.select(LedgerEntry.amount).where(
            (LedgerEntry.invoice == invoice_id) & (LedgerEntry.source_ref == source)
        )
        new = refunded_total - sum(int(row["amount"]) for row in recorded)
        if new <= 0:
            return 0
        await LedgerEntry.insert(
            LedgerEntry(
                vendor=vendor_id,
                customer=invoice["customer"],
                cycle=invoice["cycle"],
                invoice=invoice_id,
                kind="refund",
                amount=new,
                currency=invoice["currency"],
                description=f"Refunded through {provider} ({charge})",
                source_ref=source,
                effective_at=at,
                created_at=at,
            )
        )
        await Invoice.update({Invoice.amount_paid: max(invoice["amount_paid"] - new, 0)}).where(
            Invoice.id == invoice_id
        )
        await record(
            vendor_id,
            "payment.refunded",
            invoice_id,
            at=at,
            actor=provider,
            charge=charge,
            amount=new,
        )
    return new
