"""``/api/v1/invoices``: invoices with their lines; "finalize now" during the grace period."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, QueryParameter

from octane.core.clock import Clock
from octane.core.errors import StateError
from octane.core.finalization import finalize_invoice
from octane.core.invoices import get_invoice, get_invoice_row, list_invoices
from octane.web.api.schemas import ERROR_RESPONSES

__all__ = ["InvoiceController", "InvoiceLineOut", "InvoiceOut", "InvoicePage"]


class InvoiceLineOut(msgspec.Struct, kw_only=True):
    position: int
    section: str
    """``charge`` (usage, fixed fee, minimum, plugin charges) or ``adjustment``."""
    kind: str
    """A charge's kind, or an adjustment's stage: trial, discount, tax, credit."""
    description: str
    meter: str | None
    quantity: str | None
    unit_price: str | None
    amount: int
    """In minor units; negative for adjustments that reduce the total."""
    amount_decimal: str
    details: dict[str, Any]
    """The breakdown, e.g. the tiers a graduated price used."""
    source: str
    """The plugin that produced the line."""
    reference: str | None
    """What produced an adjustment (a coupon redemption, a credit grant...)."""


class InvoiceCycleOut(msgspec.Struct, kw_only=True):
    id: str
    state: str
    grace_ends_at: datetime | None


class InvoiceSummaryOut(msgspec.Struct, kw_only=True):
    id: str
    number: str | None
    """Gapless per vendor, assigned at finalization; null for a draft."""
    status: str
    """draft, finalized, delivered, collecting, paid, failed, uncollectible or void."""
    customer: str
    currency: str
    period_start: datetime
    period_end: datetime
    subtotal: int
    tax: int
    total: int
    total_decimal: str
    amount_due: int
    amount_paid: int
    created_at: datetime
    finalized_at: datetime | None
    due_at: datetime | None
    collect_at: datetime | None
    """When the payment grace period ends and auto-charge may run."""
    paid_at: datetime | None
    voided_at: datetime | None
    void_reason: str
    delivery_channel: str | None
    delivery_status: str | None
    delivery_error: str
    delivered_at: datetime | None
    provider: str | None
    provider_invoice_id: str | None
    provider_invoice_url: str


class InvoiceOut(InvoiceSummaryOut, kw_only=True):
    cycle: InvoiceCycleOut
    lines: list[InvoiceLineOut]
    """Charges first, then adjustments in their fixed order; a draft's are computed now."""


class InvoicePage(msgspec.Struct, kw_only=True):
    invoices: list[InvoiceSummaryOut]
    has_more: bool
    """Pass the last invoice's id as ``starting_after`` for the next page."""


class InvoiceController(Controller):
    path = "/api/v1/invoices"
    tags = ["invoices"]

    @get(summary="List invoices, newest first", responses=ERROR_RESPONSES)
    async def index(
        self,
        vendor_id: NamedDependency[str],
        status: FromQuery[str | None] = None,
        customer: FromQuery[str | None] = None,
        period_from: FromQuery[datetime | None] = None,
        period_to: FromQuery[datetime | None] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=200)] = 50,
        starting_after: FromQuery[str | None] = None,
    ) -> InvoicePage:
        rows, more = await list_invoices(
            vendor_id,
            status=status,
            customer=customer,
            period_from=period_from,
            period_to=period_to,
            limit=limit,
            starting_after=starting_after,
        )
        return InvoicePage(
            invoices=[msgspec.convert(r, InvoiceSummaryOut) for r in rows], has_more=more
        )

    @get("/{invoice_id:str}", summary="One invoice with its lines", responses=ERROR_RESPONSES)
    async def show(
        self,
        request: Request[Any, Any, Any],
        vendor_id: NamedDependency[str],
        invoice_id: FromPath[str],
    ) -> InvoiceOut:
        plugins = request.app.state.octane.plugins
        return msgspec.convert(await get_invoice(plugins, vendor_id, invoice_id), InvoiceOut)

    @post(
        "/{invoice_id:str}/finalize",
        summary='"Finalize now": end the invoice grace period early',
        status_code=200,
        responses=ERROR_RESPONSES,
    )
    async def finalize(
        self,
        request: Request[Any, Any, Any],
        vendor_id: NamedDependency[str],
        clock: NamedDependency[Clock],
        invoice_id: FromPath[str],
    ) -> InvoiceOut:
        plugins = request.app.state.octane.plugins
        row = await get_invoice_row(vendor_id, invoice_id)
        if row["status"] == "void":
            raise StateError(f"The invoice {invoice_id} is void.", field="id", code="invoice_void")
        await finalize_invoice(plugins, vendor_id, invoice_id, clock=clock, early=True)
        return msgspec.convert(await get_invoice(plugins, vendor_id, invoice_id), InvoiceOut)
