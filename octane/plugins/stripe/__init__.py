"""The ``stripe`` plugin: Stripe Connect, customer sync, off-session charging, webhooks.

* A vendor connects its own Stripe account through Connect OAuth
  (``POST /api/v1/stripe/connect``, then ``/stripe/oauth/callback``); every call for
  the vendor is then made on that account with the platform's key.
* ``collect_payment`` charges the customer's saved card with a PaymentIntent created
  and confirmed off-session under the attempt's idempotency key;
  ``reconcile_payment`` finds a charge whose answer was lost by our metadata.
* ``POST /webhooks/stripe`` verifies each event's signature, records it once, and
  applies payment outcomes and deauthorizations.

* With "invoicing via payment provider" on, the ``stripe`` delivery channel turns our
  finalized invoice into a Stripe invoice that Stripe sends (Stripe Tax optional,
  ``PUT /api/v1/stripe/settings``); Stripe's tax and links are copied back, our own
  email is not sent, and auto-charge pays Stripe's invoice.

* ``POST /api/v1/stripe/customers/{name}/card-link``: a Checkout Session in setup mode;
  the saved card becomes the customer's default.

* The portal's Settings > Payment provider panel: "Connect with Stripe" (the state is
  bound to the portal session), the connected account, disconnect, Stripe Tax.

The ``stripe`` SDK is imported lazily, only when used.
"""

from __future__ import annotations

import importlib.util
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
from octane.core.errors import MissingDependencyError
from octane.core.plugin_context import PluginContext

__all__ = [
    "StripeConfig",
    "check_compatibility",
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
    "require_sdk",
    "send_notification",
]


class StripeConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """``[plugins.stripe]``: the platform account that vendors connect to."""

    secret_key: Annotated[
        str | None,
        msgspec.Meta(description='The platform\'s secret key: { "$env" = "STRIPE_SECRET_KEY" }.'),
    ] = None
    connect_client_id: Annotated[
        str | None, msgspec.Meta(description="The Connect OAuth client id (ca_...).")
    ] = None
    webhook_secret: Annotated[
        str | None,
        msgspec.Meta(description="The signing secret of the Connect webhook endpoint (whsec_...)."),
    ] = None
    timeout_seconds: Annotated[
        float,
        msgspec.Meta(
            gt=0,
            le=120,
            description="How long to wait for Stripe before the answer counts as lost.",
        ),
    ] = 20.0
    api_base: Annotated[
        str | None,
        msgspec.Meta(description="Override Stripe's API address (tests use a local fake)."),
    ] = None


def require_sdk() -> None:
    """Raise a MissingDependencyError naming the pip command if the SDK is absent."""
    if importlib.util.find_spec("stripe") is None:
        raise MissingDependencyError("stripe", "stripe", purpose="the Stripe plugin")


@hookimpl
def check_compatibility() -> list[str]:
    try:
        require_sdk()
    except MissingDependencyError as exc:
        return [exc.message]
    return []


@hookimpl
def plugin_config_schema() -> type[StripeConfig]:
    return StripeConfig


@hookimpl
def register_payment_providers() -> list[PaymentProviderInfo]:
    return [
        PaymentProviderInfo(name="stripe", display_name="Stripe", supports_provider_invoicing=True)
    ]


@hookimpl
def register_delivery_channels() -> list[DeliveryChannelInfo]:
    return [DeliveryChannelInfo(name="stripe", display_name="Stripe invoices (sent by Stripe)")]


@hookimpl
async def deliver_invoice(
    invoice: InvoiceView,
    customer: CustomerView,
    send_key: str,
    settings: dict[str, Any],
    context: PluginContext,
) -> DeliveryResult:
    from octane.plugins.stripe.invoicing import deliver

    return await deliver(context, invoice, customer, send_key, settings)


@hookimpl
def send_notification(notification: Notification) -> DeliveryResult:
    # Stripe sends its own receipts and payment-failure emails for its invoices (as the
    # vendor configured them in Stripe): Octane sends nothing of its own.
    return DeliveryResult(
        status=DeliveryStatus.DELIVERED, reference=f"stripe-managed:{notification.kind.value}"
    )


@hookimpl
def register_routes() -> list[Any]:
    from octane.plugins.stripe.portal import StripePortalController
    from octane.plugins.stripe.routes import StripeApiController, StripePublicController

    return [StripeApiController, StripePublicController, StripePortalController]


@hookimpl
def register_jobs() -> list[JobSpec]:
    from octane.plugins.stripe.events import process_event_job, process_pending_job

    return [
        JobSpec(name="stripe:process_event", function=process_event_job),
        JobSpec(name="stripe:process_pending", function=process_pending_job, cron="* * * * *"),
    ]


@hookimpl
def register_template_dirs() -> list[Path]:
    return [Path(__file__).parent / "templates"]


@hookimpl
def register_settings_panels() -> list[SettingsPanel]:
    return [
        SettingsPanel(
            name="stripe", title="Stripe", template="stripe/panel.html", section="payment_provider"
        )
    ]


@hookimpl
async def collect_payment(
    attempt: AttemptView, vendor: VendorView, customer: CustomerView, context: PluginContext
) -> PaymentResult:
    from octane.plugins.stripe.payments import collect

    return await collect(context, attempt, vendor, customer)


@hookimpl
async def reconcile_payment(
    attempt: AttemptView, vendor: VendorView, customer: CustomerView, context: PluginContext
) -> PaymentResult:
    from octane.plugins.stripe.payments import reconcile

    return await reconcile(context, attempt, vendor, customer)
