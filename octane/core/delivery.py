"""Delivering finalized invoices and notifications through the channel in use.

The in-flight contract: a delivery is *claimed* with a guarded update (``pending`` or a
due ``failed`` -> ``in_flight``, with a lease), then handed to the one plugin owning the
channel, whose result moves it to ``delivered`` or ``failed``. A sender that dies
mid-way leaves the delivery ``in_flight`` past its lease; the sweep claims it again,
and the plugin recognises the repeat by the invoice id (a deterministic message id),
so the customer receives it once. Failed deliveries are retried on a backoff, then
left ``failed`` with the error for the vendor to see and resend.

The channel: the payment provider's own (the provider's name) when invoicing via the
provider is on, else the ``delivery_channel`` setting (``email`` by default).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from octane.core.clock import Clock
from octane.core.contracts import DeliveryResult, DeliveryStatus, Notification
from octane.core.errors import OctaneError, StateError
from octane.core.invoice_settings import InvoiceSettings, effective_settings
from octane.core.plugins import PluginHost
from octane.core.store.tables import Invoice, Vendor
from octane.core.timeline import record
from octane.core.views import customer_view_by_id, invoice_view, vendor_view

__all__ = [
    "BACKOFF",
    "LEASE",
    "channel_for",
    "deliver_invoice",
    "send_key",
    "send_notification",
]

LEASE = timedelta(minutes=10)
BACKOFF = (timedelta(minutes=5), timedelta(minutes=30), timedelta(hours=2), timedelta(hours=12))
"""Waits after the 1st, 2nd... failed delivery; after the last, the delivery stays failed."""


def send_key(invoice_id: str, sends: int) -> str:
    """The same for every retry of one send; a new one for each resend on purpose."""
    return invoice_id if sends == 0 else f"{invoice_id}-resend-{sends}"


def channel_for(settings: InvoiceSettings) -> str:
    if settings.invoicing_via_provider and settings.payment_provider:
        return settings.payment_provider
    return settings.delivery_channel


async def settings_for(vendor_id: str, customer_row: dict[str, Any]) -> InvoiceSettings:
    vendor = (
        await Vendor.select(Vendor.invoice_settings)
        .where(Vendor.id == vendor_id)
        .output(load_json=True)
        .first()
    )
    assert vendor is not None
    return effective_settings(vendor["invoice_settings"], customer_row["invoice_settings"])


async def _call_channel(
    plugins: PluginHost, hook: str, channel: str, **kwargs: Any
) -> DeliveryResult:
    try:
        owner = plugins.channel_owner(channel)
        return await plugins.call_owner(
            owner, hook, expect=DeliveryResult, channel=channel, **kwargs
        )
    except OctaneError as error:
        return DeliveryResult(status=DeliveryStatus.FAILED, error=str(error), retryable=True)
    except Exception as exc:  # a plugin bug or a network error: retried later
        return DeliveryResult(
            status=DeliveryStatus.FAILED, error=f"{type(exc).__name__}: {exc}", retryable=True
        )


async def deliver_invoice(
    plugins: PluginHost,
    vendor_id: str,
    invoice_id: str,
    *,
    clock: Clock,
    resend: bool = False,
) -> str | None:
    """Deliver the invoice if its delivery is due (or ``resend``); return the new delivery
    status, or None when there was nothing to do (not due, or claimed by another run).

    A resend is refused (StateError) for a draft or void invoice and while another
    delivery of it is in flight.
    """
    invoice = (
        await Invoice.select()
        .where((Invoice.id == invoice_id) & (Invoice.vendor == vendor_id))
        .output(load_json=True)
        .first()
    )
    if invoice is None or invoice["status"] in ("draft", "void"):
        if resend and invoice is not None:
            raise StateError(
                f"A {invoice['status']} invoice cannot be sent.", code="invoice_not_sendable"
            )
        return None
    now = clock.now()
    status = invoice["delivery_status"]
    next_at = invoice["delivery_next_at"]
    if resend and status == "in_flight" and next_at is not None and next_at > now:
        raise StateError(
            "This invoice is being sent right now; try again once that delivery has ended.",
            code="delivery_in_flight",
        )
    due = (status == "pending") or (
        status in ("failed", "in_flight") and next_at is not None and next_at <= now
    )
    if not (due or resend):
        return None
    customer, customer_row = await customer_view_by_id(invoice["customer"])
    settings = await settings_for(vendor_id, customer_row)
    channel = channel_for(settings)
    sends = invoice["delivery_sends"] + (1 if resend else 0)
    claimed = await (
        Invoice.update(
            {
                Invoice.delivery_status: "in_flight",
                Invoice.delivery_channel: channel,
                Invoice.delivery_attempts: invoice["delivery_attempts"] + 1,
                Invoice.delivery_sends: sends,
                Invoice.delivery_next_at: now + LEASE,
            }
        )
        .where(
            (Invoice.id == invoice_id) & (Invoice.delivery_attempts == invoice["delivery_attempts"])
        )
        .returning(Invoice.id)
    )
    if not claimed:
        return None
    vendor = await vendor_view(vendor_id)
    view = await invoice_view(invoice, vendor, customer)
    result = await _call_channel(
        plugins,
        "deliver_invoice",
        channel,
        invoice=view,
        vendor=vendor,
        customer=customer,
        settings=dict(settings.raw),
        send_key=send_key(invoice_id, sends),
    )
    attempts = invoice["delivery_attempts"] + 1
    if result.status is DeliveryStatus.DELIVERED:
        await Invoice.update(
            {
                Invoice.delivery_status: "delivered",
                Invoice.delivered_at: now,
                Invoice.delivery_reference: result.reference,
                Invoice.delivery_error: "",
                Invoice.delivery_next_at: None,
            }
        ).where((Invoice.id == invoice_id) & (Invoice.delivery_attempts == attempts))
        await Invoice.update({Invoice.status: "delivered"}).where(
            (Invoice.id == invoice_id) & (Invoice.status == "finalized")
        )
        await record(
            vendor_id,
            "invoice.delivered",
            invoice_id,
            at=now,
            channel=channel,
            reference=result.reference,
            resend=resend,
        )
        return "delivered"
    retry = result.retryable and attempts <= len(BACKOFF)
    await Invoice.update(
        {
            Invoice.delivery_status: "failed",
            Invoice.delivery_error: result.error or "The channel reported a failure.",
            Invoice.delivery_next_at: now + BACKOFF[attempts - 1] if retry else None,
        }
    ).where((Invoice.id == invoice_id) & (Invoice.delivery_attempts == attempts))
    await record(
        vendor_id,
        "invoice.delivery_failed",
        invoice_id,
        at=now,
        channel=channel,
        error=result.error,
        retry_at=(now + BACKOFF[attempts - 1]).isoformat() if retry else None,
    )
    return "failed"


async def send_notification(
    plugins: PluginHost, vendor_id: str, notification: Notification, *, clock: Clock
) -> None:
    """Send a notification if the customer's notifications are on; record the outcome."""
    customer = notification.invoice.customer
    customer_row = (await customer_view_by_id(customer.id))[1]
    settings = await settings_for(vendor_id, customer_row)
    if not settings.notifications:
        return
    channel = channel_for(settings)
    result = await _call_channel(
        plugins,
        "send_notification",
        channel,
        notification=notification,
        vendor=notification.invoice.vendor,
        customer=customer,
        settings=dict(settings.raw),
    )
    await record(
        vendor_id,
        f"notification.{'sent' if result.status is DeliveryStatus.DELIVERED else 'failed'}",
        notification.invoice.id,
        at=clock.now(),
        kind=notification.kind.value,
        channel=channel,
        reference=result.reference,
        error=result.error,
        notification_id=notification.id,
    )
