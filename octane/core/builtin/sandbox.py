"""The ``sandbox`` payment provider and delivery channel: the whole lifecycle with no
external account (the demo and the tests use it).

Charges follow the customer's script (see :mod:`octane.core.payment_config`) and are
recorded, one per idempotency key, in ``sandbox_charge`` like a real provider would:
a repeated call with the same key returns the first result and charges nothing more,
and reconciliation looks the attempt up there. The ``sandbox`` channel "delivers"
invoices and notifications by recording them in the outbox (``outbound_message``), once
per message id, or fails when the customer's script says ``"delivery": "fail"``.
"""

from __future__ import annotations

from datetime import datetime

from octane import hookimpl
from octane.core.clock import SystemClock
from octane.core.clocks import vendor_clock
from octane.core.contracts import (
    AttemptView,
    CustomerView,
    DeliveryChannelInfo,
    DeliveryResult,
    DeliveryStatus,
    FailureCode,
    InvoiceView,
    Notification,
    PaymentProviderInfo,
    PaymentResult,
    PaymentStatus,
    VendorView,
)
from octane.core.errors import OctaneError
from octane.core.ids import new_id
from octane.core.outbox import begin_message, mark_sent
from octane.core.payment_config import sandbox_script
from octane.core.store.engine import is_unique_violation
from octane.core.store.tables import SandboxCharge

__all__ = [
    "collect_payment",
    "deliver_invoice",
    "reconcile_payment",
    "register_delivery_channels",
    "register_payment_providers",
    "send_notification",
]

NAME = "sandbox"


@hookimpl
def register_payment_providers() -> list[PaymentProviderInfo]:
    return [PaymentProviderInfo(name=NAME, display_name="Sandbox (no real money)")]


@hookimpl
def register_delivery_channels() -> list[DeliveryChannelInfo]:
    return [DeliveryChannelInfo(name=NAME, display_name="Sandbox (recorded, not sent)")]


def _result(row: dict[str, object]) -> PaymentResult:
    if row["status"] == "succeeded":
        return PaymentResult(status=PaymentStatus.SUCCEEDED, provider_reference=str(row["id"]))
    if row["status"] == "pending":
        return PaymentResult(status=PaymentStatus.PENDING, provider_reference=str(row["id"]))
    code = FailureCode(str(row["failure_code"] or FailureCode.OTHER))
    return PaymentResult(
        status=PaymentStatus.FAILED,
        provider_reference=str(row["id"]),
        failure_code=code,
        failure_message=f"Sandbox: {code.value.replace('_', ' ')}.",
    )


async def _now(vendor: VendorView) -> datetime:
    """The vendor's now: its test clock's, or the system time."""
    return (await vendor_clock(vendor.id) if vendor.test_mode else SystemClock()).now()


async def _recorded(key: str) -> dict[str, object] | None:
    return await SandboxCharge.select().where(SandboxCharge.idempotency_key == key).first()


@hookimpl
async def collect_payment(
    attempt: AttemptView, vendor: VendorView, customer: CustomerView
) -> PaymentResult:
    existing = await _recorded(attempt.idempotency_key)
    if existing is not None:  # the same request again: no second charge
        return _result(existing)
    try:
        script = sandbox_script(customer.payment_config.get(NAME, {}))
    except OctaneError as error:
        return PaymentResult(
            status=PaymentStatus.FAILED,
            failure_code=FailureCode.PROVIDER_ERROR,
            failure_message=f"Sandbox settings are invalid: {error}",
        )
    outcome = script.outcome_for(attempt.attempt_number)
    code = outcome.removeprefix("fail:") if outcome.startswith("fail:") else None
    status = {"succeed": "succeeded", "unknown": "pending", "pending": "pending"}.get(
        outcome, "failed"
    )
    now = await _now(vendor)
    try:
        await SandboxCharge.insert(
            SandboxCharge(
                id=new_id("sbx"),
                vendor=vendor.id,
                invoice=attempt.invoice_id,
                idempotency_key=attempt.idempotency_key,
                amount=attempt.amount,
                currency=attempt.currency,
                status=status,
                failure_code=code,
                created_at=now,
            )
        )
    except Exception as exc:  # a concurrent identical request won the key
        if not is_unique_violation(exc):
            raise
    row = await _recorded(attempt.idempotency_key)
    assert row is not None
    if outcome == "unknown":
        return PaymentResult(status=PaymentStatus.UNKNOWN)  # the answer was "lost"
    return _result(row)


@hookimpl
async def reconcile_payment(attempt: AttemptView, customer: CustomerView) -> PaymentResult:
    row = await _recorded(attempt.idempotency_key)
    if row is None:
        return PaymentResult(
            status=PaymentStatus.FAILED,
            failure_code=FailureCode.PROVIDER_ERROR,
            failure_message="Sandbox: no charge was made for this attempt.",
        )
    if row["status"] == "pending":  # settle it the way the customer's script says
        script = sandbox_script(customer.payment_config.get(NAME, {}))
        settled = script.unknown_resolves_to
        await SandboxCharge.update(
            {
                SandboxCharge.status: settled,
                SandboxCharge.failure_code: None if settled == "succeeded" else "card_declined",
            }
        ).where((SandboxCharge.id == row["id"]) & (SandboxCharge.status == "pending"))
        row = await _recorded(attempt.idempotency_key)
        assert row is not None
    return _result(row)


async def _send(
    vendor: VendorView,
    customer: CustomerView,
    *,
    invoice_id: str,
    kind: str,
    message_id: str,
) -> DeliveryResult:
    """Record the message as sent (once per message id), or fail as the script says."""
    try:
        script = sandbox_script(customer.payment_config.get(NAME, {}))
    except OctaneError as error:
        return DeliveryResult(
            status=DeliveryStatus.FAILED, error=f"Sandbox settings are invalid: {error}"
        )
    if script.delivery == "fail":
        return DeliveryResult(
            status=DeliveryStatus.FAILED, error="Sandbox: delivery failed as scripted."
        )
    at = await _now(vendor)
    if await begin_message(
        vendor_id=vendor.id,
        invoice_id=invoice_id,
        channel=NAME,
        kind=kind,
        message_id=message_id,
        recipient=customer.email or customer.name,
        at=at,
    ):
        await mark_sent(message_id, at=at)
    return DeliveryResult(status=DeliveryStatus.DELIVERED, reference=message_id)


@hookimpl
async def deliver_invoice(
    invoice: InvoiceView, vendor: VendorView, customer: CustomerView, send_key: str
) -> DeliveryResult:
    return await _send(
        vendor,
        customer,
        invoice_id=invoice.id,
        kind="invoice",
        message_id=f"sandbox-invoice-{send_key}",
    )


@hookimpl
async def send_notification(
    notification: Notification, vendor: VendorView, customer: CustomerView
) -> DeliveryResult:
    return await _send(
        vendor,
        customer,
        invoice_id=notification.invoice.id,
        kind=notification.kind.value,
        message_id=f"sandbox-{notification.id}",
    )
