"""Invoicing via Paddle: our finalized invoice becomes a billed Paddle transaction.

Used when the vendor's "invoicing via payment provider" is on (the ``paddle`` delivery
channel). The transaction has one non-catalog item per line of ours (amounts as
strings in minor units, exactly as we computed them), our invoice id in
``custom_data``, ``collection_mode: manual`` with payment terms of the payment grace
period, and ``status: billed``: Paddle numbers it and emails it to the customer.
Paddle is merchant of record: our own tax lines are left out, Paddle computes the
tax, and its tax is copied back onto our invoice and ledger. Paddle refuses negative
prices, so when credits, discounts or a trial reduce the invoice, the lines go as
one item with the net amount and a description naming what was taken off.

Paddle has no idempotency keys: before creating, the customer's transactions are
searched for one carrying our invoice id, so a retry after a lost answer reuses it.
Paddle's invoice PDF (its link expires after an hour) is downloaded and stored as
the invoice's PDF, so ``GET /api/v1/invoices/{id}/pdf`` serves Paddle's document.
"""

from __future__ import annotations

import logging
from typing import Any

import httpx

from octane.core.clocks import vendor_clock
from octane.core.contracts import CustomerView, DeliveryResult, DeliveryStatus, InvoiceView
from octane.core.errors import ConflictError, PluginError
from octane.core.invoice_documents import document_key
from octane.core.invoice_settings import parse_duration
from octane.core.invoices import get_invoice_row
from octane.core.plugin_context import PluginContext
from octane.core.provider_invoices import record_provider_invoice
from octane.core.store.tables import Invoice
from octane.plugins.paddle.client import (
    PROVIDER,
    PaddleApi,
    PaddleError,
    PaddleUnavailable,
    http_client,
)
from octane.plugins.paddle.connection import api_for
from octane.plugins.paddle.customers import SetupError, ensure_customer

__all__ = ["MANUAL_CURRENCIES", "deliver", "find_transaction", "items_for", "store_pdf"]

log = logging.getLogger("octane.paddle")
MANUAL_CURRENCIES = ("USD", "EUR", "GBP")
"""The currencies Paddle accepts for manually collected (invoiced) transactions."""


def _item(description: str, amount: int, currency: str, kind: str) -> dict[str, Any]:
    text = description.strip() or kind
    return {
        "quantity": 1,
        "price": {
            "description": text[:500].ljust(2, "."),
            "name": text[:150],
            "unit_price": {"amount": str(amount), "currency_code": currency},
            "product": {"name": text[:150], "tax_category": "standard"},
            "tax_mode": "account_setting",
            "custom_data": {"octane_kind": kind},
        },
    }


def items_for(invoice: InvoiceView) -> list[dict[str, Any]]:
    """The transaction's items: one per line of ours (our tax left out)."""
    lines = [(line.description, line.amount, line.kind) for line in invoice.charges]
    lines += [(a.description, a.amount, a.stage) for a in invoice.adjustments if a.stage != "tax"]
    if all(amount >= 0 for _, amount, _ in lines):
        return [
            _item(text, amount, invoice.currency, kind) for text, amount, kind in lines if amount
        ]
    net = sum(amount for _, amount, _ in lines)
    if net <= 0:
        return []  # nothing due: Paddle refuses zero-value invoices
    reductions = ", ".join(f"{text}" for text, amount, _ in lines if amount < 0)
    period = f"{invoice.period_start:%Y-%m-%d} to {invoice.period_end:%Y-%m-%d}"
    text = f"Usage {period}, less {reductions}"
    return [_item(text, net, invoice.currency, "net")]


async def find_transaction(
    api: PaddleApi, params: dict[str, str], key: str, value: str
) -> dict[str, Any] | None:
    """A transaction whose ``custom_data`` (or an item's price's) has ``key: value``."""
    for transaction in await api.list_all("/transactions", params):
        if (transaction.get("custom_data") or {}).get(key) == value:
            return transaction
        for item in transaction.get("items") or []:
            if ((item.get("price") or {}).get("custom_data") or {}).get(key) == value:
                return transaction
    return None


