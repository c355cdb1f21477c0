"""The ``pdf_email`` plugin: invoices rendered to PDF with WeasyPrint and sent over SMTP.

* ``render_invoice_pdf``: the invoice template (``templates/pdf_email/invoice.html``,
  overridable in ``<data_dir>/templates/pdf_email/``) rendered by WeasyPrint in a
  pool of worker processes; the core stores a finalized invoice's PDF once.
* The ``email`` delivery channel: the invoice with its PDF attached, and the
  payment notifications (failed, final failure, received), each from its own
  subject, text and HTML templates, sent with aiosmtplib. Message-IDs derive from
  the invoice (or notification) and are recorded before sending, so a re-run
  never sends twice.
* Portal: the Email & branding settings panel (SMTP in use, "send test email",
  branding and logo, a sample preview), resend and PDF on the invoice page, the DRAFT
  PDF on the grace-period review (``/portal/plugins/pdf_email/...``).
* ``POST /api/v1/settings/email/test`` sends a test message;
  ``GET /api/v1/settings/branding/preview`` renders a sample invoice with the branding.

SMTP settings are the deployment's (``[plugins.pdf_email]``); a vendor's name,
reply-to address, locale, colours and logo are its branding.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

from octane import hookimpl
from octane.core.contracts import (
    CustomerView,
    DeliveryChannelInfo,
    DeliveryResult,
    InvoiceView,
    Notification,
    SettingsPanel,
    VendorView,
)
from octane.core.plugin_context import PluginContext
from octane.plugins.pdf_email.config import PdfEmailConfig

__all__ = [
    "PdfEmailConfig",
    "check_compatibility",
    "deliver_invoice",
    "plugin_config_schema",
    "register_delivery_channels",
    "register_routes",
    "register_settings_panels",
    "register_template_dirs",
    "render_invoice_pdf",
    "send_notification",
]


@hookimpl
def check_compatibility() -> list[str]:
    # find_spec, not import: WeasyPrint must only be imported inside the render
    # worker processes (importing it before a fork is unsafe).
    if importlib.util.find_spec("weasyprint") is None:
        return ["The package 'weasyprint' is not installed: pip install weasyprint"]
    return []


@hookimpl
def plugin_config_schema() -> type[PdfEmailConfig]:
    return PdfEmailConfig


@hookimpl
def register_delivery_channels() -> list[DeliveryChannelInfo]:
    return [DeliveryChannelInfo(name="email", display_name="Email (PDF invoice attached)")]


@hookimpl
def register_template_dirs() -> list[Path]:
    from octane.plugins.pdf_email.document import TEMPLATES

    return [TEMPLATES]


@hookimpl
def register_routes() -> list[Any]:
    from octane.plugins.pdf_email.portal import EmailPortalController
    from octane.plugins.pdf_email.routes import EmailSettingsController

    return [EmailSettingsController, EmailPortalController]


@hookimpl
def register_settings_panels() -> list[SettingsPanel]:
    return [
        SettingsPanel(
            name="email",
            title="Email & branding",
            template="pdf_email/panel.html",
            section="delivery",
        )
    ]


@hookimpl
async def render_invoice_pdf(invoice: InvoiceView, draft: bool, context: PluginContext) -> bytes:
    from octane.plugins.pdf_email.rendering import render_invoice

    return await render_invoice(context, invoice, draft=draft)


@hookimpl
async def deliver_invoice(
    invoice: InvoiceView,
    vendor: VendorView,
    customer: CustomerView,
    send_key: str,
    context: PluginContext,
) -> DeliveryResult:
    from octane.plugins.pdf_email.channel import deliver

    return await deliver(context, invoice, vendor, customer, send_key)


@hookimpl
async def send_notification(
    notification: Notification,
    vendor: VendorView,
    customer: CustomerView,
    context: PluginContext,
) -> DeliveryResult:
    from octane.plugins.pdf_email.channel import notify

    return await notify(context, notification, vendor, customer)
