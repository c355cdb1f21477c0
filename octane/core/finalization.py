"""The two transitions that create money records: closing a cycle and finalizing its invoice.

``close_cycle``: OPEN -> GRACE once the period has ended. The invoice grace period
starts; an invoice row in ``draft`` is created so that the draft has an id (it is
shown, recomputed live, and can be finalized early).

``finalize_invoice``: DRAFT -> FINALIZED (and the cycle GRACE -> INVOICED) in one
transaction: the guarded update of the cycle comes first, so on PostgreSQL the
cycle row is locked before usage is read, and ingestion (which reads the cycle's
state in its own write) cannot slip a measurement in between. Then the draft is
computed through the hooks, a gapless number is taken, and the invoice, its lines
and its ledger entries are written. A second call, a retried job or a racing
"finalize now" finds the cycle no longer in grace and returns the stored invoice:
nothing is ever finalized twice.
"""

from __future__ import annotations

from typing import Any

from octane.core.clock import Clock
from octane.core.contracts import DraftInvoice
from octane.core.errors import NotFoundError, StateError
from octane.core.ids import new_id
from octane.core.invoice_numbers import DEFAULT_FORMAT, take_number
from octane.core.invoice_settings import effective_settings
from octane.core.ledger import accrue, post_invoice
from octane.core.plugins import PluginHost
from octane.core.store.engine import is_postgres, write_transaction
from octane.core.store.tables import (
    BillingCycle,
    Customer,
    Invoice,
    InvoiceLine,
    PricePlan,
    Subscription,
    Vendor,
)
from octane.core.timeline import record
from octane.core.usage import draft_for_period

__all__ = ["close_cycle", "finalize_invoice", "invoice_lines"]


async def _row(table: Any, **where: Any) -> dict[str, Any]:
    query = table.select().output(load_json=True)
    for column, value in where.items():
        query = query.where(getattr(table, column) == value)
    row = await query.first()
    if row is None:
        raise NotFoundError(f"There is no {table._meta.tablename} {where}.")
    return dict(row)


async def close_cycle(vendor_id: str, cycle_id: str, *, clock: Clock) -> str | None:
    """Move an ended cycle into its invoice grace period; return the draft invoice's id,
    or None if the cycle had already left OPEN."""
    cycle = await _row(BillingCycle, id=cycle_id, vendor=vendor_id)
    now = clock.now()
    if cycle["period_end"] > now:
        raise StateError(
            f"The cycle {cycle_id} runs until {cycle['period_end'].isoformat()}.",
            field="cycle",
            code="cycle_not_ended",
        )
    vendor = await _row(Vendor, id=vendor_id)
    customer = await _row(Customer, id=cycle["customer"])
    subscription = await _row(Subscription, id=cycle["subscription"])
    plan = await _row(PricePlan, id=subscription["plan"])
    settings = effective_settings(vendor["invoice_settings"], customer["invoice_settings"])
    invoice_id = new_id("inv")
    async with write_transaction():
        moved = await (
            BillingCycle.update(
                {
                    BillingCycle.state: "grace",
                    BillingCycle.grace_ends_at: cycle["period_end"] + settings.invoice_grace_period,
                }
            )
            .where((BillingCycle.id == cycle_id) & (BillingCycle.state == "open"))
            .returning(BillingCycle.id)
        )
        if not moved:
            return None
        await Invoice.insert(
            Invoice(
                id=invoice_id,
                vendor=vendor_id,
                customer=cycle["customer"],
                subscription=cycle["subscription"],
                cycle=cycle_id,
                status="draft",
                currency=plan["currency"],
                period_start=cycle["period_start"],
                period_end=cycle["period_end"],
                created_at=now,
            )
        )
    return invoice_id


def invoice_lines(vendor_id: str, invoice_id: str, draft: DraftInvoice) -> list[InvoiceLine]:
    """The stored lines of a finalized invoice: charges first, then adjustments in stage order."""
    lines = [
        InvoiceLine(
            vendor=vendor_id,
            invoice=invoice_id,
            section="charge",
            kind=line.kind,
            description=line.description,
            meter=line.meter,
            quantity=None if line.quantity is None else str(line.quantity),
            unit_price=None if line.unit_price is None else str(line.unit_price),
            amount=line.amount,
            details=line.details,
            source=line.source,
        )
        for line in draft.charges
    ] + [
        InvoiceLine(
            vendor=vendor_id,
            invoice=invoice_id,
            section="adjustment",
            kind=line.stage or line.kind,
            description=line.description,
            amount=line.amount,
            details={**line.details, "kind": line.kind},
            source=line.source,
            reference=line.reference,
        )
        for line in draft.adjustments
    ]
    for position, line in enumerate(lines, start=1):
        line.position = position
    return lines


