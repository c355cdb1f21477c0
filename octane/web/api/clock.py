"""``/api/v1/clock``: the vendor's clock, and time travel for vendors on a test clock."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.params import JSONBody

from octane.core.clock import TestClock
from octane.core.clocks import vendor_clock
from octane.core.lifecycle import advance_and_run

__all__ = ["ClockController"]


class ClockOut(msgspec.Struct, kw_only=True):
    now: datetime
    test_clock: bool
    """True for a vendor created with ``--test-clock``: its time moves only when advanced."""


class AdvanceIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    to: Annotated[
        datetime,
        msgspec.Meta(
            description="RFC 3339 with an offset; never before the clock's current time",
            examples=["2026-04-02T00:00:00Z"],
        ),
    ]


class AdvanceOut(msgspec.Struct, kw_only=True):
    now: datetime
    cycles_closed: int
    """Cycles whose period ended, now in their invoice grace period."""
    invoices_finalized: int
    invoices_delivered: int
    payments_attempted: int
    errors: list[str]
    """Work that failed (it stays due and is retried by the sweep)."""


class ClockController(Controller):
    path = "/api/v1/clock"
    tags = ["clock"]

    @get(summary="The vendor's current time")
    async def show(self, vendor_id: NamedDependency[str]) -> ClockOut:
        clock = await vendor_clock(vendor_id)
        return ClockOut(now=clock.now(), test_clock=isinstance(clock, TestClock))

    @post(
        "/advance",
        summary="Move a test clock forward, doing all work due on the way, in time order",
        status_code=200,
    )
    async def advance(
        self,
        request: Request[Any, Any, Any],
        vendor_id: NamedDependency[str],
        data: JSONBody[AdvanceIn],
    ) -> AdvanceOut:
        summary = await advance_and_run(
            request.app.state.octane.plugins, vendor_id, data.to, accrue=True
        )
        return AdvanceOut(
            now=(await vendor_clock(vendor_id)).now(),
            cycles_closed=summary.cycles_closed,
            invoices_finalized=summary.invoices_finalized,
            invoices_delivered=summary.invoices_delivered,
            payments_attempted=summary.payments_attempted,
            errors=summary.errors,
        )
