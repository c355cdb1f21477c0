"""Revenue accrual over open cycles: what the hourly job runs.

For every subscription, the cycle containing its vendor's "now" is priced through the
hooks (undiscounted: credits, discounts and trials apply only when the invoice is
computed) and the ledger records the change since the last run.

Cycles are priced in batches (:func:`octane.core.billing_run.compute_drafts`: a fixed
number of queries per batch), then each batch's deltas are written in one transaction
that re-reads the accrued amounts it changes (locked on PostgreSQL; SQLite has one
writer), so a concurrent or repeated run can never count a delta twice.
"""

from __future__ import annotations

from typing import Any

from octane.core.billing_run import BATCH_SIZE, compute_drafts, insert_cycle_rows
from octane.core.clocks import vendor_clock
from octane.core.cycles import period_containing, zone
from octane.core.plugins import PluginHost
from octane.core.store.batch import insert_rows, update_rows
from octane.core.store.engine import is_postgres, write_transaction
from octane.core.store.tables import BillingCycle, Customer, PricePlan, Subscription, Vendor

__all__ = ["accrue_open_cycles", "accrue_vendor"]

_ACCRUAL_COLUMNS = (
    ("vendor", "varchar"),
    ("customer", "varchar"),
    ("cycle", "varchar"),
    ("kind", "varchar"),
    ("amount", "bigint"),
    ("currency", "varchar"),
    ("description", "text"),
    ("source_ref", "varchar"),
    ("effective_at", "timestamptz"),
    ("created_at", "timestamptz"),
)


async def accrue_open_cycles(plugins: PluginHost, *, vendor_id: str | None = None) -> int:
    """Accrue every subscription's current cycle (one vendor's, or all); return how many
    cycles changed."""
    if vendor_id is not None:
        return await accrue_vendor(plugins, vendor_id)
    changed = 0
    for vendor in await Vendor.select(Vendor.id):
        changed += await accrue_vendor(plugins, str(vendor["id"]))
    return changed


async def accrue_vendor(plugins: PluginHost, vendor_id: str) -> int:
    clock = await vendor_clock(vendor_id)
    now = clock.now()
    subscriptions = await Subscription.select().where(
        (Subscription.vendor == vendor_id) & (Subscription.starts_at <= now)
    )
    if not subscriptions:
        return 0
    periods = {p["id"]: p["period"] for p in await PricePlan.select(PricePlan.id, PricePlan.period)
               .where(PricePlan.vendor == vendor_id)}  # fmt: skip
    zones = {c["id"]: c["timezone"] for c in await Customer.select(Customer.id, Customer.timezone)
             .where(Customer.vendor == vendor_id)}  # fmt: skip
    current = []
    for subscription in subscriptions:
        period = period_containing(
            now,
            start=subscription["starts_at"],
            anchor=subscription["billing_anchor"],
            period=periods[subscription["plan"]],
            tz=zone(zones[subscription["customer"]]),
            end=subscription["ends_at"],
        )
        if period is not None:
            current.append((subscription, period))
    await insert_cycle_rows(vendor_id, current, now=now)  # cycles nobody looked at yet
    cycles = await BillingCycle.select().where(
        (BillingCycle.vendor == vendor_id)
        & (BillingCycle.state == "open")
        & (BillingCycle.period_start <= now)
        & (BillingCycle.period_end > now)
    )
    vendor = await Vendor.select().where(Vendor.id == vendor_id).output(load_json=True).first()
    assert vendor is not None
    changed = 0
    for start in range(0, len(cycles), BATCH_SIZE):
        batch = cycles[start : start + BATCH_SIZE]
        computed = await compute_drafts(plugins, vendor, batch)
        changed += await _write_deltas(vendor_id, batch, computed, now=now)
    return changed


async def _write_deltas(
    vendor_id: str, batch: list[dict[str, Any]], computed: list[Any], *, now: Any
) -> int:
    amounts = {cycle["id"]: draft for cycle, (_, draft) in zip(batch, computed, strict=True)}
    marks = ", ".join("{}" for _ in amounts)
    async with write_transaction():
        lock = " FOR UPDATE" if is_postgres() else ""
        rows = await BillingCycle.raw(
            f"SELECT id, customer, accrued_amount FROM billing_cycle WHERE id IN ({marks}) "
            f"AND state = 'open'{lock}",
            *amounts,
        )
        updates, entries = [], []
        for row in rows:
            draft = amounts[str(row["id"])]
            delta = draft.subtotal - int(row["accrued_amount"])
            if delta == 0:
                continue
            updates.append((draft.subtotal, row["id"]))
            entries.append(
                (
                    vendor_id, row["customer"], row["id"], "accrual", delta, draft.currency,
                    "Revenue accrued", f"accrual:{row['id']}:{draft.subtotal}", now, now,
                )
            )  # fmt: skip
        await update_rows(
            "billing_cycle", [("accrued_amount", "bigint")], [("id", "varchar")], updates
        )
        await insert_rows("ledger_entry", _ACCRUAL_COLUMNS, entries)
    return len(updates)
