"""An invoice's PDF: rendered by a plugin, stored once when final, live for a draft.

The core does not draw PDFs; it asks the ``render_invoice_pdf`` service hook (the
``pdf_email`` plugin answers it) and keeps the result. A finalized invoice's PDF is
the legal document, so the first rendering is stored and every later request, the
email attachment included, gets those same bytes. A draft is rendered on each
request from its live figures, marked DRAFT, and never stored.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from typing import Any

import msgspec

from octane.core.contracts import InvoiceView
from octane.core.credit_grants import grants_with_remaining
from octane.core.credits import usable
from octane.core.documents import DocumentStore
from octane.core.errors import ConflictError
from octane.core.invoices import get_invoice_row, live_draft
from octane.core.plugins import PluginHost
from octane.core.store.tables import Invoice
from octane.core.views import customer_view_by_id, invoice_view, vendor_view

__all__ = [
    "document_key",
    "draft_view",
    "final_view",
    "invoice_pdf",
    "stored_invoice_pdf",
    "stored_pdf",
]


def document_key(vendor_id: str, invoice_id: str) -> str:
    return f"invoices/{vendor_id}/{invoice_id}.pdf"


async def _credit_remaining(
    vendor_id: str, customer_id: str, currency: str, at: datetime, drawn_now: int
) -> int:
    states = await grants_with_remaining(vendor_id, customer_id, currency=currency)
    balance = sum(state.grant.remaining for state in states if usable(state.grant, at))
    return max(balance - drawn_now, 0)


async def draft_view(plugins: PluginHost, row: Mapping[str, Any], *, at: datetime) -> InvoiceView:
    """A draft invoice's figures recomputed now, as the renderer sees them."""
    draft = await live_draft(plugins, row)
    drawn = -sum(a.amount for a in draft.adjustments if a.stage == "credit")
    return InvoiceView(
        id=row["id"],
        number=None,
        status="draft",
        currency=draft.currency,
        total=draft.total,
        amount_due=draft.total,
        subtotal=draft.subtotal,
        tax=sum(a.amount for a in draft.adjustments if a.stage == "tax"),
        period_start=row["period_start"],
        period_end=row["period_end"],
        issued_at=None,
        due_at=None,
        customer=draft.customer,
        vendor=draft.vendor,
        charges=draft.charges,
        adjustments=draft.adjustments,
        credit_remaining=await _credit_remaining(
            row["vendor"], row["customer"], draft.currency, at, drawn
        ),
    )


async def final_view(row: Mapping[str, Any]) -> InvoiceView:
    """A finalized invoice from its stored lines, with the customer's credit left."""
    customer, _ = await customer_view_by_id(row["customer"])
    view = await invoice_view(row, await vendor_view(row["vendor"]), customer)
    at = row["finalized_at"] or row["created_at"]
    remaining = await _credit_remaining(row["vendor"], row["customer"], row["currency"], at, 0)
    return msgspec.structs.replace(view, credit_remaining=remaining)


async def _render(plugins: PluginHost, view: InvoiceView, *, draft: bool) -> bytes:
    answered = await plugins.call_first("render_invoice_pdf", invoice=view, draft=draft)
    if answered is None:
        raise ConflictError(
            "No enabled plugin renders invoice PDFs; enable 'pdf_email' in [plugins] enabled.",
            code="pdf_unavailable",
        )
    plugin_name, pdf = answered
    if not isinstance(pdf, bytes) or not pdf.startswith(b"%PDF"):
        raise ConflictError(
            f"Plugin '{plugin_name}' did not return a PDF from render_invoice_pdf.",
            code="pdf_unavailable",
        )
    return pdf


async def stored_pdf(
    documents: DocumentStore,
    row: Mapping[str, Any],
    render: Callable[[InvoiceView], Awaitable[bytes]],
) -> bytes:
    """A finalized invoice's PDF: the stored copy, or ``render`` it now and store it.

    When two renderings race, the first stored wins and both callers get it.
    """
    key = document_key(row["vendor"], row["id"])
    stored = await documents.get(key)
    if stored is not None:
        return stored
    pdf = await documents.put_once(key, await render(await final_view(row)))
    await Invoice.update({Invoice.pdf_path: key}).where(
        (Invoice.id == row["id"]) & (Invoice.pdf_path == "")
    )
    return pdf


async def stored_invoice_pdf(plugins: PluginHost, row: Mapping[str, Any]) -> bytes:
    """A finalized invoice's PDF, rendered through ``render_invoice_pdf`` on first use."""

    async def render(view: InvoiceView) -> bytes:
        return await _render(plugins, view, draft=False)

    return await stored_pdf(plugins.documents, row, render)


async def invoice_pdf(
    plugins: PluginHost, vendor_id: str, invoice_id: str, *, at: datetime
) -> tuple[bytes, Mapping[str, Any]]:
    """The PDF of one of the vendor's invoices (a draft's rendered live) and its row."""
    row = await get_invoice_row(vendor_id, invoice_id)
    if row["status"] == "draft":
        return await _render(plugins, await draft_view(plugins, row, at=at), draft=True), row
    return await stored_invoice_pdf(plugins, row), row
