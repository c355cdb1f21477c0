"""Charging off-session with PaymentIntents, and finding out what happened to a charge.

The payment intent is created and confirmed in one request whose idempotency key is
the attempt's (``<invoice id>:<n>``), with our attempt id in its metadata: a repeated
request returns the first answer, and after a lost answer reconciliation finds the
intent by that metadata instead of charging again.
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
from octane.core.errors import ConflictError
from octane.core.invoices import get_invoice_row
from octane.core.plugin_context import PluginContext
from octane.plugins.stripe.client import connected_account, retrying_rate_limits, stripe_client
from octane.plugins.stripe.customers import ensure_customer

__all__ = [
    "collect",
    "declined",
    "failure_code",
    "metadata_value",
    "reconcile",
    "result_from_intent",
]

DECLINE_CODES = {
    "insufficient_funds": FailureCode.INSUFFICIENT_FUNDS,
    "expired_card": FailureCode.EXPIRED_CARD,
    "incorrect_cvc": FailureCode.INCORRECT_DETAILS,
    "incorrect_number": FailureCode.INCORRECT_DETAILS,
    "invalid_expiry_year": FailureCode.INCORRECT_DETAILS,
    "authentication_required": FailureCode.AUTHENTICATION_REQUIRED,
    "fraudulent": FailureCode.FRAUD_SUSPECTED,
    "lost_card": FailureCode.FRAUD_SUSPECTED,
    "stolen_card": FailureCode.FRAUD_SUSPECTED,
    "processing_error": FailureCode.PROCESSING_ERROR,
}
"""Stripe's decline and error codes, mapped to Octane's neutral failure codes."""


def metadata_value(obj: Any, key: str) -> str | None:
    """A metadata value of a Stripe object (a StripeObject is not a dict since SDK 15)."""
    metadata = getattr(obj, "metadata", None)
    if metadata is None:
        return None
    value = metadata.get(key) if isinstance(metadata, dict) else getattr(metadata, key, None)
    return None if value is None else str(value)


def failure_code(code: str | None, decline_code: str | None) -> FailureCode:
    for candidate in (decline_code, code):
        if candidate in DECLINE_CODES:
            return DECLINE_CODES[candidate]
    return FailureCode.CARD_DECLINED if code == "card_declined" else FailureCode.OTHER


def declined(error: Any, reference: str | None) -> PaymentResult:
    """A card error (HTTP 402) as a failed payment with the neutral code."""
    details = error.error
    return PaymentResult(
        status=PaymentStatus.FAILED,
        provider_reference=reference,
        failure_code=failure_code(
            getattr(details, "code", None), getattr(details, "decline_code", None)
        ),
        failure_message=f"Stripe: {error.user_message or str(error)}",
    )


def result_from_intent(intent: Any) -> PaymentResult:
    status = intent.status
    if status == "succeeded":
        return PaymentResult(status=PaymentStatus.SUCCEEDED, provider_reference=intent.id)
    if status in ("processing", "requires_capture"):
        return PaymentResult(status=PaymentStatus.PENDING, provider_reference=intent.id)
    error = getattr(intent, "last_payment_error", None)
    return PaymentResult(
        status=PaymentStatus.FAILED,
        provider_reference=intent.id,
        failure_code=failure_code(
            getattr(error, "code", None), getattr(error, "decline_code", None)
        )
        if error
        else FailureCode.AUTHENTICATION_REQUIRED
        if status == "requires_action"
        else FailureCode.OTHER,
        failure_message=getattr(error, "message", None) or f"Stripe: the payment is {status}.",
    )


def _not_connected(error: ConflictError) -> PaymentResult:
    return PaymentResult(
        status=PaymentStatus.FAILED,
        failure_code=FailureCode.PROVIDER_ERROR,
        failure_message=error.message,
    )


async def collect(
    context: PluginContext, attempt: AttemptView, vendor: VendorView, customer: CustomerView
) -> PaymentResult:
    import stripe

    try:
        account = await connected_account(vendor.id)
    except ConflictError as error:
        return _not_connected(error)
    client = stripe_client(context)
    options: Any = {"stripe_account": account}
    invoice = await get_invoice_row(vendor.id, attempt.invoice_id)
    if invoice["provider_invoice_id"]:  # Stripe invoiced: pay Stripe's invoice instead
        return await _pay_invoice(client, account, str(invoice["provider_invoice_id"]), attempt)

    async def charge() -> PaymentResult:
        """Every step is idempotent (a GET, or a POST with a key): safe to run again."""
        stripe_customer = await ensure_customer(client, account, customer)
        record = await client.v1.customers.retrieve_async(stripe_customer, None, options)
        settings = record.invoice_settings
        method = settings.default_payment_method if settings else None
        if not method:
            return PaymentResult(
                status=PaymentStatus.FAILED,
                failure_code=FailureCode.NO_PAYMENT_METHOD,
                failure_message="Stripe: the customer has no saved payment method.",
            )
        params: Any = {
            "amount": attempt.amount,
            "currency": attempt.currency.lower(),
            "customer": stripe_customer,
            "payment_method": method if isinstance(method, str) else method.id,
            "confirm": True,
            "off_session": True,
            "automatic_payment_methods": {"enabled": True, "allow_redirects": "never"},
            "metadata": {"octane_attempt": attempt.id, "octane_invoice": attempt.invoice_id},
        }
        intent = await client.v1.payment_intents.create_async(
            params, {"stripe_account": account, "idempotency_key": attempt.idempotency_key}
        )
        return result_from_intent(intent)

    try:
        return await retrying_rate_limits(charge)
    except stripe.CardError as error:
        intent_id = getattr(getattr(error.error, "payment_intent", None), "id", None)
        return declined(error, intent_id)
    except (stripe.APIConnectionError, stripe.RateLimitError, stripe.APIError):
        return PaymentResult(status=PaymentStatus.UNKNOWN)  # reconciled by lookup later
    except stripe.StripeError as error:
        return PaymentResult(
            status=PaymentStatus.FAILED,
            failure_code=FailureCode.PROVIDER_ERROR,
            failure_message=f"Stripe: {error.user_message or str(error)}",
        )


def _from_invoice(stripe_invoice: Any) -> PaymentResult:
    if stripe_invoice.status == "paid":
        return PaymentResult(status=PaymentStatus.SUCCEEDED, provider_reference=stripe_invoice.id)
    return PaymentResult(
        status=PaymentStatus.FAILED,
        provider_reference=stripe_invoice.id,
        failure_code=FailureCode.PROVIDER_ERROR,
        failure_message=f"Stripe: the invoice is {stripe_invoice.status}, not paid.",
    )


async def _pay_invoice(
    client: Any, account: str, stripe_invoice_id: str, attempt: AttemptView
) -> PaymentResult:
    """Charge Stripe's invoice off-session (invoicing via Stripe with auto-charge on)."""
    import stripe

    try:
        paid = await retrying_rate_limits(
            lambda: client.v1.invoices.pay_async(
                stripe_invoice_id,
                {"off_session": True},
                {"stripe_account": account, "idempotency_key": attempt.idempotency_key},
            )
        )
    except stripe.CardError as error:
        return declined(error, stripe_invoice_id)
    except (stripe.APIConnectionError, stripe.RateLimitError, stripe.APIError):
        return PaymentResult(status=PaymentStatus.UNKNOWN)
    except stripe.InvalidRequestError as error:
        if getattr(error, "code", None) == "invoice_already_paid":
            return PaymentResult(
                status=PaymentStatus.SUCCEEDED, provider_reference=stripe_invoice_id
            )
        return PaymentResult(
            status=PaymentStatus.FAILED,
            failure_code=FailureCode.PROVIDER_ERROR,
            failure_message=f"Stripe: {error.user_message or str(error)}",
        )
    return _from_invoice(paid)


