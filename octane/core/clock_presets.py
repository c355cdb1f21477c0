"""Where a test clock might usefully go next: the presets of the portal's test clock page."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from octane.core.clock import as_utc
from octane.core.invoice_settings import parse_duration
from octane.core.lifecycle import next_deadline
from octane.core.store.tables import BillingCycle
from octane.core.vendor_settings import get_invoice_settings

__all__ = ["ClockPreset", "clock_presets"]


@dataclass(frozen=True)
class ClockPreset:
    label: str
    to: datetime
    why: str


async def _earliest(column: object, state: str, vendor_id: str, after: datetime) -> datetime | None:
    row = await (
        BillingCycle.select(column)  # type: ignore[arg-type]
        .where(
            (BillingCycle.vendor == vendor_id) & (BillingCycle.state == state) & (column > after)  # type: ignore[operator]
        )
        .order_by(column)  # type: ignore[arg-type]
        .first()
    )
    if row is None:
        return None
    value = next(iter(row.values()))
    return None if value is None else as_utc(value)


async def clock_presets(vendor_id: str, now: datetime) -> list[ClockPreset]:
    """The next deadline, the end of the current cycle, the end of the next grace period,
    then a day, a week and 31 days ahead."""
    found: list[ClockPreset] = []
    deadline = await next_deadline(vendor_id, now)
    if deadline is not None:
        found.append(ClockPreset("Next deadline", as_utc(deadline), "the next thing that is due"))
    cycle_end = await _earliest(BillingCycle.period_end, "open", vendor_id, now)
    if cycle_end is not None:
        found.append(ClockPreset("End of cycle", cycle_end, "the earliest open cycle ends"))
    grace_end = await _earliest(BillingCycle.grace_ends_at, "grace", vendor_id, now)
    if grace_end is None and cycle_end is not None:
        settings = await get_invoice_settings(vendor_id)
        grace_end = cycle_end + parse_duration(
            settings["invoice_grace_period"], field="invoice_grace_period"
        )
    if grace_end is not None:
        found.append(
            ClockPreset("End of grace period", grace_end, "the earliest invoice grace period ends")
        )
    for label, delta in (("+1 day", 1), ("+1 week", 7), ("+31 days", 31)):
        found.append(ClockPreset(label, now + timedelta(days=delta), ""))
    return found
