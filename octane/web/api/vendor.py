"""``/api/v1/vendor``: who am I (the vendor behind the API key) and what time is it for me."""

from __future__ import annotations

from datetime import datetime

import msgspec
from litestar import Controller, get
from litestar.di import NamedDependency

from octane.core.clocks import vendor_clock
from octane.core.vendors import get_vendor

__all__ = ["VendorController", "VendorOut"]


class VendorOut(msgspec.Struct, kw_only=True):
    id: str
    name: str
    email: str
    test_mode: bool
    """True when the vendor runs on a test clock."""
    now: datetime
    """The vendor's current time (its test clock's, in test mode)."""


class VendorController(Controller):
    path = "/api/v1/vendor"
    tags = ["vendor"]

    @get(summary="The vendor that owns the API key")
    async def show(self, vendor_id: NamedDependency[str]) -> VendorOut:
        vendor = await get_vendor(vendor_id)
        clock = await vendor_clock(vendor_id)
        return VendorOut(
            id=str(vendor["id"]),
            name=str(vendor["name"]),
            email=str(vendor["email"]),
            test_mode=vendor["test_clock_now"] is not None,
            now=clock.now(),
        )
