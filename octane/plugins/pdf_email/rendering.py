"""Turning an invoice into its PDF: HTML from the templates, PDF from the process pool."""

from __future__ import annotations

from typing import Any

import jinja2

from octane.core.branding import Branding, get_branding, logo_key
from octane.core.contracts import InvoiceView
from octane.core.plugin_context import PluginContext
from octane.plugins.pdf_email.document import environment, invoice_context
from octane.plugins.pdf_email.render_pool import render_html

__all__ = ["invoice_html", "jinja", "render_invoice"]


def jinja(context: PluginContext) -> jinja2.Environment:
    """The plugin's template environment for this Octane (built once)."""
    found: jinja2.Environment | None = context.state.get("jinja")
    if found is None:
        found = environment(context.data_dir)
        context.state["jinja"] = found
    return found


async def _logo(context: PluginContext, vendor_id: str, branding: Branding) -> bytes | None:
    if not branding.logo_type:
        return None
    return await context.documents.get(logo_key(vendor_id))


async def invoice_html(
    context: PluginContext, invoice: InvoiceView, *, draft: bool, branding: Branding | None = None
) -> str:
    branding = branding or await get_branding(invoice.vendor.id)
    values: dict[str, Any] = invoice_context(
        invoice,
        branding=branding,
        draft=draft,
        logo=await _logo(context, invoice.vendor.id, branding),
    )
    return jinja(context).get_template("pdf_email/invoice.html").render(values)


async def render_invoice(context: PluginContext, invoice: InvoiceView, *, draft: bool) -> bytes:
    return await render_html(context, await invoice_html(context, invoice, draft=draft))
