"""A checkout link for an unpaid invoice, for customers without a Paddle subscription.

Paddle can only charge a saved payment method through a subscription, so a customer
without one pays an invoice through Paddle Checkout: an automatically collected
transaction for the amount due, whose ``checkout.url`` the vendor sends. The price is
tax-inclusive (``tax_mode: internal``): the customer pays exactly what our invoice says.
When it is paid, ``transaction.completed`` (our invoice id in ``custom_data``) settles
the invoice. Asking again reuses the transaction, so one invoice never has two.
"""

from __future__ import annotations

from typing import Any

from octane.core.errors import StateError
from octane.core.invoices import get_invoice_row
from octane.core.plugin_context import PluginContext
from octane.core.views import customer_view_by_id
from octane.plugins.paddle.connection import api_for
from octane.plugins.paddle.customers import ensure_customer
from octane.plugins.paddle.invoicing import find_transaction

__all__ = ["PAYABLE_BY_LINK", "checkout_link"]

PAYABLE_BY_LINK = ("finalized", "delivered", "failed", "uncollectible")


async def checkout_link(context: PluginContext, vendor_id: str, invoice_id: str) -> str:
    """Paddle Checkout's address for paying the invoice's amount due."""
    row = await get_invoice_row(vendor_id, invoice_id)
    due = int(row["amount_due"]) - int(row["amount_paid"])
    name = row["number"] or invoice_id
    if row["status"] not in PAYABLE_BY_LINK:
        raise StateError(
            f"The invoice {name} is {row['status']}; only a finalized, delivered, failed or "
            "uncollectible invoice is paid by link.",
            field="id",
            code="invoice_not_payable",
        )
    if due <= 0:
        raise StateError(
            f"Nothing is due on the invoice {name}.", field="id", code="invoice_not_payable"
        )
    if row["provider_invoice_id"]:
        raise StateError(
            "Paddle invoiced this invoice itself: its customer pays from Paddle's invoice.",
            field="id",
            code="invoice_not_payable",
        )
    api = await api_for(context, vendor_id)
    customer, _ = await customer_view_by_id(str(row["customer"]))
    twin = await ensure_customer(api, customer)
    found = await find_transaction(
        api, {"customer_id": twin.customer_id}, "octane_checkout", invoice_id
    )
    if found is None:
        label = f"Invoice {row['number']}"
        body: dict[str, Any] = {
            "items": [
                {
                    "quantity": 1,
                    "price": {
                        "description": label,
                        "name": label,
                        "unit_price": {"amount": str(due), "currency_code": row["currency"]},
                        "product": {"name": label, "tax_category": "standard"},
                        "tax_mode": "internal",
                    },
                }
            ],
            "customer_id": twin.customer_id,
            "currency_code": row["currency"],
            "collection_mode": "automatic",
            "custom_data": {"octane_invoice": invoice_id, "octane_checkout": invoice_id},
        }
        if twin.address_id:
            body["address_id"] = twin.address_id
        found = await api.data("POST", "/transactions", body=body)
    url = (found.get("checkout") or {}).get("url")
    if not url:
        raise StateError(
            "Paddle gave no checkout link: set a default payment link in Paddle (Checkout > "
            "Checkout settings).",
            field="id",
            code="paddle_no_checkout",
        )
    return str(url)
