"""``/api/v1/settings``: the vendor's own settings (tax, invoicing, invoice numbering)."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, get, put
from litestar.di import NamedDependency
from litestar.params import JSONBody

from octane.core.vendor_settings import (
    get_invoice_settings,
    get_numbering,
    set_numbering,
    update_invoice_settings,
)
from octane.core.vendors import get_vendor, set_tax_rate
from octane.web.api.schemas import ERROR_RESPONSES, TaxSettings

__all__ = ["InvoicingSettings", "NumberingSettings", "SettingsController"]

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
