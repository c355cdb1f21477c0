"""Building the immutable views plugins receive from stored rows."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from octane.core.contracts import (
    AdjustmentLine,
    AttemptView,
    ChargeLine,
    CustomerView,
    InvoiceView,
    VendorView,
)
from octane.core.customers import customer_view
from octane.core.errors import NotFoundError
from octane.core.store.tables import Customer, InvoiceLine, Vendor
from octane.core.usage import vendor_view_of

__all__ = ["attempt_view", "customer_view_by_id", "invoice_view", "vendor_view"]


async def vendor_view(vendor_id: str) -> VendorView:
    row = await (
        Vendor.select(Vendor.id, Vendor.name, Vendor.test_clock_now, Vendor.tax_rate)
        .where(Vendor.id == vendor_id)
        .first()
    )
    if row is None:
        raise NotFoundError(f"There is no vendor '{vendor_id}'.", field="vendor")
    return vendor_view_of(row)


async def customer_view_by_id(customer_id: str) -> tuple[CustomerView, dict[str, Any]]:
    """The customer's view, and its row (for its invoice settings)."""
    row = await Customer.select().where(Customer.id == customer_id).output(load_json=True).first()
    if row is None:
        raise NotFoundError(f"There is no customer '{customer_id}'.", field="customer")
    return customer_view(row), dict(row)


def _decimal(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


async def invoice_view(
    invoice: Mapping[str, Any], vendor: VendorView, customer: CustomerView
) -> InvoiceView:
    """A finalized invoice with its stored lines, as delivery and payment plugins see it."""
    lines = await (
        InvoiceLine.select()
        .where(InvoiceLine.invoice == invoice["id"])
        .order_by(InvoiceLine.position)
        .output(load_json=True)
    )
    charges = tuple(
        ChargeLine(
            kind=line["kind"],
            description=line["description"],
            amount=line["amount"],
            quantity=_decimal(line["quantity"]),
            unit_price=_decimal(line["unit_price"]),
            meter=line["meter"],
            details=line["details"] or {},
            source=line["source"],
        )
        for line in lines
        if line["section"] == "charge"
    )
    adjustments = tuple(
        AdjustmentLine(
            kind=(line["details"] or {}).get("kind", line["kind"]),
            description=line["description"],
            amount=line["amount"],
            reference=line["reference"],
            details=line["details"] or {},
            source=line["source"],
            stage=line["kind"],
        )
        for line in lines
        if line["section"] == "adjustment"
    )
    return InvoiceView(
        id=invoice["id"],
        number=invoice["number"],
        status=invoice["status"],
        currency=invoice["currency"],
        total=invoice["total"],
        subtotal=invoice["subtotal"],
        tax=invoice["tax"],
        amount_paid=invoice["amount_paid"],
        amount_due=invoice["amount_due"] - invoice["amount_paid"],
        period_start=invoice["period_start"],
        period_end=invoice["period_end"],
        issued_at=invoice["finalized_at"],
        due_at=invoice["due_at"],
        customer=customer,
        vendor=vendor,
        charges=charges,
        adjustments=adjustments,
    )


def attempt_view(row: Mapping[str, Any]) -> AttemptView:
    return AttemptView(
        id=row["id"],
        invoice_id=row["invoice"],
        attempt_number=row["attempt_number"],
        amount=row["amount"],
        currency=row["currency"],
        idempotency_key=row["idempotency_key"],
    )
