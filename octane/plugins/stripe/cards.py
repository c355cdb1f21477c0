"""Collecting a customer's card: a Stripe Checkout Session in setup mode.

The vendor sends the link to its customer; when the customer has saved a card,
Stripe's ``checkout.session.completed`` event arrives and the saved payment method
becomes the customer's default, which off-session charges then use.
"""

from __future__ import annotations

from typing import Any

from octane.core.contracts import CustomerView
from octane.core.plugin_context import PluginContext
from octane.plugins.stripe.client import connected_account, stripe_client
from octane.plugins.stripe.customers import ensure_customer

__all__ = ["card_setup_link", "save_default_card"]


async def card_setup_link(
    context: PluginContext, vendor_id: str, customer: CustomerView, *, return_url: str
) -> dict[str, Any]:
    """A Checkout Session (setup mode) for ``customer``: its URL and when it expires."""
    account = await connected_account(vendor_id)
    client: Any = stripe_client(context)
    stripe_customer = await ensure_customer(client, account, customer)
    session = await client.v1.checkout.sessions.create_async(
        {
            "mode": "setup",
            "customer": stripe_customer,
            "currency": customer.currency.lower(),
            "success_url": f"{return_url}?card=saved",
            "cancel_url": f"{return_url}?card=cancelled",
            "metadata": {"octane_customer": customer.id},
        },
        {"stripe_account": account},
    )
    return {"url": session.url, "expires_at": session.expires_at, "id": session.id}


async def save_default_card(context: PluginContext, account: str, session: Any) -> bool:
    """Make the card saved through a completed setup session the customer's default."""
    if getattr(session, "mode", None) != "setup" or not getattr(session, "setup_intent", None):
        return False
    client: Any = stripe_client(context)
    options = {"stripe_account": account}
    intent = await client.v1.setup_intents.retrieve_async(session.setup_intent, None, options)
    if intent.status != "succeeded" or not intent.payment_method:
        return False
    await client.v1.customers.update_async(
        session.customer,
        {"invoice_settings": {"default_payment_method": intent.payment_method}},
        {**options, "idempotency_key": f"octane-default-card-{session.id}"},
    )
    return True
