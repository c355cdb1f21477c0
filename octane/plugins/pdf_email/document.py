"""The invoice as HTML: the template context, and the Jinja environment that renders it.

Templates are looked up in the deployment's ``<data_dir>/templates`` first, then in
this plugin's own ``templates/`` folder, so a vendor overrides ``pdf_email/invoice.html``
(or just ``pdf_email/invoice.css``) by putting a file of the same name there.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jinja2

from octane.core.branding import Branding
from octane.core.contracts import AdjustmentLine, ChargeLine, InvoiceView
from octane.plugins.pdf_email.formatting import Formatter

__all__ = ["TEMPLATES", "environment", "invoice_context"]

TEMPLATES = Path(__file__).parent / "templates"

STAGE_LABELS = {
    "trial": "Free trial",
    "discount": "Discount",
    "tax": "Tax",
    "credit": "Credit applied",
}
ADDRESS_ORDER = ("line1", "line2", "postal_code", "city", "state", "country")


def environment(data_dir: Path) -> jinja2.Environment:
    """Vendor overrides first, then the plugin's templates; HTML is autoescaped."""
    return jinja2.Environment(
        loader=jinja2.ChoiceLoader(
            [
                jinja2.FileSystemLoader(str(data_dir / "templates")),
                jinja2.FileSystemLoader(str(TEMPLATES)),
            ]
        ),
        autoescape=jinja2.select_autoescape(["html", "xml"]),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def address_lines(address: Mapping[str, str]) -> list[str]:
    """A free-form address map in postal order: known keys first, then the rest."""
    city_line = " ".join(v for v in (address.get("postal_code"), address.get("city")) if v)
    lines = [address[k] for k in ("line1", "line2") if address.get(k)]
    if city_line:
        lines.append(city_line)
    lines += [address[k] for k in ("state", "country") if address.get(k)]
    lines += [v for k, v in address.items() if k not in ADDRESS_ORDER and v]
    return lines


def _charge_row(line: ChargeLine, fmt: Formatter) -> dict[str, Any]:
    tiers = []
    for tier in line.details.get("tiers", []) if isinstance(line.details, dict) else []:
        bound = "and above" if tier.get("up_to") is None else f"up to {fmt.quantity(tier['up_to'])}"
        flat = tier.get("flat_fee") not in (None, "0", "0.00")
        tiers.append(
            {
                "label": f"Tier {bound}",
                "quantity": fmt.quantity(tier.get("quantity")),
                "unit_price": fmt.price(tier.get("unit_price")),
                "flat_fee": fmt.price(tier.get("flat_fee")) if flat else "",
                "amount": fmt.price(tier.get("amount")),
            }
        )
    return {
        "kind": line.kind,
        "description": line.description,
        "quantity": fmt.quantity(line.quantity),
        "unit_price": fmt.price(line.unit_price) if line.unit_price is not None else "",
        "amount": fmt.money(line.amount),
        "tiers": tiers,
    }


def _adjustment_row(line: AdjustmentLine, fmt: Formatter) -> dict[str, Any]:
    return {
        "stage": line.stage,
        "label": STAGE_LABELS.get(line.stage, line.stage.replace("_", " ").capitalize()),
        "description": line.description,
        "amount": fmt.money(line.amount),
    }


def _totals(invoice: InvoiceView, fmt: Formatter) -> list[tuple[str, str, str]]:
    """(css class, label, amount) rows of the totals box."""
    by_stage: dict[str, int] = {}
    for line in invoice.adjustments:
        by_stage[line.stage] = by_stage.get(line.stage, 0) + line.amount
    rows = [("subtotal", "Subtotal", fmt.money(invoice.subtotal))]
    for stage in ("trial", "discount"):
        if stage in by_stage:
            rows.append((stage, STAGE_LABELS[stage], fmt.money(by_stage[stage])))
    for stage, amount in by_stage.items():
        if stage not in STAGE_LABELS:
            rows.append((stage, stage.replace("_", " ").capitalize(), fmt.money(amount)))
    if "tax" in by_stage:
        rows.append(("tax", "Tax", fmt.money(by_stage["tax"])))
    if "credit" in by_stage:
        rows.append(("credit", "Credit applied", fmt.money(by_stage["credit"])))
    rows.append(("total", "Total", fmt.money(invoice.total)))
    if invoice.amount_paid:
        rows.append(("paid", "Amount paid", fmt.money(-invoice.amount_paid)))
    rows.append(("due", "Amount due", fmt.money(max(invoice.amount_due, 0))))
    return rows


def _status_text(invoice: InvoiceView, fmt: Formatter, branding: Branding) -> str:
    if invoice.status == "draft":
        return "Draft for review: figures may still change until the invoice is finalized."
    if invoice.status == "paid" or (invoice.amount_due <= 0 and invoice.status != "void"):
        return "Paid. Thank you."
    if invoice.status == "void":
        return "This invoice has been voided; nothing is due."
    if invoice.status == "uncollectible":
        return "Payment failed. Please contact us to settle this invoice."
    due = f" by {fmt.day(invoice.due_at)}" if invoice.due_at else ""
    return (
        branding.payment_instructions or f"Payment of {fmt.money(invoice.amount_due)} is due{due}."
    )


def invoice_context(
    invoice: InvoiceView,
    *,
    branding: Branding,
    draft: bool,
    logo: bytes | None,
) -> dict[str, Any]:
    """Everything ``pdf_email/invoice.html`` shows, already formatted for the locale."""
    customer = invoice.customer
    fmt = Formatter(branding.locale, invoice.currency, customer.timezone or "UTC")
    seller = branding.company_name or invoice.vendor.name
    number = invoice.number or "DRAFT"
    logo_uri = (
        f"data:{branding.logo_type};base64,{base64.b64encode(logo).decode()}"
        if logo and branding.logo_type
        else ""
    )
    return {
        "draft": draft,
        "title": f"Invoice {number}" + (" (DRAFT)" if draft else ""),
        "number": number,
        "status": invoice.status,
        "accent": branding.accent_color,
        "seller": {
            "name": seller,
            "address_lines": list(branding.address_lines),
            "tax_id": branding.tax_id,
            "logo": logo_uri,
        },
        "buyer": {
            "name": customer.display_name or customer.name,
            "address_lines": address_lines(customer.address),
            "email": customer.email or "",
        },
        "issue_date": fmt.day(invoice.issued_at) if invoice.issued_at else "Not issued yet",
        "due_date": fmt.day(invoice.due_at) if invoice.due_at else "",
        "period": fmt.period(invoice.period_start, invoice.period_end),
        "currency": invoice.currency,
        "charges": [_charge_row(line, fmt) for line in invoice.charges],
        "adjustments": [_adjustment_row(line, fmt) for line in invoice.adjustments],
        "totals": _totals(invoice, fmt),
        "amount_due": fmt.money(max(invoice.amount_due, 0)),
        "credit_remaining": (
            fmt.money(invoice.credit_remaining) if invoice.credit_remaining else ""
        ),
        "status_text": _status_text(invoice, fmt, branding),
        "footer": branding.footer,
        "author": seller,
    }
