"""The Stripe SDK client of one running Octane, and the vendor's connected account.

Every call for a vendor is made with the platform's key *on the vendor's connected
account* (``stripe_account``): customers, payment intents and invoices live there.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

from octane.core.errors import ConflictError, PluginError
from octane.core.plugin_context import PluginContext
from octane.core.provider_accounts import find_account

if TYPE_CHECKING:
    import stripe

__all__ = ["PROVIDER", "connected_account", "retrying_rate_limits", "stripe_client"]

T = TypeVar("T")
PROVIDER = "stripe"
RATE_LIMIT_WAITS = (0.5, 1.0, 2.0)
"""Seconds to wait before each retry of a request Stripe refused with 429."""
TIMEOUT_SECONDS = 20.0


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def stripe_client(context: PluginContext) -> stripe.StripeClient:
    """One client per Octane and event loop, built on first use (the SDK is imported only
    then). Per loop: the SDK's httpx client belongs to the loop that first used it, and
    an embedding application may run the web app and the worker on different loops."""
    clients: weakref.WeakKeyDictionary[Any, stripe.StripeClient] = context.state.setdefault(
        "clients", weakref.WeakKeyDictionary()
    )
    loop = _running_loop()
    found = clients.get(loop) if loop is not None else context.state.get("sync_client")
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
        if loop is not None:
            clients[loop] = found
        else:
            context.state["sync_client"] = found
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


async def retrying_rate_limits(call: Callable[[], Awaitable[T]]) -> T:
    """Run ``call``, waiting and trying again while Stripe answers 429 (rate limited).

    Safe because every POST carries an idempotency key: a retried request that Stripe
    did run returns its first answer. After the last wait the RateLimitError is raised.
    """
    import stripe

    for wait in RATE_LIMIT_WAITS:
        try:
            return await call()
        except stripe.RateLimitError:
            await asyncio.sleep(wait)
    return await call()
