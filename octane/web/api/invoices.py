"""``/api/v1/invoices``: invoices with their lines; "finalize now" during the grace period."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter

from octane.core.clock import Clock
from octane.core.collection import collect
from octane.core.delivery import deliver_invoice
from octane.core.errors import StateError
from octane.core.finalization import finalize_invoice
from octane.core.invoice_actions import mark_paid, void_invoice
from octane.core.invoice_documents import invoice_pdf
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
    """Why the last delivery failed (the channel's error, e.g. the SMTP server's reply)."""
    delivery_reference: str | None
    """The channel's reference for the last delivery (an email's Message-ID, the
    provider's invoice id)."""
    delivered_at: datetime | None
    pdf_url: str
    """The invoice as a PDF (a draft's is rendered live and marked DRAFT)."""
    provider: str | None
    provider_invoice_id: str | None
    provider_invoice_url: str


class PaymentAttemptOut(msgspec.Struct, kw_only=True):
    id: str
    attempt_number: int
    provider: str
    status: str
    """pending, succeeded, failed, or unknown (being reconciled with the provider)."""
    amount: int
    idempotency_key: str
    failure_code: str | None
    """A provider-neutral code, e.g. insufficient_funds."""
    failure_message: str
    provider_reference: str | None
    created_at: datetime
    completed_at: datetime | None


class TimelineEventOut(msgspec.Struct, kw_only=True):
    action: str
    """E.g. invoice.finalized, invoice.delivered, payment.failed, notification.sent."""
    actor: str
    details: dict[str, Any]
    at: datetime


class InvoiceOut(InvoiceSummaryOut, kw_only=True):
    cycle: InvoiceCycleOut
    lines: list[InvoiceLineOut]
    """Charges first, then adjustments in their fixed order; a draft's are computed now."""
    next_payment_at: datetime | None = None
    """When the next automatic charge is due (null when none is scheduled)."""
    payment_attempts: list[PaymentAttemptOut] = msgspec.field(default_factory=list)
    timeline: list[TimelineEventOut] = msgspec.field(default_factory=list)


class MarkPaidIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    reference: Annotated[
        str,
        msgspec.Meta(
            description="How it was paid, e.g. a bank transfer reference",
            examples=["Wire 2026-04-07 #88123"],
        ),
    ]


class VoidIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    reason: Annotated[str, msgspec.Meta(examples=["Billed on the wrong plan"])]


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

    @post(
        "/{invoice_id:str}/retry-payment",
        summary="Charge the invoice now (a failed or uncollectible one)",
        status_code=200,
        responses=ERROR_RESPONSES,
    )
    async def retry_payment(
        self,
        request: Request[Any, Any, Any],
        vendor_id: NamedDependency[str],
        clock: NamedDependency[Clock],
        invoice_id: FromPath[str],
    ) -> InvoiceOut:
        plugins = request.app.state.octane.plugins
        await get_invoice_row(vendor_id, invoice_id)
        attempt = await collect(
            plugins, vendor_id, invoice_id, clock=clock, manual=True, actor=_actor(request)
        )
        if attempt is None:
            raise StateError(
                "Another payment of this invoice started at the same time.",
                field="id",
                code="payment_in_progress",
            )
        return msgspec.convert(await get_invoice(plugins, vendor_id, invoice_id), InvoiceOut)

    @post(
        "/{invoice_id:str}/mark-paid",
        summary="Record a payment received outside Octane",
        status_code=200,
        responses=ERROR_RESPONSES,
    )
    async def mark_paid(
        self,
        request: Request[Any, Any, Any],
        vendor_id: NamedDependency[str],
        clock: NamedDependency[Clock],
        invoice_id: FromPath[str],
        data: JSONBody[MarkPaidIn],
    ) -> InvoiceOut:
        await mark_paid(
            vendor_id, invoice_id, reference=data.reference, actor=_actor(request), clock=clock
        )
        plugins = request.app.state.octane.plugins
        return msgspec.convert(await get_invoice(plugins, vendor_id, invoice_id), InvoiceOut)

    @post(
        "/{invoice_id:str}/void",
        summary="Void an unpaid invoice, with a reason (its ledger entries are reversed)",
        status_code=200,
        responses=ERROR_RESPONSES,
    )
    async def void(
        self,
        request: Request[Any, Any, Any],
        vendor_id: NamedDependency[str],
        clock: NamedDependency[Clock],
        invoice_id: FromPath[str],
        data: JSONBody[VoidIn],
    ) -> InvoiceOut:
        await void_invoice(
            vendor_id, invoice_id, reason=data.reason, actor=_actor(request), clock=clock
        )
        plugins = request.app.state.octane.plugins
        return msgspec.convert(await get_invoice(plugins, vendor_id, invoice_id), InvoiceOut)

    @get(
        "/{invoice_id:str}/pdf",
        summary="The invoice as a PDF (a draft's is rendered now and marked DRAFT)",
        media_type="application/pdf",
        responses=ERROR_RESPONSES,
    )
    async def pdf(
        self,
        request: Request[Any, Any, Any],
        vendor_id: NamedDependency[str],
        clock: NamedDependency[Clock],
        invoice_id: FromPath[str],
    ) -> Response[bytes]:
        plugins = request.app.state.octane.plugins
        document, row = await invoice_pdf(plugins, vendor_id, invoice_id, at=clock.now())
        name = row["number"] or f"DRAFT-{row['id']}"
        return Response(
            document,
            media_type="application/pdf",
            headers={
                "Content-Disposition": f'inline; filename="{name}.pdf"',
                "Cache-Control": "no-store" if row["status"] == "draft" else "private, max-age=60",
            },
        )

    @post(
        "/{invoice_id:str}/resend",
        summary="Send the invoice to the customer again, on purpose (a new message)",
        status_code=200,
        responses=ERROR_RESPONSES,
    )
    async def resend(
        self,
        request: Request[Any, Any, Any],
        vendor_id: NamedDependency[str],
        clock: NamedDependency[Clock],
        invoice_id: FromPath[str],
    ) -> InvoiceOut:
        plugins = request.app.state.octane.plugins
        await get_invoice_row(vendor_id, invoice_id)
        outcome = await deliver_invoice(plugins, vendor_id, invoice_id, clock=clock, resend=True)
        if outcome is None:
            raise StateError(
                "Another delivery of this invoice started at the same time.",
                field="id",
                code="delivery_in_flight",
            )
        return msgspec.convert(await get_invoice(plugins, vendor_id, invoice_id), InvoiceOut)


def _actor(request: Request[Any, Any, Any]) -> str:
    return f"api_key:{request.state.api_key_id}"
