"""Stripe's webhook events: verified, recorded once, then applied.

Stripe delivers at least once and in any order. The signature is checked on the raw
body first (bad or stale: 400, nothing recorded); the event is then recorded by id,
so a replay is acknowledged and changes nothing; events for an account no vendor has
connected are recorded as ignored. The request answers at once: a job applies the
event (inline when there is no queue), and a sweep every minute applies any event
whose job was lost. Every change an event makes is guarded, so none moves an invoice
backwards.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from octane.core.clocks import SYSTEM_CLOCK, vendor_clock
from octane.core.collection import apply_result
from octane.core.errors import BadRequestError, ValidationError
from octane.core.jobs import enqueue_unique
from octane.core.plugins import PluginHost
from octane.core.provider_accounts import disconnect_account, vendor_of_account
from octane.core.provider_invoices import record_provider_payment, record_provider_refund
from octane.core.store.tables import Invoice, PaymentAttempt
from octane.core.timeline import record
from octane.core.webhooks import apply_recorded, apply_unapplied, finish_event, record_event
from octane.plugins.stripe.client import PROVIDER
from octane.plugins.stripe.payments import metadata_value, result_from_intent

__all__ = [
    "PROCESS_JOB",
    "TOLERANCE_SECONDS",
    "process_event_job",
    "process_pending_job",
    "process_recorded",
    "receive",
]

log = logging.getLogger("octane.stripe")
TOLERANCE_SECONDS = 300
PROCESS_JOB = "stripe:process_event"


def verify(payload: bytes, signature: str, secret: str) -> Any:
    import stripe

    try:
        return stripe.Webhook.construct_event(
            payload.decode(), signature, secret, tolerance=TOLERANCE_SECONDS
        )
    except stripe.SignatureVerificationError as error:
        raise BadRequestError(
            f"The Stripe-Signature header does not verify: {error.user_message or error}",
            code="invalid_signature",
            field="Stripe-Signature",
        ) from None
    except ValueError:
        raise BadRequestError("The body is not a Stripe event.", field="body") from None


async def receive(
    plugins: PluginHost, payload: bytes, signature: str, queue: Any = None
) -> dict[str, Any]:
    """Verify and record one event, then hand it to a job (``queue``) or, without a queue,
    apply it now; what happened, for the response."""
    secret = plugins.context(PROVIDER).config.webhook_secret
    if not secret:
        raise ValidationError(
            "plugins.stripe.webhook_secret is not set: events cannot be verified.",
            field="plugins.stripe.webhook_secret",
        )
    event = verify(payload, signature, secret)
    account = getattr(event, "account", None)
    vendor_id = await vendor_of_account(PROVIDER, account) if account else None
    now = SYSTEM_CLOCK.now()
    row = await record_event(
        provider=PROVIDER,
        event_id=event.id,
        event_type=event.type,
        payload=payload.decode(),
        vendor_id=vendor_id,
        at=now,
    )
    if row is None:
        return {"received": True, "duplicate": True}
    if vendor_id is None:
        log.warning("Stripe event %s for unknown account %s ignored", event.id, account)
        await finish_event(row, "ignored", at=now, error=f"No vendor has connected {account}.")
        return {"received": True, "ignored": "unknown account"}
    if queue is not None:
        await enqueue_unique(queue, PROCESS_JOB, key=f"stripe-event-{row}", row_id=row)
        return {"received": True, "queued": True}
    return {"received": True, "status": await process_recorded(plugins, row)}


def _applier(plugins: PluginHost) -> Any:
    async def apply(vendor_id: str, payload: str) -> str:
        import stripe

        event = stripe.StripeObject.construct_from(json.loads(payload), None)
        return await _apply(plugins, vendor_id, event)

    return apply


async def process_recorded(plugins: PluginHost, row_id: int) -> str:
    """Apply a recorded event, once: the run that claims it does it."""
    return await apply_recorded(row_id, _applier(plugins), now=SYSTEM_CLOCK.now())


async def process_event_job(ctx: dict[str, Any], *, row_id: int) -> str:
    """The job behind ``POST /webhooks/stripe``."""
    return await process_recorded(ctx["octane"].plugins, row_id)


async def process_pending_job(ctx: dict[str, Any]) -> int:
    """Every minute: apply events whose job was lost, so none is left unapplied."""
    return await apply_unapplied(PROVIDER, _applier(ctx["octane"].plugins), now=SYSTEM_CLOCK.now())


async def _is_vendors(vendor_id: str, invoice_id: str) -> bool:
    row = await (
        Invoice.select(Invoice.id)
        .where((Invoice.id == invoice_id) & (Invoice.vendor == vendor_id))
        .first()
    )
    return row is not None


async def _apply(plugins: PluginHost, vendor_id: str, event: Any) -> str:
    obj = event.data.object
    if event.type == "account.application.deauthorized":
        clock = await vendor_clock(vendor_id)
        await disconnect_account(vendor_id, PROVIDER, at=clock.now())
        return "processed"
    if event.type == "checkout.session.completed":
        from octane.plugins.stripe.cards import save_default_card

        saved = await save_default_card(plugins.context(PROVIDER), str(event.account), obj)
        return "processed" if saved else "ignored"
    if event.type == "invoice.paid":
        # Paid on Stripe's hosted page (or charged by Stripe): settle ours, whatever
        # order the invoice's other events arrive in.
        invoice_id = metadata_value(obj, "octane_invoice")
        if not invoice_id or not await _is_vendors(vendor_id, invoice_id):
            return "ignored"
        clock = await vendor_clock(vendor_id)
        await record_provider_payment(
            vendor_id, invoice_id, provider=PROVIDER, reference=str(obj.id), at=clock.now()
        )
        return "processed"
    if event.type in ("invoice.voided", "invoice.marked_uncollectible", "invoice.payment_failed"):
        # Changed in Stripe by the vendor or the customer: shown on our invoice's timeline
        # for a person to act on; Octane's own state follows its own rules.
        invoice_id = metadata_value(obj, "octane_invoice")
        if not invoice_id or not await _is_vendors(vendor_id, invoice_id):
            return "ignored"
        clock = await vendor_clock(vendor_id)
        await record(
            vendor_id,
            f"stripe.{event.type}",
            invoice_id,
            at=clock.now(),
            actor=PROVIDER,
            stripe_invoice=str(obj.id),
        )
        return "processed"
    if event.type == "charge.refunded":
        attempt = await (
            PaymentAttempt.select(PaymentAttempt.invoice)
            .where(
                (PaymentAttempt.vendor == vendor_id)
                & (PaymentAttempt.provider_reference == obj.payment_intent)
            )
            .first()
        )
        if attempt is None or not obj.payment_intent:
            return "ignored"  # not a payment Octane collected
        clock = await vendor_clock(vendor_id)
        await record_provider_refund(
            vendor_id,
            str(attempt["invoice"]),
            provider=PROVIDER,
            charge=str(obj.id),
            refunded_total=int(obj.amount_refunded),
            at=clock.now(),
        )
        return "processed"
    if event.type in ("payment_intent.succeeded", "payment_intent.payment_failed"):
        attempt_id = metadata_value(obj, "octane_attempt")
        if not attempt_id:
            return "ignored"  # not a charge Octane made
        attempt = await (
            PaymentAttempt.select(PaymentAttempt.id)
            .where((PaymentAttempt.id == attempt_id) & (PaymentAttempt.vendor == vendor_id))
            .first()
        )
        if attempt is None:
            return "ignored"
        clock = await vendor_clock(vendor_id)
        await apply_result(plugins, vendor_id, attempt_id, result_from_intent(obj), clock=clock)
        return "processed"
    return "ignored"
