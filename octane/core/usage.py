""" "What do I owe right now": a cycle's usage, priced so far, before adjustments."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from octane.core.catalog import plan_view
from octane.core.clock import Clock
from octane.core.contracts import CycleView, DraftInvoice, PlanView, UsageTotal, VendorView
from octane.core.customers import customer_view, get_customer_row
from octane.core.cycles import Period, full_period_at, proration_factor, zone
from octane.core.errors import NotFoundError
from octane.core.invoicing import compute_draft
from octane.core.metering import aggregate
from octane.core.money import format_minor, get_currency
from octane.core.plugins import PluginHost
from octane.core.store.tables import BillingCycle, Meter, PricePlan, Vendor
from octane.core.subscriptions import (
    cycle_out,
    ensure_cycle,
    subscription_for,
    subscription_period,
)

__all__ = ["build_draft", "cycle_usage", "cycle_view", "draft_for_period", "vendor_view_of"]


def cycle_view(
    cycle: Mapping[str, Any], subscription: Mapping[str, Any], plan: PlanView, timezone: str
) -> CycleView:
    """The cycle as plugins see it, with the fixed fee's share for a partial period."""
    period = Period(cycle["period_start"], cycle["period_end"])
    full = full_period_at(
        period.start, anchor=subscription["billing_anchor"], period=plan.period, tz=zone(timezone)
    )
    share = proration_factor(period, full) if period != full else None
    return CycleView(
        id=cycle["id"],
        subscription_id=subscription["id"],
        period_start=period.start,
        period_end=period.end,
        state=cycle["state"],
        fixed_fee_share=None if share is None else f"{share.numerator}/{share.denominator}",
    )


def vendor_view_of(row: Mapping[str, Any]) -> VendorView:
    return VendorView(
        id=row["id"],
        name=row["name"],
        test_mode=row["test_clock_now"] is not None,
        tax_rate=Decimal(row["tax_rate"]) if row["tax_rate"] is not None else None,
    )


async def build_draft(
    plugins: PluginHost,
    *,
    vendor: VendorView,
    customer: Mapping[str, Any],
    subscription: Mapping[str, Any],
    plan: PlanView,
    cycle: Mapping[str, Any],
    meters: Sequence[Mapping[str, Any]],
    quantities: Mapping[str, Decimal],
) -> DraftInvoice:
    """The draft from rows already loaded and quantities already aggregated."""
    return await compute_draft(
        plugins,
        vendor=vendor,
        customer=customer_view(customer),
        plan=plan,
        cycle=cycle_view(cycle, subscription, plan, customer["timezone"]),
        usage=[
            UsageTotal(meter=m["name"], quantity=quantities[m["name"]], unit=m["unit"])
            for m in meters
        ],
    )


async def draft_for_period(
    plugins: PluginHost,
    vendor_id: str,
    customer: dict[str, Any],
    subscription: dict[str, Any],
    plan_row: dict[str, Any],
    cycle: dict[str, Any],
) -> tuple[DraftInvoice, dict[str, Any]]:
    """Aggregate a cycle's usage and compute its draft through the hooks; also the meters."""
    plan = plan_view(plan_row)
    period = Period(cycle["period_start"], cycle["period_end"])
    names = [c.meter for c in plan.components]
    meters = await Meter.select().where(
        (Meter.vendor == vendor_id) & Meter.name.is_in(names or [""])
    )
    quantities = await aggregate(vendor_id, customer["id"], meters, period)
    vendor = (
        await Vendor.select(Vendor.id, Vendor.name, Vendor.test_clock_now, Vendor.tax_rate)
        .where(Vendor.id == vendor_id)
        .first()
    )
    assert vendor is not None
    draft = await build_draft(
        plugins,
        vendor=vendor_view_of(vendor),
        customer=customer,
        subscription=subscription,
        plan=plan,
        cycle=cycle,
        meters=meters,
        quantities=quantities,
    )
    return draft, {m["name"]: m for m in meters}


async def cycle_usage(
    plugins: PluginHost,
    vendor_id: str,
    customer_name: str,
    *,
    cycle_id: str | None,
    clock: Clock,
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
    draft, meters = await draft_for_period(
        plugins, vendor_id, customer, subscription, plan_row, cycle
    )
    currency = get_currency(draft.currency)
    return {
        "customer": customer_name,
        "currency": currency.code,
        "cycle": cycle_out(cycle),
        "meters": [
            {
                "meter": line.meter,
                "aggregation": meters[line.meter]["aggregation"],
                "unit": meters[line.meter]["unit"],
                "quantity": str(line.quantity),
                "amount": line.amount,
                "amount_decimal": format_minor(line.amount, currency),
            }
            for line in draft.charges
            if line.kind == "usage" and line.meter in meters
        ],
        "lines": [
            {
                "kind": line.kind,
                "description": line.description,
                "meter": line.meter,
                "amount": line.amount,
                "amount_decimal": format_minor(line.amount, currency),
                "source": line.source,
            }
            for line in draft.charges
        ],
        "accrued_total": draft.subtotal,
        "accrued_total_decimal": format_minor(draft.subtotal, currency),
        "adjustments": [
            {
                "kind": line.kind,
                "description": line.description,
                "amount": line.amount,
                "amount_decimal": format_minor(line.amount, currency),
                "source": line.source,
                "reference": line.reference,
            }
            for line in draft.adjustments
        ],
        "estimated_total": draft.total,
        "estimated_total_decimal": format_minor(draft.total, currency),
    }
