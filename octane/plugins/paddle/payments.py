"""Charging through the customer's Paddle subscription, and finding out what happened.

Paddle charges a saved payment method only through a subscription: a one-time charge
(``POST /subscriptions/{id}/charge``, ``effective_from: immediately``) bills a
non-catalog item for the attempt's amount, with our attempt id in the price's
``custom_data``. The customer's subscription is ``payment_config.paddle.subscription_id``
or ``provider_ids.paddle_subscription``.

Paddle documents no idempotency header, so before charging, the subscription's
transactions are searched for our attempt id: a charge already made is reported, never
made again. A timeout or a 5xx is ``unknown`` and ``reconcile_payment`` looks the
transaction up the same way. When the invoice was sent as a Paddle invoice (manual
collection), there is nothing to charge: the customer pays Paddle's invoice, and the
attempt answers what Paddle says about that transaction.
"""

from __future__ import annotations

from typing import Any

from octane.core.contracts import (
    AttemptView,
    CustomerView,
    FailureCode,
    PaymentResult,
    PaymentStatus,
    VendorView,
)
from octane.core.errors import ConflictError, PluginError
from octane.core.invoices import get_invoice_row
from octane.core.plugin_context import PluginContext
from octane.plugins.paddle.client import PROVIDER, PaddleApi, PaddleError, PaddleUnavailable
from octane.plugins.paddle.connection import api_for
from octane.plugins.paddle.invoicing import find_transaction

__all__ = ["ERROR_CODES", "collect", "reconcile", "result_from_transaction", "subscription_of"]

ERROR_CODES = {
    "declined": FailureCode.CARD_DECLINED,
    "declined_not_retryable": FailureCode.CARD_DECLINED,
    "not_enough_balance": FailureCode.INSUFFICIENT_FUNDS,
    "expired_card": FailureCode.EXPIRED_CARD,
    "invalid_payment_details": FailureCode.INCORRECT_DETAILS,
    "authentication_failed": FailureCode.AUTHENTICATION_REQUIRED,
    "fraud": FailureCode.FRAUD_SUSPECTED,
    "blocked_card": FailureCode.FRAUD_SUSPECTED,
    "issuer_unavailable": FailureCode.PROCESSING_ERROR,
    "psp_error": FailureCode.PROCESSING_ERROR,
    "system_error": FailureCode.PROVIDER_ERROR,
    "canceled": FailureCode.NO_PAYMENT_METHOD,
    "redacted_payment_method": FailureCode.NO_PAYMENT_METHOD,
}
"""Paddle's payment error codes (``payments[].error_code``) as neutral failure codes."""

PAID = ("paid", "completed")


def subscription_of(customer: CustomerView) -> str | None:
    configured = (customer.payment_config.get(PROVIDER) or {}).get("subscription_id")
    return str(configured or customer.provider_ids.get("paddle_subscription") or "") or None


def result_from_transaction(transaction: dict[str, Any]) -> PaymentResult:
    status, reference = transaction.get("status"), str(transaction["id"])
    if status in PAID:
        return PaymentResult(status=PaymentStatus.SUCCEEDED, provider_reference=reference)
    failed = [
        p for p in transaction.get("payments") or [] if p.get("status") in ("error", "canceled")
    ]
    if status in ("past_due", "canceled") or failed:
        code = str((failed[0].get("error_code") if failed else None) or "unknown")
        return PaymentResult(
            status=PaymentStatus.FAILED,
            provider_reference=reference,
            failure_code=ERROR_CODES.get(code, FailureCode.OTHER),
            failure_message=f"Paddle: the payment failed ({code}).",
        )
    return PaymentResult(status=PaymentStatus.PENDING, provider_reference=reference)


def _failed(code: FailureCode, message: str) -> PaymentResult:
    return PaymentResult(status=PaymentStatus.FAILED, failure_code=code, failure_message=message)


async def _api(context: PluginContext, vendor_id: str) -> PaddleApi | PaymentResult:
    try:
        return await api_for(context, vendor_id)
    except (ConflictError, PluginError) as error:
        return _failed(FailureCode.PROVIDER_ERROR, error.message)