async def finalize_invoice(
    plugins: PluginHost,
    vendor_id: str,
    invoice_id: str,
    *,
    clock: Clock,
    early: bool = False,
) -> dict[str, Any]:
    """Finalize a draft invoice (``early``: before its grace period ends, "finalize now").

    Returns the invoice row; an invoice finalized already is returned unchanged.
    """
    invoice = await _row(Invoice, id=invoice_id, vendor=vendor_id)
    if invoice["status"] != "draft":
        return invoice
    cycle = await _row(BillingCycle, id=invoice["cycle"])
    now = clock.now()
    if not early and cycle["grace_ends_at"] is not None and cycle["grace_ends_at"] > now:
        raise StateError(
            f"The invoice grace period of {invoice_id} ends at "
            f"{cycle['grace_ends_at'].isoformat()}; use finalize now to finalize it earlier.",
            field="invoice",
            code="grace_period_running",
        )
    async with write_transaction():
        if is_postgres():
            # One finalization per customer at a time: credits drawn by one invoice are
            # seen by the next.
            await Customer.raw(
                "SELECT id FROM customer WHERE id = {} FOR NO KEY UPDATE", invoice["customer"]
            )
        moved = await (
            BillingCycle.update({BillingCycle.state: "invoiced"})
            .where((BillingCycle.id == cycle["id"]) & (BillingCycle.state == "grace"))
            .returning(BillingCycle.id)
        )
        if moved:
            await _write_final(plugins, vendor_id, invoice, cycle, now=now, clock=clock)
    return await _row(Invoice, id=invoice_id)


async def _write_final(
    plugins: PluginHost,
    vendor_id: str,
    invoice: dict[str, Any],
    cycle: dict[str, Any],
    *,
    now: Any,
    clock: Clock,
) -> None:
    vendor = await _row(Vendor, id=vendor_id)
    customer = await _row(Customer, id=invoice["customer"])
    subscription = await _row(Subscription, id=invoice["subscription"])
    plan = await _row(PricePlan, id=subscription["plan"])
    draft, _ = await draft_for_period(plugins, vendor_id, customer, subscription, plan, cycle)
    settings = effective_settings(vendor["invoice_settings"], customer["invoice_settings"])
    number = await take_number(
        vendor_id,
        template=vendor["invoice_number_format"] or DEFAULT_FORMAT,
        prefix=vendor["invoice_prefix"],
        at=now,
    )
    total = draft.total
    due_at = now + settings.payment_grace_period
    await Invoice.update(
        {
            Invoice.number: number,
            Invoice.status: "finalized" if total > 0 else "paid",
            Invoice.subtotal: draft.subtotal,
            Invoice.tax: sum(a.amount for a in draft.adjustments if a.stage == "tax"),
            Invoice.total: total,
            Invoice.amount_due: total,
            Invoice.finalized_at: now,
            Invoice.due_at: due_at,
            Invoice.collect_at: due_at,
            Invoice.paid_at: now if total == 0 else None,
            Invoice.delivery_status: "pending" if settings.invoice_delivery else "off",
            Invoice.next_payment_at: due_at
            if total > 0 and settings.auto_charge and settings.payment_provider
            else None,
            Invoice.settings_snapshot: dict(settings.raw),
        }
    ).where((Invoice.id == invoice["id"]) & (Invoice.status == "draft"))
    await InvoiceLine.insert(*invoice_lines(vendor_id, invoice["id"], draft))
    await accrue(
        vendor_id,
        cycle,
        amount_now=draft.subtotal,
        currency=draft.currency,
        clock=clock,
        description="Revenue accrued (final)",
    )
    await post_invoice(vendor_id, invoice["id"], draft, at=now)
    await record(vendor_id, "invoice.finalized", invoice["id"], at=now, number=number, total=total)
