"""Helpers shared by the API tests."""

from __future__ import annotations

from typing import Any


async def new_vendor(name: str = "Vendor", *, test_clock: Any = None) -> dict[str, str]:
    """A vendor and its API key, as request headers."""
    from octane.core.clock import SystemClock
    from octane.core.vendors import create_api_key, create_vendor

    vendor = await create_vendor(
        name=name, email="ops@vendor.example", clock=SystemClock(), test_clock_start=test_clock
    )
    key = await create_api_key(str(vendor["id"]), clock=SystemClock())
    return {"Authorization": f"Bearer {key.key}", "X-Vendor-Id": str(vendor["id"])}
