"""Coupons, applied in the ``discount`` stage (after trials, before tax).

Each of the customer's redemptions made before the cycle ended applies while its
duration lasts (counted from the finalized invoices that already carry its discount
line). Percentages are taken of the amount in scope (the whole invoice so far, or
the usage lines of the coupon's meters), rounded half-up once; amounts are capped
at that scope; together they never take the total below zero.
"""

from __future__ import annotations

from collections.abc import Awaitable
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from octane import hookimpl
from octane.core.contracts import AdjustmentLine, AdjustmentStage, DraftInvoice
from octane.core.coupons import customer_coupons
from octane.core.store.tables import Invoice, InvoiceLine

__all__ = ["apply_adjustments"]


async def _times_used(redemption_id: str, cycle_id: str) -> int:
    """Finalized invoices (other than this cycle's) that carry this redemption's discount."""
    rows = await InvoiceLine.select(InvoiceLine.invoice).where(
        (InvoiceLine.reference == redemption_id) & (InvoiceLine.kind == "discount")
    )
    invoice_ids = {r["invoice"] for r in rows}
    if not invoice_ids:
        return 0
    return int(
        await Invoice.count().where(
            Invoice.id.is_in(sorted(invoice_ids))
            & Invoice.status.not_in(["draft", "void"])
            & (Invoice.cycle != cycle_id)
        )
    )


def _still_applies(coupon: dict[str, Any], used: int) -> bool:
    if coupon["duration"] == "once":
        return used < 1
    if coupon["duration"] == "repeating":
        return used < int(coupon["duration_cycles"])
    return True


@hookimpl
def apply_adjustments(
    stage: AdjustmentStage, draft: DraftInvoice
) -> Awaitable[list[AdjustmentLine] | None] | None:
    # Synchronous for the other stages: no coroutine for the common case of a billing run.
    if stage is not AdjustmentStage.DISCOUNT or draft.total <= 0:
        return None
    return _discount_lines(draft)


async def _discount_lines(draft: DraftInvoice) -> list[AdjustmentLine] | None:
    lines: list[AdjustmentLine] = []
    remaining = draft.total
    for redemption in await customer_coupons(draft.vendor.id, draft.customer.id):
        coupon = redemption["coupon"]
        if redemption["created_at"] >= draft.cycle.period_end or remaining <= 0:
            continue
        used = await _times_used(redemption["id"], draft.cycle.id)
        if not _still_applies(coupon, used):
            continue
        scope = coupon["applies_to"] or []
        base = remaining
        if scope:
            base = min(remaining, sum(c.amount for c in draft.charges if c.meter in scope))
        if coupon["percent_off"] is not None:
            exact = Decimal(base) * Decimal(coupon["percent_off"]) / 100
            amount = int(exact.to_integral_value(rounding=ROUND_HALF_UP))
            label = f"{Decimal(coupon['percent_off']).normalize():f}% off"
        else:
            if coupon["currency"] != draft.currency:
                continue
            amount = min(int(coupon["amount_off"]), base)
            label = "amount off"
        amount = min(amount, remaining)
        if amount <= 0:
            continue
        remaining -= amount
        lines.append(
            AdjustmentLine(
                kind="discount",
                description=f"Coupon {coupon['code']} ({label})",
                amount=-amount,
                reference=redemption["id"],
                details={
                    "coupon": coupon["code"],
                    "duration": coupon["duration"],
                    "invoice_number_for_coupon": used + 1,
                },
            )
        )
    return lines
