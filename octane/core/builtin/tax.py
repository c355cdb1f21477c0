"""A percentage tax (the ``tax`` stage): the customer's rate, else the vendor's, applied to
the total after trials and discounts, rounded half-up once. Provider-computed tax (Stripe
Tax, Paddle) comes from the provider plugins instead."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from octane import hookimpl
from octane.core.contracts import (
    AdjustmentLine,
    AdjustmentStage,
    CustomerView,
    DraftInvoice,
    VendorView,
)

__all__ = ["apply_adjustments"]


@hookimpl
def apply_adjustments(
    stage: AdjustmentStage, draft: DraftInvoice, vendor: VendorView, customer: CustomerView
) -> list[AdjustmentLine] | None:
    if stage is not AdjustmentStage.TAX or draft.total <= 0:
        return None
    rate = customer.tax_rate if customer.tax_rate is not None else vendor.tax_rate
    if not rate:
        return None
    exact = Decimal(draft.total) * rate / 100  # in minor units already
    amount = int(exact.to_integral_value(rounding=ROUND_HALF_UP))
    return [
        AdjustmentLine(
            kind="tax",
            description=f"Tax ({rate.normalize():f}%)",
            amount=amount,
            details={"rate": str(rate), "taxable_amount": draft.total},
        )
    ]
