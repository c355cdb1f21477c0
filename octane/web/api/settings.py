"""``/api/v1/settings``: the vendor's own settings."""

from __future__ import annotations

from litestar import Controller, get, put
from litestar.di import NamedDependency
from litestar.params import JSONBody

from octane.core.vendors import get_vendor, set_tax_rate
from octane.web.api.schemas import ERROR_RESPONSES, TaxSettings

__all__ = ["SettingsController"]


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
