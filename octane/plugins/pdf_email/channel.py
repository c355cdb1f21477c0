"""The ``email`` delivery channel: invoices (PDF attached) and notifications over SMTP.

Every message is recorded in the outbox under its Message-ID before it is handed
to the SMTP server and marked sent after the server accepted it, so a re-run of
the same delivery (same ``send_key``) or notification (same id) sends nothing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from octane.core.branding import Branding, get_branding
from octane.core.clocks import vendor_clock
from octane.core.contracts import (
    CustomerView,
    DeliveryResult,
    DeliveryStatus,
    InvoiceView,
    Notification,
    VendorView,
)
from octane.core.invoice_documents import stored_pdf
from octane.core.invoices import get_invoice_row
from octane.core.outbox import begin_message, mark_sent
from octane.core.plugin_context import PluginContext
from octane.plugins.pdf_email.config import PdfEmailConfig
from octane.plugins.pdf_email.formatting import Formatter
from octane.plugins.pdf_email.mailer import SendFailure, compose, message_id_for, send
from octane.plugins.pdf_email.rendering import jinja, render_invoice

__all__ = ["CHANNEL", "deliver", "notify", "send_test"]

CHANNEL = "email"


def _values(invoice: InvoiceView, branding: Branding) -> dict[str, Any]:
    customer = invoice.customer
    fmt = Formatter(branding.locale, invoice.currency, customer.timezone or "UTC")
    seller = branding.company_name or invoice.vendor.name
    due = fmt.day(invoice.due_at) if invoice.due_at else ""
    return {
        "seller": seller,
        "buyer": customer.display_name or customer.name,
        "number": invoice.number or "DRAFT",
        "period": fmt.period(invoice.period_start, invoice.period_end),
        "total": fmt.money(invoice.total),
        "amount_due": fmt.money(max(invoice.amount_due, 0)),
        "due_date": due,
        "status_text": (
            "Paid. Thank you."
            if invoice.amount_due <= 0
            else branding.payment_instructions or "Thank you for your business."
        ),
        "accent": branding.accent_color,
        "footer": branding.footer,
        "fmt": fmt,
    }


async def _send(
    context: PluginContext,
    *,
    vendor_id: str,
    invoice_id: str | None,
    kind: str,
    template: str,
    values: dict[str, Any],
    branding: Branding,
    to: str,
    message_id: str,
    at: datetime,
    attachment: tuple[str, bytes] | None = None,
) -> DeliveryResult:
    config: PdfEmailConfig = context.config
    if not await begin_message(
        vendor_id=vendor_id,
        invoice_id=invoice_id,
        channel=CHANNEL,
        kind=kind,
        message_id=message_id,
        recipient=to,
        at=at,
    ):
        return DeliveryResult(status=DeliveryStatus.DELIVERED, reference=message_id)
    env = jinja(context)
    message = compose(
        config=config,
        from_name=branding.email_from_name or values["seller"],
        reply_to=branding.reply_to,
        to=to,
        subject=env.get_template(f"pdf_email/email/{template}.subject.txt").render(values).strip(),
        text=env.get_template(f"pdf_email/email/{template}.txt").render(values),
        html=env.get_template(f"pdf_email/email/{template}.html").render(values),
        message_id=message_id,
        at=at,
        attachment=attachment,
    )
    try:
        await send(message, config)
    except SendFailure as failure:
        return DeliveryResult(
            status=DeliveryStatus.FAILED, error=str(failure), retryable=failure.retryable
        )
    await mark_sent(message_id, at=at)
    return DeliveryResult(status=DeliveryStatus.DELIVERED, reference=message_id)


def _no_address(customer: CustomerView) -> DeliveryResult:
    return DeliveryResult(
        status=DeliveryStatus.FAILED,
        error=f"The customer '{customer.name}' has no email address; set one "
        f"(PATCH /api/v1/customers/{customer.name}) and resend.",
        retryable=False,
    )


async def deliver(
    context: PluginContext,
    invoice: InvoiceView,
    vendor: VendorView,
    customer: CustomerView,
    send_key: str,
) -> DeliveryResult:
    """Email a finalized invoice with its stored PDF attached."""
    if not customer.email:
        return _no_address(customer)
    branding = await get_branding(vendor.id)
    now = (await vendor_clock(vendor.id)).now()

    async def render(view: InvoiceView) -> bytes:
        return await render_invoice(context, view, draft=False)

    pdf = await stored_pdf(context.documents, await get_invoice_row(vendor.id, invoice.id), render)
    return await _send(
        context,
        vendor_id=vendor.id,
        invoice_id=invoice.id,
        kind="invoice",
        template="invoice",
        values=_values(invoice, branding),
        branding=branding,
        to=customer.email,
        message_id=message_id_for(f"invoice-{send_key}", context.config),
        at=now,
        attachment=(f"{invoice.number or invoice.id}.pdf", pdf),
    )


async def notify(
    context: PluginContext, notification: Notification, vendor: VendorView, customer: CustomerView
) -> DeliveryResult:
    """Email a payment notification (failed, finally failed, received)."""
    if not customer.email:
        return _no_address(customer)
    branding = await get_branding(vendor.id)
    now = (await vendor_clock(vendor.id)).now()
    values = _values(notification.invoice, branding)
    fmt: Formatter = values["fmt"]
    values.update(
        message=notification.message,
        remedy=notification.remedy,
        next_attempt=fmt.day(notification.next_attempt_at) if notification.next_attempt_at else "",
        paid=fmt.money(notification.attempt.amount) if notification.attempt else values["total"],
    )
    return await _send(
        context,
        vendor_id=vendor.id,
        invoice_id=notification.invoice.id,
        kind=notification.kind.value,
        template=notification.kind.value,
        values=values,
        branding=branding,
        to=customer.email,
        message_id=message_id_for(f"notification-{notification.id}", context.config),
        at=now,
    )


async def send_test(
    context: PluginContext, vendor: VendorView, to: str, *, key: str
) -> DeliveryResult:
    """A test message, to check the SMTP settings from the API or the portal."""
    branding = await get_branding(vendor.id)
    now = (await vendor_clock(vendor.id)).now()
    seller = branding.company_name or vendor.name
    values = {"seller": seller, "accent": branding.accent_color, "footer": branding.footer}
    return await _send(
        context,
        vendor_id=vendor.id,
        invoice_id=None,
        kind="test",
        template="test",
        values=values,
        branding=branding,
        to=to,
        message_id=message_id_for(f"test-{key}", context.config),
        at=now,
    )
