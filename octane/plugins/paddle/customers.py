"""The customer's twin at Paddle: customer, address and (with a tax id) business.

Paddle has no idempotency keys, but a customer's email is unique at Paddle: creating
one that exists answers 409 ``customer_already_exists`` naming the existing customer,
which is then used (a second sync, or a sync after a lost answer, finds the same
one). Addresses and businesses are looked up on the customer before one is created.
The ids are remembered in ``provider_ids`` (``paddle``, ``paddle_address``,
``paddle_business``).

A business is created when ``payment_config.paddle`` has a ``tax_identifier`` (and
optionally ``company_name``); Paddle then applies reverse charge where it may.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from octane.core.contracts import CustomerView
from octane.core.customers import set_provider_id
from octane.plugins.paddle.client import PROVIDER, PaddleApi, PaddleError, existing_customer_id

__all__ = ["PaddleCustomer", "SetupError", "ensure_customer"]


class SetupError(Exception):
    """The customer cannot exist at Paddle as it is (no email, no country): a person must
    fix the customer; retrying will not help."""


@dataclass(frozen=True)
class PaddleCustomer:
    customer_id: str
    address_id: str | None
    business_id: str | None


def _address_body(customer: CustomerView) -> dict[str, Any] | None:
    address = customer.address
    country = (address.get("country") or "").upper()
    if not country:
        return None
    body: dict[str, Any] = {"country_code": country}
    for ours, theirs in (
        ("postal_code", "postal_code"),
        ("line1", "first_line"),
        ("line2", "second_line"),
        ("city", "city"),
        ("state", "region"),
    ):
        if address.get(ours):
            body[theirs] = address[ours]
    return body


async def ensure_customer(api: PaddleApi, customer: CustomerView) -> PaddleCustomer:
    """The customer's Paddle ids, creating what is missing."""
    ids = customer.provider_ids
    customer_id = ids.get(PROVIDER)
    fresh = False  # created just now: it has no addresses or businesses to look up
    if not customer_id:
        if not customer.email:
            raise SetupError(
                f"The customer '{customer.name}' has no email address; Paddle needs one."
            )
        try:
            created = await api.data(
                "POST",
                "/customers",
                body={
                    "email": customer.email,
                    "name": customer.display_name or customer.name,
                    "custom_data": {"octane_customer": customer.id},
                },
            )
            customer_id, fresh = str(created["id"]), True
        except PaddleError as error:
            customer_id = existing_customer_id(error)
            if customer_id is None:
                raise
        await set_provider_id(customer.id, PROVIDER, customer_id)
    address_id = ids.get("paddle_address")
    if not address_id and (body := _address_body(customer)):
        existing = (
            []
            if fresh
            else await api.list_all(f"/customers/{customer_id}/addresses", {"status": "active"})
        )
        match = [a for a in existing if a.get("country_code") == body["country_code"]]
        if match:
            address_id = str(match[0]["id"])
        else:
            try:
                created = await api.data("POST", f"/customers/{customer_id}/addresses", body=body)
            except PaddleError as error:
                if error.status == 400:
                    raise SetupError(f"Paddle refused the customer's address: {error}") from None
                raise
            address_id = str(created["id"])
        await set_provider_id(customer.id, "paddle_address", address_id)
    business_id = ids.get("paddle_business")
    paddle_config = customer.payment_config.get(PROVIDER) or {}
    tax_identifier = paddle_config.get("tax_identifier")
    if not business_id and tax_identifier:
        existing = (
            []
            if fresh
            else await api.list_all(f"/customers/{customer_id}/businesses", {"status": "active"})
        )
        match = [b for b in existing if b.get("tax_identifier") == tax_identifier]
        if match:
            business_id = str(match[0]["id"])
        else:
            created = await api.data(
                "POST",
                f"/customers/{customer_id}/businesses",
                body={
                    "name": paddle_config.get("company_name")
                    or customer.display_name
                    or customer.name,
                    "tax_identifier": tax_identifier,
                },
            )
            business_id = str(created["id"])
        await set_provider_id(customer.id, "paddle_business", business_id)
    return PaddleCustomer(customer_id, address_id, business_id)
