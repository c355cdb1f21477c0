"""``/api/v1/settings``: the vendor's own settings (tax, invoicing, numbering, branding)."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, delete, get, put
from litestar.di import NamedDependency
from litestar.params import JSONBody

from octane.core.branding import Branding, remove_logo, set_logo, update_branding
from octane.core.branding import get_branding as read_branding
from octane.core.vendor_settings import (
    get_invoice_settings,
    get_numbering,
    set_numbering,
    update_invoice_settings,
)
from octane.core.vendors import get_vendor, set_tax_rate
from octane.web.api.schemas import ERROR_RESPONSES, TaxSettings

__all__ = ["BrandingSettings", "InvoicingSettings", "NumberingSettings", "SettingsController"]

Duration = Annotated[
    str, msgspec.Meta(description="ISO 8601 duration, 0 to 366 days", examples=["PT12H", "P3D"])
]


class InvoicingSettings(
    msgspec.Struct, forbid_unknown_fields=True, kw_only=True, omit_defaults=True
):
    """Every field is optional in a PUT: only the fields sent change."""

    invoice_delivery: bool | msgspec.UnsetType = msgspec.UNSET
    """Send each finalized invoice to the customer (PDF by email, or the provider's)."""
    invoice_grace_period: Duration | msgspec.UnsetType = msgspec.UNSET
    """From the end of a cycle until its invoice is finalized: late usage still counts."""
    invoicing_via_provider: bool | msgspec.UnsetType = msgspec.UNSET
    """The payment provider's own invoicing replaces Octane's PDF and email."""
    payment_grace_period: Duration | msgspec.UnsetType = msgspec.UNSET
    """From finalization until the customer is charged."""
    auto_charge: bool | msgspec.UnsetType = msgspec.UNSET
    """Charge the customer through the payment provider when the payment grace period ends."""
    payment_provider: str | msgspec.UnsetType | None = msgspec.UNSET
    """The payment provider in use (an enabled plugin's), or null for none."""
    payment_retry_schedule: list[Duration] | msgspec.UnsetType = msgspec.UNSET
    """Delays after each failed charge, e.g. ["P1D", "P3D", "P5D", "P7D"]; uncollectible
    after the last."""
    notifications: bool | msgspec.UnsetType = msgspec.UNSET
    """Email the customer when a payment fails, finally fails, or succeeds."""
    delivery_channel: str | msgspec.UnsetType = msgspec.UNSET
    """Where invoices and notifications go when the provider does not invoice:
    ``email`` (the pdf_email plugin) by default, or another enabled plugin's channel."""


class NumberingSettings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    prefix: Annotated[str | None, msgspec.Meta(examples=["ACME"])] = None
    format: Annotated[
        str | None,
        msgspec.Meta(
            description="Placeholders {prefix}, {year} and {number} (e.g. {number:06d})",
            examples=["{prefix}-{year}-{number:06d}"],
        ),
    ] = None


class BrandingSettings(
    msgspec.Struct, forbid_unknown_fields=True, kw_only=True, omit_defaults=True
):
    """What invoices and emails show about the vendor. Only the fields sent change."""

    company_name: str | msgspec.UnsetType = msgspec.UNSET
    """The seller's name on invoices (the vendor's name when empty)."""
    address_lines: list[str] | msgspec.UnsetType = msgspec.UNSET
    """Up to 6 lines of postal address."""
    tax_id: str | msgspec.UnsetType = msgspec.UNSET
    accent_color: Annotated[str, msgspec.Meta(examples=["#2f54eb"])] | msgspec.UnsetType = (
        msgspec.UNSET
    )
    footer: str | msgspec.UnsetType = msgspec.UNSET
    """A line at the foot of every invoice page."""
    payment_instructions: str | msgspec.UnsetType = msgspec.UNSET
    """Shown on unpaid invoices, e.g. bank details."""
    locale: Annotated[str, msgspec.Meta(examples=["en_US", "de_DE"])] | msgspec.UnsetType = (
        msgspec.UNSET
    )
    """How amounts and dates are written on invoices and in emails."""
    email_from_name: str | msgspec.UnsetType = msgspec.UNSET
    reply_to: str | msgspec.UnsetType = msgspec.UNSET
    logo_type: str | msgspec.UnsetType = msgspec.UNSET
    """Read only: the logo's media type, empty without a logo (upload it with PUT
    /api/v1/settings/branding/logo)."""


def _branding_out(branding: Branding) -> BrandingSettings:
    return msgspec.convert(msgspec.structs.asdict(branding), BrandingSettings)


class SettingsController(Controller):
    path = "/api/v1/settings"
    tags = ["settings"]

    @get("/tax", summary="The vendor's tax rate", responses=ERROR_RESPONSES)
    async def tax(self, vendor_id: NamedDependency[str]) -> TaxSettings:
        vendor = await get_vendor(vendor_id)
        return TaxSettings(tax_rate=vendor["tax_rate"])  # type: ignore[arg-type]

    @put("/tax", summary="Set or clear the vendor's tax rate", responses=ERROR_RESPONSES)
    async def set_tax(
        self, vendor_id: NamedDependency[str], data: JSONBody[TaxSettings]
    ) -> TaxSettings:
        return TaxSettings(tax_rate=await set_tax_rate(vendor_id, data.tax_rate))

    @get("/invoicing", summary="The vendor's invoice settings", responses=ERROR_RESPONSES)
    async def invoicing(self, vendor_id: NamedDependency[str]) -> InvoicingSettings:
        return msgspec.convert(await get_invoice_settings(vendor_id), InvoicingSettings)

    @put(
        "/invoicing",
        summary="Change invoice settings (each can be overridden per customer)",
        responses=ERROR_RESPONSES,
    )
    async def set_invoicing(
        self,
        request: Request[Any, Any, Any],
        vendor_id: NamedDependency[str],
        data: JSONBody[InvoicingSettings],
    ) -> InvoicingSettings:
        changes = msgspec.structs.asdict(data)
        changes = {k: v for k, v in changes.items() if v is not msgspec.UNSET}
        plugins = request.app.state.octane.plugins
        stored = await update_invoice_settings(
            vendor_id,
            changes,
            providers=plugins.payment_providers,
            channels=plugins.delivery_channels,
        )
        return msgspec.convert(stored, InvoicingSettings)

    @get("/numbering", summary="How invoice numbers are formed", responses=ERROR_RESPONSES)
    async def numbering(self, vendor_id: NamedDependency[str]) -> NumberingSettings:
        return NumberingSettings(**await get_numbering(vendor_id))

    @put(
        "/numbering",
        summary="Change the prefix or format of the next invoice numbers",
        responses=ERROR_RESPONSES,
    )
    async def set_numbering(
        self, vendor_id: NamedDependency[str], data: JSONBody[NumberingSettings]
    ) -> NumberingSettings:
        stored = await set_numbering(vendor_id, prefix=data.prefix, template=data.format)
        return NumberingSettings(**stored)

    @get(
        "/branding",
        summary="What invoices and emails show about the vendor",
        responses=ERROR_RESPONSES,
    )
    async def branding(self, vendor_id: NamedDependency[str]) -> BrandingSettings:
        return _branding_out(await read_branding(vendor_id))

    @put(
        "/branding",
        summary="Change branding (name, address, colour, locale...)",
        responses=ERROR_RESPONSES,
    )
    async def set_branding(
        self, vendor_id: NamedDependency[str], data: JSONBody[BrandingSettings]
    ) -> BrandingSettings:
        changes = {k: v for k, v in msgspec.structs.asdict(data).items() if v is not msgspec.UNSET}
        changes.pop("logo_type", None)
        return _branding_out(await update_branding(vendor_id, changes))

    @put(
        "/branding/logo",
        summary="Upload the logo (the request body is a PNG or JPEG image, at most 512 KiB)",
        responses=ERROR_RESPONSES,
    )
    async def upload_logo(
        self, request: Request[Any, Any, Any], vendor_id: NamedDependency[str]
    ) -> BrandingSettings:
        documents = request.app.state.octane.plugins.documents
        body = await request.body()
        media_type = request.headers.get("content-type", "")
        return _branding_out(await set_logo(vendor_id, documents, body, media_type))

    @delete("/branding/logo", summary="Remove the logo", status_code=200, responses=ERROR_RESPONSES)
    async def delete_logo(
        self, request: Request[Any, Any, Any], vendor_id: NamedDependency[str]
    ) -> BrandingSettings:
        documents = request.app.state.octane.plugins.documents
        return _branding_out(await remove_logo(vendor_id, documents))