async def _invoiced(api: PaddleApi, transaction_id: str) -> PaymentResult:
    """Invoiced through Paddle: the customer pays Paddle's invoice; report its state."""
    transaction = await api.data("GET", f"/transactions/{transaction_id}")
    if transaction.get("status") in PAID:
        return PaymentResult(status=PaymentStatus.SUCCEEDED, provider_reference=transaction_id)
    return PaymentResult(
        status=PaymentStatus.PENDING,
        provider_reference=transaction_id,
        failure_message="Paddle collects its invoice; the payment arrives with its webhook.",
    )


async def collect(
    context: PluginContext, attempt: AttemptView, vendor: VendorView, customer: CustomerView
) -> PaymentResult:
    api = await _api(context, vendor.id)
    if isinstance(api, PaymentResult):
        return api
    invoice = await get_invoice_row(vendor.id, attempt.invoice_id)
    subscription = subscription_of(customer)
    try:
        if invoice["provider_invoice_id"]:
            return await _invoiced(api, str(invoice["provider_invoice_id"]))
        if subscription is None:
            return _failed(
                FailureCode.NO_PAYMENT_METHOD,
                "Paddle: the customer has no Paddle subscription to charge (they subscribe "
                "once through Paddle Checkout; set payment_config.paddle.subscription_id).",
            )
        lookup = {"subscription_id": subscription}
        earlier = await find_transaction(api, lookup, "octane_attempt", attempt.id)
        if earlier is not None:
            return result_from_transaction(earlier)
        description = f"Invoice {invoice['number'] or attempt.invoice_id}"
        item = {
            "quantity": 1,
            "price": {
                "description": description,
                "name": description,
                "unit_price": {"amount": str(attempt.amount), "currency_code": attempt.currency},
                "product": {"name": description, "tax_category": "standard"},
                "custom_data": {"octane_attempt": attempt.id, "octane_invoice": attempt.invoice_id},
            },
        }
        try:
            await api.data(
                "POST",
                f"/subscriptions/{subscription}/charge",
                body={
                    "effective_from": "immediately",
                    "items": [item],
                    "on_payment_failure": "prevent_change",
                },
            )
        except PaddleError as error:
            # A declined charge: Paddle may have recorded the failed transaction (its
            # payment says why); otherwise report Paddle's own message.
            made = await find_transaction(api, lookup, "octane_attempt", attempt.id)
            if made is not None:
                return result_from_transaction(made)
            return _failed(FailureCode.PROVIDER_ERROR, f"Paddle: {error}")
        made = await find_transaction(api, lookup, "octane_attempt", attempt.id)
    except PaddleUnavailable as error:
        return PaymentResult(status=PaymentStatus.UNKNOWN, failure_message=f"Paddle: {error}")
    if made is None:  # charged, but not listed yet: a webhook or reconciliation says
        return PaymentResult(status=PaymentStatus.PENDING)
    return result_from_transaction(made)


async def reconcile(
    context: PluginContext, attempt: AttemptView, vendor: VendorView, customer: CustomerView
) -> PaymentResult:
    """What Paddle recorded for the attempt, found by our attempt id; never charges."""
    api = await _api(context, vendor.id)
    if isinstance(api, PaymentResult):
        return api
    invoice = await get_invoice_row(vendor.id, attempt.invoice_id)
    try:
        if invoice["provider_invoice_id"]:
            return await _invoiced(api, str(invoice["provider_invoice_id"]))
        subscription = subscription_of(customer)
        found = (
            await find_transaction(
                api, {"subscription_id": subscription}, "octane_attempt", attempt.id
            )
            if subscription
            else None
        )
    except (PaddleUnavailable, PaddleError) as error:
        return PaymentResult(status=PaymentStatus.UNKNOWN, failure_message=f"Paddle: {error}")
    if found is None:
        return _failed(FailureCode.PROVIDER_ERROR, "Paddle has no payment for this attempt.")
    return result_from_transaction(found)
