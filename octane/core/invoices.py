"""Reading invoices: the list with filters, and one invoice with its lines.

A finalized invoice is read from its stored rows and never recomputed. A draft (its
cycle is in the invoice grace period) is recomputed through the hooks on every
read, so it always shows the usage as corrected so far.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from octane.core.contracts import DraftInvoice
from octane.core.customers import get_customer_row
from octane.core.errors import NotFoundError, ValidationError
from octane.core.invoice_lines import line_records
from octane.core.money import format_minor, get_currency
from octane.core.plugins import PluginHost
from octane.core.store.tables import (
    BillingCycle,
    Customer,
    Invoice,
    InvoiceLine,
    PaymentAttempt,
    PricePlan,
    Subscription,
)
from octane.core.timeline import timeline
from octane.core.usage import draft_for_period

__all__ = ["STATUSES", "get_invoice", "get_invoice_row", "list_invoices", "live_draft"]

STATUSES = (
    "draft",
    "finalized",
    "delivered",
    "collecting",
    "paid",
    "failed",
    "uncollectible",
    "void",
)


async def get_invoice_row(vendor_id: str, invoice_id: str) -> dict[str, Any]:
    row = await (
        Invoice.select()
        .where((Invoice.vendor == vendor_id) & (Invoice.id == invoice_id))
        .output(load_json=True)
        .first()
    )
    if row is None:
        raise NotFoundError(f"There is no invoice '{invoice_id}'.", field="id")
    return dict(row)


def _line_out(line: Mapping[str, Any], currency: str) -> dict[str, Any]:
    return {
        "position": line["position"],
        "section": line["section"],
        "kind": line["kind"],
        "description": line["description"],
        "meter": line["meter"],
        "quantity": line["quantity"],
        "unit_price": line["unit_price"],
        "amount": line["amount"],
        "amount_decimal": format_minor(line["amount"], get_currency(currency)),
        "details": line["details"] or {},
        "source": line["source"],
        "reference": line["reference"],
    }


def _summary(row: Mapping[str, Any], customer_name: str) -> dict[str, Any]:
    currency = get_currency(row["currency"])
    return {
        "id": row["id"],
        "number": row["number"],
        "status": row["status"],
        "customer": customer_name,
        "currency": currency.code,
        "period_start": row["period_start"],
        "period_end": row["period_end"],
        "subtotal": row["subtotal"],
        "tax": row["tax"],
        "total": row["total"],
        "total_decimal": format_minor(row["total"], currency),
        "amount_due": row["amount_due"],
        "amount_paid": row["amount_paid"],
        "created_at": row["created_at"],
        "finalized_at": row["finalized_at"],
        "due_at": row["due_at"],
        "collect_at": row["collect_at"],
        "paid_at": row["paid_at"],
        "voided_at": row["voided_at"],
        "void_reason": row["void_reason"],
        "delivery_channel": row["delivery_channel"],
        "delivery_status": row["delivery_status"],
        "delivery_error": row["delivery_error"],
        "delivery_reference": row["delivery_reference"],
        "delivered_at": row["delivered_at"],
        "pdf_url": f"/api/v1/invoices/{row['id']}/pdf",
        "provider": row["provider"],
        "provider_invoice_id": row["provider_invoice_id"],
        "provider_invoice_url": row["provider_invoice_url"],
    }


def _with_draft(out: dict[str, Any], draft: DraftInvoice, vendor_id: str) -> dict[str, Any]:
    """A draft's live figures in place of the (empty) stored ones."""
    tax = sum(a.amount for a in draft.adjustments if a.stage == "tax")
    currency = get_currency(draft.currency)
    lines = line_records(draft)
    return {
        **out,
        "subtotal": draft.subtotal,
        "tax": tax,
        "total": draft.total,
        "total_decimal": format_minor(draft.total, currency),
        "amount_due": draft.total,
        "lines": [_line_out(line, draft.currency) for line in lines],
    }


