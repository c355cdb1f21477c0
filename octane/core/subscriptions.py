"""Subscriptions (a customer on a plan) and their billing cycles.

A cycle row is created the first time it is needed (the current cycle is looked
at, a usage question is asked, the lifecycle closes it); the unique index on
``(subscription, period_start, period_end)`` makes creation idempotent when two
requests race.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from octane.core.catalog import get_plan
from octane.core.clock import Clock, ensure_utc
from octane.core.customers import get_customer_row
from octane.core.cycles import Period, period_containing, zone
from octane.core.errors import ConflictError, NotFoundError, ValidationError
from octane.core.ids import new_id
from octane.core.store.engine import is_unique_violation
from octane.core.store.tables import BillingCycle, PricePlan, Subscription

__all__ = [
    "create_subscription",
    "cycle_out",
    "ensure_cycle",
    "get_subscription",
    "subscription_for",
    "subscription_period",
]


def subscription_period(
    subscription: Mapping[str, Any], period: str, timezone: str, instant: datetime
) -> Period | None:
    """The period of ``subscription`` containing ``instant`` (None outside its life)."""
    return period_containing(
        instant,
        start=subscription["starts_at"],
        anchor=subscription["billing_anchor"],
        period=period,
        tz=zone(timezone),
        end=subscription["ends_at"],
    )


def cycle_out(row: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "period_start": row["period_start"],
        "period_end": row["period_end"],
        "state": row["state"],
        "grace_ends_at": row["grace_ends_at"],
    }


async def ensure_cycle(
    vendor_id: str, subscription: Mapping[str, Any], period: Period, *, clock: Clock
) -> dict[str, Any]:
    """The cycle row for ``period``, created (state ``open``) if it does not exist yet."""

    async def find() -> dict[str, Any] | None:
        return await (
            BillingCycle.select()
            .where(
                (BillingCycle.subscription == subscription["id"])
                & (BillingCycle.period_start == period.start)
                & (BillingCycle.period_end == period.end)
            )
            .first()
        )

    existing = await find()
    if existing is not None:
        return existing
    try:
        await BillingCycle.insert(
            BillingCycle(
                id=new_id("cyc"),
                vendor=vendor_id,
                customer=subscription["customer"],
                subscription=subscription["id"],
                period_start=period.start,
                period_end=period.end,
                state="open",
                created_at=clock.now(),
            )
        )
    except Exception as exc:  # created concurrently: the unique index kept one of them
        if not is_unique_violation(exc):
            raise
    created = await find()
    assert created is not None
    return created


async def subscription_for(vendor_id: str, customer_id: str) -> dict[str, Any] | None:
    """The customer's subscription (a customer has at most one)."""
    return await (
        Subscription.select()
        .where((Subscription.vendor == vendor_id) & (Subscription.customer == customer_id))
        .first()
    )


async def create_subscription(
    vendor_id: str,
    customer_name: str,
    *,
    price_plan: str,
    starts_at: datetime,
    billing_anchor: datetime | None = None,
    clock: Clock,
) -> dict[str, Any]:
    customer = await get_customer_row(vendor_id, customer_name)
    plan = await get_plan(vendor_id, price_plan)
    if plan["currency"] != customer["currency"]:
        raise ValidationError(
            f"The plan '{price_plan}' is priced in {plan['currency']}, but the customer "
            f"'{customer_name}' pays in {customer['currency']}.",
            field="price_plan",
            code="currency_mismatch",
        )
    starts = ensure_utc(starts_at, field="starts_at")
    anchor = ensure_utc(billing_anchor, field="billing_anchor") if billing_anchor else starts
    if await subscription_for(vendor_id, customer["id"]) is not None:
        raise ConflictError(
            f"The customer '{customer_name}' already has a subscription.",
            field="customer",
            code="subscription_exists",
        )
    trial_days = int(plan["trial_days"])
    await Subscription.insert(
        Subscription(
            id=new_id("sub"),
            vendor=vendor_id,
            customer=customer["id"],
            plan=plan["id"],
            starts_at=starts,
            billing_anchor=anchor,
            trial_ends_at=starts + timedelta(days=trial_days) if trial_days else None,
            created_at=clock.now(),
        )
    )
    return await get_subscription(vendor_id, customer_name, clock=clock)


async def get_subscription(vendor_id: str, customer_name: str, *, clock: Clock) -> dict[str, Any]:
    customer = await get_customer_row(vendor_id, customer_name)
    subscription = await subscription_for(vendor_id, customer["id"])
    if subscription is None:
        raise NotFoundError(
            f"The customer '{customer_name}' has no subscription.",
            field="customer",
        )
    plan = (
        await PricePlan.select(PricePlan.name, PricePlan.period)
        .where(PricePlan.id == subscription["plan"])
        .first()
    )
    assert plan is not None
    period = subscription_period(subscription, plan["period"], customer["timezone"], clock.now())
    current = (
        cycle_out(await ensure_cycle(vendor_id, subscription, period, clock=clock))
        if period is not None
        else None
    )
    return {
        "id": subscription["id"],
        "customer": customer_name,
        "price_plan": plan["name"],
        "period": plan["period"],
        "starts_at": subscription["starts_at"],
        "ends_at": subscription["ends_at"],
        "billing_anchor": subscription["billing_anchor"],
        "trial_ends_at": subscription["trial_ends_at"],
        "current_cycle": current,
    }
