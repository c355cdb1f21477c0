"""Helpers shared by the integration tests: vendors with keys, a customer billed on a plan."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from octane.core.catalog import create_meter, create_plan
from octane.core.clock import SystemClock, TestClock, utc
from octane.core.customers import create_customer, get_customer_row
from octane.core.metering import ingest
from octane.core.plugins import load_plugins
from octane.core.store.tables import PricePlan, Subscription
from octane.core.subscriptions import create_subscription, ensure_cycle, subscription_period
from octane.core.usage import draft_for_period
from octane.core.vendors import create_api_key, create_vendor


async def new_vendor(name: str = "Vendor", *, test_clock: Any = None) -> dict[str, str]:
    """A vendor and its API key, as request headers."""
    vendor = await create_vendor(
        name=name, email="ops@vendor.example", clock=SystemClock(), test_clock_start=test_clock
    )
    key = await create_api_key(str(vendor["id"]), clock=SystemClock())
    return {"Authorization": f"Bearer {key.key}", "X-Vendor-Id": str(vendor["id"])}


NOW = utc(2026, 3, 20)
PLUGINS = load_plugins(["sandbox"], use_entry_points=False)


async def draft_now(vendor: str, clock: TestClock) -> Any:
    customer = await get_customer_row(vendor, "acme")
    subscription = await Subscription.select().where(Subscription.vendor == vendor).first()
    plan = await PricePlan.select().where(PricePlan.vendor == vendor).output(load_json=True).first()
    assert subscription is not None and plan is not None
    period = subscription_period(subscription, "month", "UTC", clock.now())
    assert period is not None
    cycle = await ensure_cycle(vendor, subscription, period, clock=clock)
    draft, _ = await draft_for_period(PLUGINS, vendor, customer, subscription, plan, cycle)
    return draft


async def setup_plan_customer(
    now: datetime,
    *,
    fixed_fee: str,
    unit_price: str,
    minimum_charge: str = "0",
    trial_days: int = 0,
) -> tuple[str, TestClock]:
    """A vendor on a test clock at ``now`` with a sum meter ``calls``, a monthly USD plan
    ``p`` pricing it per unit, and customer ``acme`` subscribed from 2026-03-01."""
    clock = TestClock(now)
    vendor = await create_vendor(name="V", email="v@v.example", clock=clock, test_clock_start=now)
    vendor_id = str(vendor["id"])
    await create_meter(vendor_id, name="calls", aggregation="sum", clock=clock)
    await create_plan(
        vendor_id,
        name="p",
        currency="USD",
        period="month",
        fixed_fee=fixed_fee,
        minimum_charge=minimum_charge,
        trial_days=trial_days,
        components=[{"meter": "calls", "model": "per_unit", "unit_price": unit_price}],
        clock=clock,
    )
    await create_customer(vendor_id, {"name": "acme", "currency": "USD"}, clock=clock)
    await create_subscription(
        vendor_id, "acme", price_plan="p", starts_at=utc(2026, 3, 1), clock=clock
    )
    return vendor_id, clock


async def setup_billed_customer() -> tuple[str, TestClock]:
    """``setup_plan_customer`` with 1,000 calls on March 5: usage 50.00 + fee 20.00 = 70.00."""
    vendor, clock = await setup_plan_customer(NOW, fixed_fee="20", unit_price="0.05")
    result = await ingest(
        vendor,
        [{"meter": "calls", "customer": "acme", "value": "1000", "time": "2026-03-05T00:00:00Z"}],
        clock=clock,
    )
    assert not result.errors
    return vendor, clock
