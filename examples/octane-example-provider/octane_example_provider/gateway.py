"""Talking to ExamplePay: create a charge, look one up, and translate its answers.

ExamplePay's API (JSON over HTTPS, ``Authorization: Bearer <api key>``):

* ``POST /v1/charges`` with ``{"amount", "currency", "payer", "description", "metadata"}``
  and an ``Idempotency-Key`` header. The same key again returns the first charge and
  charges nothing more. Answers ``200`` with the charge (``status`` ``succeeded``,
  ``declined`` with a ``decline_code`` and ``decline_message``, or ``processing``), or an
  error ``{"error": {"code", "message"}}``.
* ``GET /v1/charges?idempotency_key=<key>``: ``{"data": [charge, ...]}``, empty when
  ExamplePay never recorded a charge under that key.

How an answer becomes a :class:`~octane.core.contracts.PaymentResult`:

* a charge: ``succeeded``, ``pending`` (processing) or ``failed`` with the neutral code
  that :data:`DECLINE_CODES` maps ExamplePay's decline code to;
* a timeout, a broken connection or a 5xx: ``unknown``. ExamplePay may have charged; Octane
  asks :func:`reconcile` later and never charges blindly again;
* any other error (a refused API key, a refused request): ``failed`` with
  ``provider_error``, because ExamplePay said it did not charge.

The customer is identified at ExamplePay by a payer id that the vendor stores on the
customer in Octane (``provider_ids.examplepay``); the card stays at ExamplePay, and
this plugin never sees or stores card data.
"""

from __future__ import annotations

from typing import Any

import httpx
from octane.core.contracts import (
    AttemptView,
    CustomerView,
    FailureCode,
    PaymentResult,
    PaymentStatus,
    VendorView,
)

from octane_example_provider.config import PROVIDER, ExamplePayConfig

__all__ = ["DECLINE_CODES", "collect", "reconcile", "result_from_charge"]

DECLINE_CODES: dict[str, FailureCode] = {
    "refused": FailureCode.CARD_DECLINED,
    "no_funds": FailureCode.INSUFFICIENT_FUNDS,
    "card_expired": FailureCode.EXPIRED_CARD,
    "bad_details": FailureCode.INCORRECT_DETAILS,
    "needs_authentication": FailureCode.AUTHENTICATION_REQUIRED,
    "risk_blocked": FailureCode.FRAUD_SUSPECTED,
    "no_card": FailureCode.NO_PAYMENT_METHOD,
}
"""ExamplePay's decline codes and Octane's provider-neutral failure code for each; any
other code becomes ``other``."""


def _failed(code: FailureCode, message: str, reference: str | None = None) -> PaymentResult:
    return PaymentResult(
        status=PaymentStatus.FAILED,
        provider_reference=reference,
        failure_code=code,
        failure_message=message,
    )


def result_from_charge(charge: dict[str, Any]) -> PaymentResult:
    """What an ExamplePay charge object means for Octane."""
    reference = str(charge["id"])
    status = charge.get("status")
    if status == "succeeded":
        return PaymentResult(status=PaymentStatus.SUCCEEDED, provider_reference=reference)
    if status == "processing":
        return PaymentResult(status=PaymentStatus.PENDING, provider_reference=reference)
    if status == "declined":
        code = str(charge.get("decline_code") or "")
        message = str(charge.get("decline_message") or "the payment was declined")
        return _failed(
            DECLINE_CODES.get(code, FailureCode.OTHER), f"ExamplePay: {message}", reference
        )
    return _failed(
        FailureCode.PROVIDER_ERROR, f"ExamplePay: unexpected charge status {status!r}.", reference
    )


def _client(config: ExamplePayConfig) -> httpx.AsyncClient:
    # One client per call keeps the example simple and safe on any event loop. A busy
    # plugin would keep one in ``context.state`` and close it with ``context.on_close``.
    return httpx.AsyncClient(
        base_url=config.api_base,
        timeout=config.timeout_seconds,
        headers={"Authorization": f"Bearer {config.api_key}"},
    )


def _error_message(response: httpx.Response) -> str:
    try:
        error = response.json()["error"]
        return f"ExamplePay: {error['message']} ({error['code']}, HTTP {response.status_code})."
    except (ValueError, KeyError, TypeError):
        return f"ExamplePay answered HTTP {response.status_code}."


def _not_configured() -> PaymentResult:
    return _failed(
        FailureCode.PROVIDER_ERROR,
        'plugins.examplepay.api_key is not set (api_key = { "$env" = "EXAMPLEPAY_API_KEY" }).',
    )


async def collect(
    config: ExamplePayConfig, attempt: AttemptView, vendor: VendorView, customer: CustomerView
) -> PaymentResult:
    """Charge ``attempt.amount`` once, under the attempt's idempotency key."""
    if not config.api_key:
        return _not_configured()
    payer = customer.provider_ids.get(PROVIDER)
    if not payer:
        return _failed(
            FailureCode.NO_PAYMENT_METHOD,
            f"The customer '{customer.name}' has no ExamplePay payer id "
            "(set provider_ids.examplepay on the customer).",
        )
    body = {
        "amount": attempt.amount,  # integer minor units, exactly what the core asked for
        "currency": attempt.currency,
        "payer": payer,
        "description": f"Invoice {attempt.invoice_id}",
        # Echoed back in webhook events: how an event finds its vendor and attempt.
        "metadata": {
            "octane_vendor": vendor.id,
            "octane_invoice": attempt.invoice_id,
            "octane_attempt": attempt.id,
        },
    }
    try:
        async with _client(config) as client:
            response = await client.post(
                "/v1/charges", json=body, headers={"Idempotency-Key": attempt.idempotency_key}
            )
    except httpx.HTTPError:  # timeout or broken connection: it may have gone through
        return PaymentResult(status=PaymentStatus.UNKNOWN)
    if response.status_code >= 500:
        return PaymentResult(status=PaymentStatus.UNKNOWN)
    if response.status_code != 200:
        return _failed(FailureCode.PROVIDER_ERROR, _error_message(response))
    return result_from_charge(response.json())


async def reconcile(config: ExamplePayConfig, attempt: AttemptView) -> PaymentResult:
    """What ExamplePay recorded under the attempt's idempotency key. Only looks."""
    if not config.api_key:
        return _not_configured()
    try:
        async with _client(config) as client:
            response = await client.get(
                "/v1/charges", params={"idempotency_key": attempt.idempotency_key}
            )
    except httpx.HTTPError:
        return PaymentResult(status=PaymentStatus.UNKNOWN)  # asked again later
    if response.status_code != 200:
        return PaymentResult(status=PaymentStatus.UNKNOWN)
    charges = response.json().get("data") or []
    if not charges:
        return _failed(FailureCode.PROVIDER_ERROR, "ExamplePay has no charge for this attempt.")
    return result_from_charge(charges[0])
