"""Per-vendor clocks: the real clock, or the vendor's persisted test clock."""

from __future__ import annotations

from datetime import datetime

from octane.core.clock import Clock, SystemClock, TestClock, ensure_utc
from octane.core.errors import NotFoundError, StateError
from octane.core.store.tables import Vendor
from octane.core.vendors import forget_api_keys

__all__ = ["advance_test_clock", "vendor_clock"]

SYSTEM_CLOCK = SystemClock()


async def vendor_clock(vendor_id: str) -> Clock:
    """The clock every "now" of this vendor's billing must come from."""
    row = await Vendor.select(Vendor.test_clock_now).where(Vendor.id == vendor_id).first()
    if row is None:
        raise NotFoundError(f"There is no vendor '{vendor_id}'.", field="vendor")
    frozen = row["test_clock_now"]
    return TestClock(frozen) if frozen is not None else SYSTEM_CLOCK


async def advance_test_clock(vendor_id: str, to: datetime) -> datetime:
    """Move a vendor's test clock forward to ``to`` (a guarded update: never backwards)."""
    target = ensure_utc(to, field="to")
    clock = await vendor_clock(vendor_id)
    if not isinstance(clock, TestClock):
        raise StateError(
            "This vendor runs on the real clock; only vendors created with a test clock "
            "can travel in time.",
            field="to",
            code="not_a_test_clock",
        )
    clock.advance_to(target)  # refuses going backwards with a clear error
    await Vendor.update({Vendor.test_clock_now: target}).where(
        (Vendor.id == vendor_id) & (Vendor.test_clock_now <= target)
    )
    forget_api_keys(vendor_id)  # API requests read the clock with the key
    return target
