"""Free trials, applied first (the ``trial`` stage).

A subscription on a plan with ``trial_days`` has a trial window ``[starts_at,
trial_ends_at)``. For a cycle that overlaps it, the usage measured inside the window
is priced on its own, together with the window's share (by seconds) of the fixed
fee, and offset by one trial line: the invoice still shows every charge, and the
customer sees what the trial saved. Minimum charges do not apply inside a trial.
"""

from __future__ import annotations

from collections.abc import Awaitable
from decimal import Decimal
from fractions import Fraction
from typing import Any

import msgspec

from octane import hookimpl
from octane.core.catalog import plan_view
from octane.core.contracts import AdjustmentLine, AdjustmentStage, DraftInvoice
from octane.core.cycles import Period, full_period_at, zone
from octane.core.metering import aggregate
from octane.core.money import get_currency
from octane.core.prefetch import current as current_prefetch
from octane.core.pricing import price_plan
from octane.core.store.tables import Meter, PricePlan, Subscription

__all__ = ["apply_adjustments"]


@hookimpl
def apply_adjustments(
    stage: AdjustmentStage, draft: DraftInvoice
) -> Awaitable[list[AdjustmentLine] | None] | None:
    # Synchronous for the other stages: no coroutine for the common case of a billing run.
    if stage is not AdjustmentStage.TRIAL or draft.total <= 0:
        return None
    return _trial_lines(draft)


async def _trial_lines(draft: DraftInvoice) -> list[AdjustmentLine] | None:
    prefetched = current_prefetch()
    subscription: dict[str, Any] | None
    if prefetched is not None and draft.cycle.subscription_id in prefetched.subscriptions:
        subscription = prefetched.subscriptions[draft.cycle.subscription_id]
    else:
        subscription = (
            await Subscription.select()
            .where(Subscription.id == draft.cycle.subscription_id)
            .first()
        )
    if subscription is None or subscription["trial_ends_at"] is None:
        return None
    cycle = Period(draft.cycle.period_start, draft.cycle.period_end)
    window = Period(
        max(cycle.start, subscription["starts_at"]), min(cycle.end, subscription["trial_ends_at"])
    )
    if window.start >= window.end:
        return None
    if window == cycle:
        saved = draft.subtotal  # the whole cycle is free
    else:
        row = (
            await PricePlan.select()
            .where(PricePlan.id == subscription["plan"])
            .output(load_json=True)
            .first()
        )
        assert row is not None
        plan = plan_view(row)
        plan = msgspec.structs.replace(
            plan,
            minimum_charge=Decimal(0),
            components=tuple(
                msgspec.structs.replace(c, minimum_charge=None) for c in plan.components
            ),
        )
        meters = await Meter.select().where(
            (Meter.vendor == draft.vendor.id)
            & Meter.name.is_in([c.meter for c in plan.components] or [""])
        )
        usage = await aggregate(draft.vendor.id, draft.customer.id, meters, window)
        full = full_period_at(
            window.start,
            anchor=subscription["billing_anchor"],
            period=plan.period,
            tz=zone(draft.customer.timezone),
        )
        share = Fraction(window.seconds, full.seconds)
        saved = price_plan(plan, usage, get_currency(plan.currency), fixed_fee_share=share).total
    saved = min(saved, draft.total)
    if saved <= 0:
        return None
    until = subscription["trial_ends_at"]
    return [
        AdjustmentLine(
            kind="trial",
            description=f"Free trial (until {until:%Y-%m-%d %H:%M} UTC)",
            amount=-saved,
            reference=subscription["id"],
            details={
                "window_start": window.start.isoformat(),
                "window_end": window.end.isoformat(),
            },
        )
    ]
