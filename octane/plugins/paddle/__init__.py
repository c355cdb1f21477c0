"""The ``paddle`` plugin: the Paddle Billing API over httpx.

* Each vendor connects its own Paddle account: an API key and the secret of the
  notification destination, stored encrypted (``PUT /api/v1/paddle/connection``), in
  the sandbox or live environment; ``POST /api/v1/paddle/connection/test`` checks
  the key.
* Customers are synced (customer, address, business with a tax id), a 409
  ``customer_already_exists`` resolving to the existing customer.
* With "invoicing via payment provider" on, the ``paddle`` delivery channel turns our
  finalized invoice into a billed, manually collected Paddle transaction that Paddle
  numbers and emails; Paddle's tax is copied back and its PDF stored; Octane sends no
  email of its own.
* ``collect_payment`` charges through the customer's Paddle subscription (a one-time
  charge effective immediately), after looking for an earlier charge of the same
  attempt; ``reconcile_payment`` finds a charge whose answer was lost.
* ``POST /webhooks/paddle/{vendor}`` verifies each notification with the vendor's
  secret, records it once and answers; a job settles invoices or applies charge
  outcomes, and a sweep every minute applies any notification whose job was lost.
* A client-side rate limiter keeps every Octane process well under Paddle's 240
  requests a minute, and a 429 pauses it for ``Retry-After``.

* The portal's Settings > Payment provider panel: connect with the key and secret,
  test the connection, disconnect, and the last notification received.

Approved refunds and chargebacks (``adjustment.*``) become refund ledger entries;
``subscription.past_due``/``canceled`` and invoice transactions billed or canceled in
Paddle show on the timeline.

* A customer without a subscription pays an invoice through a Paddle Checkout link
  (``POST /api/v1/paddle/invoices/{id}/checkout-link``, or the customer's page in the
  portal); ``transaction.completed`` settles the invoice.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import msgspec

from octane import hookimpl
from octane.core.contracts import (
    AttemptView,
    CustomerView,
    DeliveryChannelInfo,
    DeliveryResult,
    DeliveryStatus,
    InvoiceView,
    JobSpec,
    Notification,
    PaymentProviderInfo,
    PaymentResult,
    SettingsPanel,
    VendorView,
)
from octane.core.plugin_context import PluginContext

__all__ = [
    "PaddleConfig",
    "collect_payment",
    "deliver_invoice",
    "plugin_config_schema",
    "reconcile_payment",
    "register_delivery_channels",
    "register_jobs",
    "register_payment_providers",
    "register_routes",
    "register_settings_panels",
    "register_template_dirs",
    "send_notification",
]


class PaddleConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """``[plugins.paddle]``: deployment-wide Paddle settings (credentials are per vendor)."""

    sandbox_api_base: Annotated[
        str, msgspec.Meta(description="Paddle's sandbox API address (tests use a local fake).")
    ] = "https://sandbox-api.paddle.com"
    live_api_base: Annotated[str, msgspec.Meta(description="Paddle's live API address.")] = (
        "https://api.paddle.com"
    )
    max_requests: Annotated[
        int,
        msgspec.Meta(
            ge=1,
            le=240,
            description="At most this many requests to Paddle per rate window from this "
            "process (Paddle allows 240 a minute per IP and locks out clients that keep "
            "going; divide among processes sharing one IP).",
        ),
    ] = 200
    rate_window_seconds: Annotated[
        float,
        msgspec.Meta(
            gt=0, le=3600, description="The rate window in seconds (Paddle's is a minute)."
        ),
    ] = 60.0
    timeout_seconds: Annotated[
        float,
        msgspec.Meta(
            gt=0,
            le=120,
            description="How long to wait for Paddle before the answer counts as lost.",
        ),
    ] = 20.0


@hookimpl
def plugin_config_schema() -> type[PaddleConfig]:
    return PaddleConfig


@hookimpl
def register_payment_providers() -> list[PaymentProviderInfo]:
    return [
        PaymentProviderInfo(name="paddle", display_name="Paddle", supports_provider_invoicing=True)
    ]


@hookimpl
def register_delivery_channels() -> list[DeliveryChannelInfo]:
    return [DeliveryChannelInfo(name="paddle", display_name="Paddle invoices (sent by Paddle)")]


@hookimpl
async def deliver_invoice(
    invoice: InvoiceView,
    customer: CustomerView,
    send_key: str,
    settings: dict[str, Any],
    context: PluginContext,
) -> DeliveryResult:
    from octane.plugins.paddle.invoicing import deliver

    return await deliver(context, invoice, customer, send_key, settings)


@hookimpl
def send_notification(notification: Notification) -> DeliveryResult:
    # Paddle emails its invoices, receipts and payment-failure messages itself (merchant
    # of record): Octane sends nothing of its own on the paddle channel.
    return DeliveryResult(
        status=DeliveryStatus.DELIVERED, reference=f"paddle-managed:{notification.kind.value}"
    )


@hookimpl
def register_routes() -> list[Any]:
    from octane.plugins.paddle.portal import PaddleCustomerActions, PaddlePortalController
    from octane.plugins.paddle.routes import PaddleApiController, PaddlePublicController

    return [
        PaddleApiController,
        PaddlePublicController,
        PaddlePortalController,
        PaddleCustomerActions,
    ]


@hookimpl
def register_jobs() -> list[JobSpec]:
    from octane.plugins.paddle.events import process_event_job, process_pending_job

    return [
        JobSpec(name="paddle:process_event", function=process_event_job),
        JobSpec(name="paddle:process_pending", function=process_pending_job, cron="* * * * *"),
    ]


@hookimpl
def register_template_dirs() -> list[Path]:
    return [Path(__file__).parent / "templates"]


@hookimpl
def register_settings_panels() -> list[SettingsPanel]:
    return [
        SettingsPanel(
            name="paddle", title="Paddle", template="paddle/panel.html", section="payment_provider"
        )
    ]


@hookimpl
async def collect_payment(
    attempt: AttemptView, vendor: VendorView, customer: CustomerView, context: PluginContext
) -> PaymentResult:
    from octane.plugins.paddle.payments import collect

    return await collect(context, attempt, vendor, customer)


@hookimpl
async def reconcile_payment(
    attempt: AttemptView, vendor: VendorView, customer: CustomerView, context: PluginContext
) -> PaymentResult:
    from octane.plugins.paddle.payments import reconcile

    return await reconcile(context, attempt, vendor, customer)
