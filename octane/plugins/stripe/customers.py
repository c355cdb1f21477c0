"""The customer's twin on the vendor's Stripe account: found or created once, then remembered.

The Stripe customer carries our customer id in its metadata, and is created with an
idempotency key derived from it, so two syncs at once, or a sync after a lost answer,
find the same Stripe customer instead of making a second one.
"""

from __future__ import annotations

from typing import Any

from octane.core.contracts import CustomerView
from octane.core.customers import set_provider_id
from octane.plugins.stripe.client import PROVIDER

__all__ = ["ensure_customer"]

ADDRESS_KEYS = ("line1", "line2", "city", "postal_code", "state", "country")


async def ensure_customer(client: Any, account: str, customer: CustomerView) -> str:
    """The Stripe customer id of ``customer`` on ``account``, created if needed."""
    known = customer.provider_ids.get(PROVIDER)
    if known:
        return known
    options: Any = {"stripe_account": account}
    found = await client.v1.customers.search_async(
        {"query": f"metadata['octane_customer']:'{customer.id}'"}, options
    )
    if found.data:
        stripe_id = str(found.data[0].id)
    else:
        params: dict[str, Any] = {
            "name": customer.display_name or customer.name,
            "metadata": {"octane_customer": customer.id, "octane_name": customer.name},
        }
        if customer.email:
            params["email"] = customer.email
        address = {k: customer.address[k] for k in ADDRESS_KEYS if customer.address.get(k)}
        if address:
            params["address"] = address
        created = await client.v1.customers.create_async(
            params, {**options, "idempotency_key": f"octane-customer-{customer.id}"}
        )
        stripe_id = str(created.id)
    await set_provider_id(customer.id, PROVIDER, stripe_id)
    return stripe_id
