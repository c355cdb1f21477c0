"""Revenue accrual over open cycles: what the hourly job runs.

For every subscription, the cycle containing its vendor's "now" is priced through
the hooks (undiscounted: credits, discounts and trials apply only when the invoice
is computed) and the ledger records the change since the last run.
"""

from __future__ import annotations

from typing import Any

from octane.core.clocks import vendor_clock
from octane.core.ledger import accrue
from octane.core.plugins import PluginHost
from octane.core.store.tables import Customer, PricePlan, Subscription
from octane.core.subscriptions import ensure_cycle, subscription_period
from octane.core.usage import draft_for_period

__all__ = ["accrue_open_cycles", "accrue_subscription"]


async def accrue_subscription(plugins: PluginHost, subscription: dict[str, Any]) -> int:
    """Accrue the current cycle of one subscription; return the delta written."""
    vendor_id = subscription["vendor"]
    clock = await vendor_clock(vendor_id)
    customer = (
        await Customer.select()
        .where(Customer.id == subscription["customer"])
        .output(load_json=True)
        .first()
    )
    plan = (
        await PricePlan.select()
        .where(PricePlan.id == subscription["plan"])
        .output(load_json=True)
        .first()
    )
    assert customer is not None and plan is not None
    period = subscription_period(subscription, plan["period"], customer["timezone"], clock.now())
    if period is None:
        return 0
    cycle = await ensure_cycle(vendor_id, subscription, period, clock=clock)
    if cycle["state"] != "open":
        return 0
    draft, _ = await draft_for_period(plugins, vendor_id, customer, subscription, plan, cycle)
    return await accrue(
        vendor_id, cycle, amount_now=draft.subtotal, currency=draft.currency, clock=clock
    )


async def accrue_open_cycles(plugins: PluginHost, *, vendor_id: str | None = None) -> int:
    """Accrue every subscription's current cycle (one vendor's, or all); return how many
    cycles changed."""
    query = Subscription.select()
    if vendor_id is not None:
        query = query.where(Subscription.vendor == vendor_id)
    changed = 0
    for subscription in await query:
        if await accrue_subscription(plugins, subscription):
            changed += 1
    return changed
