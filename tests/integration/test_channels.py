"""A third-party delivery channel: retried deliveries, and the notifications it receives."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from octane import hookimpl
from octane.core.clock import utc
from octane.core.clocks import advance_test_clock, vendor_clock
from octane.core.contracts import (
    DeliveryChannelInfo,
    DeliveryResult,
    DeliveryStatus,
    InvoiceView,
    Notification,
)
from octane.core.customers import update_customer
from octane.core.lifecycle import run_due_work
from octane.core.plugins import load_plugins
from octane.core.store.tables import Invoice
from octane.core.vendor_settings import update_invoice_settings
from tests.helpers import setup_billed_customer


class Outbox:
    """Fails the first two deliveries (a mail server down), then accepts everything."""

    def __init__(self) -> None:
        self.invoices: list[InvoiceView] = []
        self.notifications: list[Notification] = []
        self.refusals = 2

    @hookimpl
    def register_delivery_channels(self) -> list[DeliveryChannelInfo]:
        return [DeliveryChannelInfo(name="outbox", display_name="Outbox")]

    @hookimpl
    def deliver_invoice(self, invoice: InvoiceView, channel: str) -> DeliveryResult:
        assert channel == "outbox"
        if self.refusals:
            self.refusals -= 1
            return DeliveryResult(status=DeliveryStatus.FAILED, error="421 try again later")
        self.invoices.append(invoice)
        return DeliveryResult(status=DeliveryStatus.DELIVERED, reference=f"<{invoice.id}@x>")

    @hookimpl
    async def send_notification(self, notification: Notification) -> DeliveryResult:
        self.notifications.append(notification)
        return DeliveryResult(status=DeliveryStatus.DELIVERED, reference=notification.id)


async def test_deliveries_are_retried_and_notifications_carry_what_to_do(db: Any) -> None:
    outbox = Outbox()
    plugins = load_plugins(
        ["sandbox", "outbox"], extra_plugins={"outbox": outbox}, use_entry_points=False
    )
    vendor, _ = await setup_billed_customer()
    await update_invoice_settings(
        vendor,
        {
            "delivery_channel": "outbox",
            "payment_provider": "sandbox",
            "payment_retry_schedule": ["P2D"],
        },
        providers=plugins.payment_providers,
        channels=plugins.delivery_channels,
    )
    await update_customer(
        vendor, "acme", {"payment_config": {"sandbox": {"outcomes": ["fail:expired_card"]}}}
    )

    async def at(when: Any) -> Any:
        await advance_test_clock(vendor, when)
        return await run_due_work(plugins, vendor, await vendor_clock(vendor))

    finalized_at = utc(2026, 4, 2)
    first = await at(finalized_at)
    assert (first.invoices_finalized, first.invoices_delivered) == (1, 0)
    invoice = await Invoice.select().where(Invoice.vendor == vendor).first()
    assert invoice is not None
    assert (invoice["delivery_status"], invoice["delivery_error"]) == (
        "failed",
        "421 try again later",
    )
    assert invoice["delivery_next_at"] == finalized_at + timedelta(minutes=5)
    assert (await at(finalized_at + timedelta(minutes=4))).invoices_delivered == 0
    assert (await at(finalized_at + timedelta(minutes=5))).invoices_delivered == 0  # 2nd refusal
    assert (await at(finalized_at + timedelta(minutes=35))).invoices_delivered == 1
    (delivered,) = outbox.invoices
    assert (delivered.number, delivered.total) == ("INV-2026-000001", 7000)
    assert [line.kind for line in delivered.charges] == ["usage", "fixed_fee"]
    assert (await at(finalized_at + timedelta(days=1))).invoices_delivered == 0  # once only

    await at(utc(2026, 4, 5))  # the payment grace period (3 days) ends
    (failed,) = outbox.notifications
    assert failed.kind == "payment_failed" and failed.failure_code == "expired_card"
    assert failed.remedy == "Update your card details."
    assert failed.next_attempt_at == utc(2026, 4, 7)
    await at(utc(2026, 4, 7))
    assert [n.kind for n in outbox.notifications] == ["payment_failed", "payment_final_failure"]
    assert outbox.notifications[1].invoice.status == "uncollectible"