async def store_pdf(
    context: PluginContext, api: PaddleApi, vendor_id: str, invoice_id: str, transaction_id: str
) -> None:
    """Download Paddle's invoice PDF (its link lives an hour) and keep it as ours."""
    link = await api.data("GET", f"/transactions/{transaction_id}/invoice")
    try:
        response = await http_client(context).get(str(link["url"]))  # no key: a signed link
    except httpx.HTTPError as error:
        raise PaddleUnavailable(f"The invoice PDF did not download: {error}") from None
    if response.status_code != 200 or not response.content.startswith(b"%PDF"):
        raise PaddleUnavailable(f"The invoice PDF link answered HTTP {response.status_code}.")
    key = document_key(vendor_id, invoice_id)
    await context.documents.put_once(key, response.content)
    await Invoice.update({Invoice.pdf_path: key}).where(
        (Invoice.id == invoice_id) & (Invoice.pdf_path == "")
    )


async def deliver(
    context: PluginContext,
    invoice: InvoiceView,
    customer: CustomerView,
    send_key: str,
    settings: dict[str, Any],
) -> DeliveryResult:
    vendor_id = invoice.vendor.id
    try:
        api = await api_for(context, vendor_id)
    except (ConflictError, PluginError) as error:
        return DeliveryResult(status=DeliveryStatus.FAILED, error=error.message, retryable=True)
    row = await get_invoice_row(vendor_id, invoice.id)
    try:
        if row["provider_invoice_id"]:
            # A retry (the PDF was missing) or a resend: Paddle's API cannot email a billed
            # invoice again; make sure the PDF is stored and answer with the same reference.
            if not row["pdf_path"]:
                await store_pdf(context, api, vendor_id, invoice.id, row["provider_invoice_id"])
            return DeliveryResult(
                status=DeliveryStatus.DELIVERED, reference=str(row["provider_invoice_id"])
            )
        if invoice.currency not in MANUAL_CURRENCIES:
            return DeliveryResult(
                status=DeliveryStatus.FAILED,
                error=f"Paddle invoices only in {', '.join(MANUAL_CURRENCIES)}, not "
                f"{invoice.currency}.",
                retryable=False,
            )
        items = items_for(invoice)
        if not items:
            return DeliveryResult(
                status=DeliveryStatus.DELIVERED, reference="paddle:nothing-to-invoice"
            )
        twin = await ensure_customer(api, customer)
        if twin.address_id is None:
            raise SetupError(
                f"The customer '{customer.name}' has no country in its address; Paddle needs "
                "one to invoice (and to compute tax)."
            )
        transaction = await find_transaction(
            api, {"customer_id": twin.customer_id}, "octane_invoice", invoice.id
        )
        if transaction is None:
            grace = parse_duration(settings.get("payment_grace_period", "P3D"), field="grace")
            body: dict[str, Any] = {
                "items": items,
                "customer_id": twin.customer_id,
                "address_id": twin.address_id,
                "currency_code": invoice.currency,
                "collection_mode": "manual",
                "billing_details": {
                    "enable_checkout": True,
                    "payment_terms": {"interval": "day", "frequency": max(1, grace.days)},
                    "additional_information": f"Invoice {invoice.number}",
                },
                "billing_period": {
                    "starts_at": invoice.period_start.isoformat(),
                    "ends_at": invoice.period_end.isoformat(),
                },
                "custom_data": {
                    "octane_invoice": invoice.id,
                    "octane_number": invoice.number or "",
                },
                "status": "billed",
            }
            if twin.business_id:
                body["business_id"] = twin.business_id
            transaction = await api.data("POST", "/transactions", body=body)
        totals = transaction["details"]["totals"]
        tax = int(totals.get("tax") or 0)
        now = (await vendor_clock(vendor_id)).now()
        await record_provider_invoice(
            vendor_id,
            invoice.id,
            provider=PROVIDER,
            provider_invoice_id=str(transaction["id"]),
            url=str((transaction.get("checkout") or {}).get("url") or ""),
            pdf_url=f"/api/v1/invoices/{invoice.id}/pdf",
            tax_lines=[("Tax (Paddle)", tax)] if tax else (),
            at=now,
        )
        await store_pdf(context, api, vendor_id, invoice.id, str(transaction["id"]))
    except SetupError as error:
        return DeliveryResult(status=DeliveryStatus.FAILED, error=str(error), retryable=False)
    except PaddleUnavailable as error:
        return DeliveryResult(status=DeliveryStatus.FAILED, error=f"Paddle: {error}")
    except PaddleError as error:
        return DeliveryResult(
            status=DeliveryStatus.FAILED,
            error=f"Paddle: {error}",
            retryable=error.status in (409, 429),
        )
    return DeliveryResult(status=DeliveryStatus.DELIVERED, reference=str(transaction["id"]))