async def live_draft(plugins: PluginHost, row: Mapping[str, Any]) -> DraftInvoice:
    """Recompute a draft invoice's figures through the hooks."""
    customer = (
        await Customer.select().where(Customer.id == row["customer"]).output(load_json=True).first()
    )
    subscription = await Subscription.select().where(Subscription.id == row["subscription"]).first()
    assert customer is not None and subscription is not None
    plan = (
        await PricePlan.select()
        .where(PricePlan.id == subscription["plan"])
        .output(load_json=True)
        .first()
    )
    cycle = await BillingCycle.select().where(BillingCycle.id == row["cycle"]).first()
    assert plan is not None and cycle is not None
    draft, _ = await draft_for_period(plugins, row["vendor"], customer, subscription, plan, cycle)
    return draft


async def get_invoice(plugins: PluginHost, vendor_id: str, invoice_id: str) -> dict[str, Any]:
    """One invoice with its lines (a draft's recomputed now) and its cycle."""
    row = await get_invoice_row(vendor_id, invoice_id)
    customer = await Customer.select(Customer.name).where(Customer.id == row["customer"]).first()
    cycle = await (
        BillingCycle.select(BillingCycle.id, BillingCycle.state, BillingCycle.grace_ends_at)
        .where(BillingCycle.id == row["cycle"])
        .first()
    )
    assert customer is not None and cycle is not None
    out = _summary(row, customer["name"])
    out["cycle"] = dict(cycle)
    if row["status"] == "draft":
        return _with_draft(out, await live_draft(plugins, row), vendor_id)
    lines = await (
        InvoiceLine.select()
        .where(InvoiceLine.invoice == invoice_id)
        .order_by(InvoiceLine.position)
        .output(load_json=True)
    )
    out["lines"] = [_line_out(line, row["currency"]) for line in lines]
    out["next_payment_at"] = row["next_payment_at"]
    out["payment_attempts"] = [
        dict(a)
        for a in await PaymentAttempt.select()
        .where(PaymentAttempt.invoice == invoice_id)
        .order_by(PaymentAttempt.attempt_number)
    ]
    out["timeline"] = await timeline(vendor_id, invoice_id)
    return out


async def list_invoices(
    vendor_id: str,
    *,
    status: str | None = None,
    customer: str | None = None,
    period_from: datetime | None = None,
    period_to: datetime | None = None,
    limit: int = 50,
    starting_after: str | None = None,
) -> tuple[list[dict[str, Any]], bool]:
    """A page of invoices, newest first, and whether more follow.

    Drafts are listed with the figures stored when their cycle closed; open one to
    see it recomputed.
    """
    if not 1 <= limit <= 200:
        raise ValidationError("limit must be between 1 and 200.", field="limit")
    if status is not None and status not in STATUSES:
        raise ValidationError(
            f"'{status}' is not an invoice status; use one of {', '.join(STATUSES)}.",
            field="status",
        )
    query = Invoice.select().where(Invoice.vendor == vendor_id)
    if status is not None:
        query = query.where(Invoice.status == status)
    if customer is not None:
        row = await get_customer_row(vendor_id, customer)
        query = query.where(Invoice.customer == row["id"])
    if period_from is not None:
        query = query.where(Invoice.period_start >= period_from)
    if period_to is not None:
        query = query.where(Invoice.period_end <= period_to)
    if starting_after is not None:
        cursor = await get_invoice_row(vendor_id, starting_after)
        query = query.where(
            (Invoice.created_at < cursor["created_at"])
            | ((Invoice.created_at == cursor["created_at"]) & (Invoice.id < cursor["id"]))
        )
    rows = await (
        query.order_by(Invoice.created_at, ascending=False)
        .order_by(Invoice.id, ascending=False)
        .limit(limit + 1)
    )
    names = {
        r["id"]: r["name"]
        for r in await Customer.select(Customer.id, Customer.name).where(
            Customer.id.is_in(sorted({r["customer"] for r in rows}) or [""])
        )
    }
    return [_summary(r, names[r["customer"]]) for r in rows[:limit]], len(rows) > limit
