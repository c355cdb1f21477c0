"""A made-up invoice for previews (branding settings) and the rendering benchmark."""

from __future__ import annotations

from decimal import Decimal

from octane.core.clock import utc
from octane.core.contracts import (
    AdjustmentLine,
    ChargeLine,
    CustomerView,
    InvoiceView,
    VendorView,
)
from octane.core.money import get_currency, round_to_minor

__all__ = ["sample_invoice"]


def sample_invoice(
    vendor: VendorView, *, usage_lines: int = 3, currency: str = "USD"
) -> InvoiceView:
    """An invoice with ``usage_lines`` metered lines, a fixed fee, a discount and tax."""
    money = get_currency(currency)
    charges = []
    for index in range(usage_lines):
        quantity = Decimal(1000 + 37 * index)
        price = Decimal("0.0125")
        charges.append(
            ChargeLine(
                kind="usage",
                description=f"meter_{index:04d}: {quantity} calls",
                amount=round_to_minor(quantity * price, money),
                quantity=quantity,
                unit_price=price,
                meter=f"meter_{index:04d}",
            )
        )
    charges.append(
        ChargeLine(
            kind="fixed_fee", description="Fixed fee", amount=round_to_minor(Decimal(49), money)
        )
    )
    subtotal = sum(line.amount for line in charges)
    discount = -(subtotal // 10)
    tax = round_to_minor(Decimal(subtotal + discount) * Decimal("0.2"), money)
    adjustments = (
        AdjustmentLine(
            kind="discount",
            stage="discount",
            description="Coupon LAUNCH10 (10% off)",
            amount=discount,
        ),
        AdjustmentLine(kind="tax", stage="tax", description="VAT 20%", amount=tax),
    )
    total = subtotal + discount + tax
    return InvoiceView(
        id="inv_sample",
        number="SAMPLE-2026-000001",
        status="finalized",
        currency=currency,
        total=total,
        amount_due=total,
        subtotal=subtotal,
        tax=tax,
        period_start=utc(2026, 3, 1),
        period_end=utc(2026, 4, 1),
        issued_at=utc(2026, 4, 2),
        due_at=utc(2026, 4, 16),
        customer=CustomerView(
            id="cus_sample",
            name="globex",
            display_name="Globex Corporation",
            email="ap@globex.example",
            currency=currency,
            address={
                "line1": "1 Market Street",
                "postal_code": "94105",
                "city": "San Francisco",
                "country": "US",
            },
        ),
        vendor=vendor,
        charges=tuple(charges),
        adjustments=adjustments,
    )
