""" "What do I owe right now": a cycle's usage, priced so far, before adjustments."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from octane.core.catalog import plan_view
from octane.core.clock import Clock
from octane.core.customers import get_customer_row
from octane.core.cycles import Period, full_period_at, proration_factor, zone
from octane.core.errors import NotFoundError
from octane.core.metering import aggregate
from octane.core.money import format_minor, get_currency
from octane.core.pricing import PricedPlan, price_plan
from octane.core.store.tables import BillingCycle, Meter, PricePlan
from octane.core.subscriptions import (
    cycle_out,
    ensure_cycle,
    subscription_for,
    subscription_period,
)

__all__ = ["cycle_usage", "price_cycle"]


async def price_cycle(
    vendor_id: str,
    customer: dict[str, Any],
    subscription: dict[str, Any],
    plan_row: dict[str, Any],
    period: Period,
) -> tuple[PricedPlan, dict[str, Any]]:
    """Aggregate and price one period; also return the meters used (by name)."""
    plan = plan_view(plan_row)
    names = [c.meter for c in plan.components]
    meters = await Meter.select().where(
        (Meter.vendor == vendor_id) & Meter.name.is_in(names or [""])
    )
    quantities = await aggregate(vendor_id, customer["id"], meters, period)
    full = full_period_at(
        period.start,
        anchor=subscription["billing_anchor"],
        period=plan.period,
        tz=zone(customer["timezone"]),
    )
    share = proration_factor(period, full) if period != full else Fraction(1)
    priced = price_plan(
        plan,
        quantities,
        get_currency(plan.currency),
        fixed_fee_share=share,
        units={m["name"]: m["unit"] for m in meters},
    )
    return priced, {m["name"]: m for m in meters}


async def cycle_usage(
    vendor_id: str, customer_name: str, *, cycle_id: str | None, clock: Clock
) -> dict[str, Any]:
    customer = await get_customer_row(vendor_id, customer_name)
    subscription = await subscription_for(vendor_id, customer["id"])
    if subscription is None:
        raise NotFoundError(
            f"The customer '{customer_name}' has no subscription.", field="customer"
        )
    plan_row = (
        await PricePlan.select()
        .where(PricePlan.id == subscription["plan"])
        .output(load_json=True)
        .first()
    )
    assert plan_row is not None
    if cycle_id is not None:
        cycle = (
            await BillingCycle.select()
            .where(
                (BillingCycle.id == cycle_id)
                & (BillingCycle.vendor == vendor_id)
                & (BillingCycle.customer == customer["id"])
            )
            .first()
        )
        if cycle is None:
            raise NotFoundError(f"There is no cycle '{cycle_id}' for this customer.", field="cycle")
    else:
        period = subscription_period(
            subscription, plan_row["period"], customer["timezone"], clock.now()
        )
        if period is None:
            raise NotFoundError("The subscription has no cycle at this time.", field="cycle")
        cycle = await ensure_cycle(vendor_id, subscription, period, clock=clock)
    period = Period(cycle["period_start"], cycle["period_end"])
    priced, meters = await price_cycle(vendor_id, customer, subscription, plan_row, period)
    currency = priced.currency
    return {
        "customer": customer_name,
        "currency": currency.code,
        "cycle": cycle_out(cycle),
        "meters": [
            {
                "meter": line.meter,
                "aggregation": meters[line.meter]["aggregation"] if line.meter else None,
                "unit": meters[line.meter]["unit"] if line.meter else "",
                "quantity": str(line.quantity),
                "amount": line.amount,
                "amount_decimal": format_minor(line.amount, currency),
            }
            for line in priced.lines
            if line.kind == "usage"
        ],
        "lines": [
            {
                "kind": line.kind,
                "description": line.description,
                "meter": line.meter,
                "amount": line.amount,
                "amount_decimal": format_minor(line.amount, currency),
            }
            for line in priced.lines
        ],
        "accrued_total": priced.total,
        "accrued_total_decimal": format_minor(priced.total, currency),
    }