async def reconcile(
    context: PluginContext, attempt: AttemptView, vendor: VendorView, customer: CustomerView
) -> PaymentResult:
    """What Stripe recorded for the attempt, never charging again.

    The customer's payment intents are *listed* (strongly consistent, unlike Stripe's
    search) and matched on our attempt id in their metadata.
    """
    import stripe

    try:
        account = await connected_account(vendor.id)
    except ConflictError as error:
        return _not_connected(error)
    invoice = await get_invoice_row(vendor.id, attempt.invoice_id)
    if invoice["provider_invoice_id"]:
        client_any: Any = stripe_client(context)
        try:
            found = await client_any.v1.invoices.retrieve_async(
                invoice["provider_invoice_id"], None, {"stripe_account": account}
            )
        except stripe.StripeError:
            return PaymentResult(status=PaymentStatus.UNKNOWN)
        return _from_invoice(found)
    stripe_customer = customer.provider_ids.get("stripe")
    if stripe_customer:
        client = stripe_client(context)
        try:
            page = await client.v1.payment_intents.list_async(
                {"customer": stripe_customer, "limit": 100}, {"stripe_account": account}
            )
        except stripe.StripeError:
            return PaymentResult(status=PaymentStatus.UNKNOWN)
        for intent in page.data:
            if metadata_value(intent, "octane_attempt") == attempt.id:
                return result_from_intent(intent)
    return PaymentResult(
        status=PaymentStatus.FAILED,
        failure_code=FailureCode.PROVIDER_ERROR,
        failure_message="Stripe has no payment for this attempt.",
    )
