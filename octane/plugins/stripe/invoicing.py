"""Invoicing via Stripe: our finalized invoice becomes a Stripe invoice that Stripe sends.

Used when the vendor's "invoicing via payment provider" is on (the ``stripe`` delivery
channel). One Stripe invoice line per line of ours, adding up exactly to our figures:
a priced quantity as quantity and decimal unit price (sub-cent prices included) when
that reproduces our amount, otherwise the amount in minor units; our invoice id is in
its metadata.
With Stripe Tax (``automatic_tax``) Stripe computes the tax: our own tax lines are
left out, our reductions become one invoice discount (Stripe Tax refuses negative
lines), and the tax Stripe computed is copied back onto our invoice and ledger. Every
request carries an idempotency key derived from the send, so a re-run replays
instead of creating a second invoice.
"""

from __future__ import annotations

from typing import Any

from octane.core.clocks import vendor_clock
from octane.core.contracts import (
    ChargeLine,
    CustomerView,
    DeliveryResult,
    DeliveryStatus,
    InvoiceView,
)
from octane.core.errors import ConflictError
from octane.core.invoice_settings import parse_duration
from octane.core.invoices import get_invoice_row
from octane.core.money import get_currency, round_to_minor
from octane.core.plugin_context import PluginContext
from octane.core.provider_accounts import find_account
from octane.core.provider_invoices import record_provider_invoice
from octane.plugins.stripe.client import PROVIDER, connected_account, stripe_client
from octane.plugins.stripe.customers import ensure_customer

__all__ = ["automatic_tax_enabled", "deliver"]


async def automatic_tax_enabled(vendor_id: str) -> bool:
    account = await find_account(vendor_id, PROVIDER)
    return bool(account and (account["details"] or {}).get("automatic_tax"))


def _charge_line(line: ChargeLine, currency: str, period: dict[str, int]) -> dict[str, Any]:
    """A charge as a Stripe line. A priced quantity goes over as quantity and decimal unit
    price (sub-cent prices included) when Stripe's product of the two, rounded, is exactly
    our amount; anything else (included units, tiers, fees) as the amount itself."""
    line_out: dict[str, Any] = {
        "description": line.description,
        "period": period,
        "metadata": {"octane_kind": line.kind},
    }
    if line.quantity is not None and line.unit_price is not None and line.quantity > 0:
        exponent = get_currency(currency).exponent
        unit_minor = line.unit_price.scaleb(exponent)
        if round_to_minor(line.quantity * line.unit_price, get_currency(currency)) == line.amount:
            line_out["price_data"] = {
                "currency": currency.lower(),
                "product_data": {"name": line.meter or line.description},
                "unit_amount_decimal": f"{unit_minor.normalize():f}",
            }
            line_out["quantity_decimal"] = f"{line.quantity.normalize():f}"
            return line_out
    line_out["amount"] = line.amount
    return line_out


def _lines(invoice: InvoiceView, *, automatic_tax: bool) -> tuple[list[dict[str, Any]], int]:
    """Stripe invoice lines, and the reduction to send as a discount (Stripe Tax only)."""
    period = {
        "start": int(invoice.period_start.timestamp()),
        "end": int(invoice.period_end.timestamp()),
    }
    lines = [_charge_line(line, invoice.currency, period) for line in invoice.charges]
    reduction = 0
    for line in invoice.adjustments:
        if line.stage == "tax" and automatic_tax:
            continue  # Stripe Tax computes the tax itself
        if automatic_tax and line.amount < 0:
            reduction -= line.amount
            continue
        lines.append(
            {
                "amount": line.amount,
                "description": line.description,
                "period": period,
                "metadata": {"octane_kind": line.stage},
            }
        )
    return lines, reduction


async def deliver(
    context: PluginContext,
    invoice: InvoiceView,
    customer: CustomerView,
    send_key: str,
    settings: dict[str, Any],
) -> DeliveryResult:
    import stripe

    try:
        account = await connected_account(invoice.vendor.id)
    except ConflictError as error:
        return DeliveryResult(status=DeliveryStatus.FAILED, error=error.message, retryable=True)
    row = await get_invoice_row(invoice.vendor.id, invoice.id)
    client: Any = stripe_client(context)  # the params are built as plain dicts
    options: Any = {"stripe_account": account}
    key = f"octane-{send_key}"
    try:
        if row["provider_invoice_id"]:  # a resend: Stripe emails its invoice again
            stripe_invoice = await client.v1.invoices.send_invoice_async(
                row["provider_invoice_id"], None, {**options, "idempotency_key": f"{key}:send"}
            )
            return DeliveryResult(status=DeliveryStatus.DELIVERED, reference=stripe_invoice.id)
        automatic_tax = await automatic_tax_enabled(invoice.vendor.id)
        stripe_customer = await ensure_customer(client, account, customer)
        lines, reduction = _lines(invoice, automatic_tax=automatic_tax)
        params: dict[str, Any] = {
            "customer": stripe_customer,
            "currency": invoice.currency.lower(),
            "auto_advance": False,
            "pending_invoice_items_behavior": "exclude",
            "description": f"Invoice {invoice.number}",
            "metadata": {"octane_invoice": invoice.id, "octane_number": invoice.number or ""},
            "automatic_tax": {"enabled": automatic_tax},
        }
        if settings.get("auto_charge"):
            params["collection_method"] = "charge_automatically"
        else:
            grace = parse_duration(settings.get("payment_grace_period", "P3D"), field="grace")
            params["collection_method"] = "send_invoice"
            params["days_until_due"] = max(1, grace.days)
        if reduction:
            coupon = await client.v1.coupons.create_async(
                {
                    "amount_off": reduction,
                    "currency": invoice.currency.lower(),
                    "duration": "once",
                    "name": "Trial, discounts and credits",
                    "metadata": {"octane_invoice": invoice.id},
                },
                {**options, "idempotency_key": f"{key}:coupon"},
            )
            params["discounts"] = [{"coupon": coupon.id}]
        draft = await client.v1.invoices.create_async(
            params, {**options, "idempotency_key": f"{key}:create"}
        )
        assert draft.id is not None
        await client.v1.invoices.add_lines_async(
            draft.id, {"lines": lines}, {**options, "idempotency_key": f"{key}:lines"}
        )
        final = await client.v1.invoices.finalize_invoice_async(
            draft.id, None, {**options, "idempotency_key": f"{key}:finalize"}
        )
        if params["collection_method"] == "send_invoice":
            await client.v1.invoices.send_invoice_async(
                draft.id, None, {**options, "idempotency_key": f"{key}:send"}
            )
    except (stripe.APIConnectionError, stripe.RateLimitError, stripe.APIError) as error:
        return DeliveryResult(
            status=DeliveryStatus.FAILED, error=f"Stripe: {error}", retryable=True
        )
    except stripe.StripeError as error:
        return DeliveryResult(
            status=DeliveryStatus.FAILED,
            error=f"Stripe: {error.user_message or error}",
            retryable=False,
        )
    taxes = [
        ("Tax (Stripe Tax)", int(tax.amount)) for tax in (final.total_taxes or []) if tax.amount
    ]
    now = (await vendor_clock(invoice.vendor.id)).now()
    await record_provider_invoice(
        invoice.vendor.id,
        invoice.id,
        provider=PROVIDER,
        provider_invoice_id=str(final.id),
        url=final.hosted_invoice_url or "",
        pdf_url=final.invoice_pdf or "",
        tax_lines=taxes if automatic_tax else (),
        at=now,
    )
    return DeliveryResult(status=DeliveryStatus.DELIVERED, reference=final.id)
