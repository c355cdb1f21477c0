"""The Stripe SDK client of one running Octane, and the vendor's connected account.

Every call for a vendor is made with the platform's key *on the vendor's connected
account* (``stripe_account``): customers, payment intents and invoices live there.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from octane.core.errors import ConflictError, PluginError
from octane.core.plugin_context import PluginContext
from octane.core.provider_accounts import find_account

if TYPE_CHECKING:
    import stripe

__all__ = ["PROVIDER", "connected_account", "stripe_client"]

PROVIDER = "stripe"
TIMEOUT_SECONDS = 20.0


def stripe_client(context: PluginContext) -> stripe.StripeClient:
    """One client per Octane, built on first use (the SDK is imported only then)."""
    found: stripe.StripeClient | None = context.state.get("client")
    if found is None:
        import stripe

        config = context.config
        if not config.secret_key:
            raise PluginError(
                "plugins.stripe.secret_key is not set: the platform's Stripe secret key is "
                'needed (write secret_key = { "$env" = "STRIPE_SECRET_KEY" }).',
                field="plugins.stripe.secret_key",
            )
        bases: dict[str, str] = {}
        if config.api_base:
            bases = {"api": config.api_base, "connect": config.api_base}
        found = stripe.StripeClient(
            config.secret_key,
            client_id=config.connect_client_id,
            base_addresses=bases,  # type: ignore[arg-type]
            http_client=stripe.HTTPXClient(timeout=config.timeout_seconds, allow_sync_methods=True),
            max_network_retries=0,
        )
        context.state["client"] = found
    return found


async def connected_account(vendor_id: str) -> str:
    """The vendor's connected Stripe account id; a ConflictError if it has none."""
    account = await find_account(vendor_id, PROVIDER)
    if account is None or account["status"] != "connected" or not account["account_id"]:
        raise ConflictError(
            "This vendor has not connected a Stripe account (Settings > Payment provider > "
            "Connect with Stripe, or POST /api/v1/stripe/connect).",
            code="stripe_not_connected",
        )
    return str(account["account_id"])
