"""The grace-period schedule: finding due work in the database and doing it.

Everything due is re-derived from rows, never remembered elsewhere: a cycle whose
period has ended and is still ``open`` is closed; a draft whose grace period has
elapsed is finalized. The per-minute sweep, the jobs it enqueues, and a test
clock's advance all run these same functions, and each transition is guarded, so
running them twice, concurrently, or after a crash does each thing once.

    cycle:   open --(period end)--> grace --(grace elapsed / finalize now)--> invoiced
    invoice: draft --> finalized --> ...
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from octane.core.clock import Clock
from octane.core.cycles import cycles_between, zone
from octane.core.finalization import close_cycle, finalize_invoice
from octane.core.plugins import PluginHost
from octane.core.store.tables import BillingCycle, Customer, Invoice, PricePlan, Subscription
from octane.core.subscriptions import ensure_cycle

__all__ = ["DueWorkSummary", "close_ended_cycles", "finalize_due_invoices", "run_due_work"]


@dataclass
class DueWorkSummary:
    """What one pass over a vendor's due work did (shown by the test clock's advance)."""

    cycles_closed: int = 0
    invoices_finalized: int = 0
    invoices_delivered: int = 0
    payments_attempted: int = 0
    errors: list[str] = field(default_factory=list)

    def add(self, other: DueWorkSummary) -> None:
        self.cycles_closed += other.cycles_closed
        self.invoices_finalized += other.invoices_finalized
        self.invoices_delivered += other.invoices_delivered
        self.payments_attempted += other.payments_attempted
        self.errors += other.errors

    @property
    def anything(self) -> bool:
        return bool(
            self.cycles_closed
            or self.invoices_finalized
            or self.invoices_delivered
            or self.payments_attempted
        )


async def _ended_open_cycles(vendor_id: str, clock: Clock) -> list[dict[str, Any]]:
    """Every cycle of the vendor that has ended by now and is still open, creating the rows
    of ended periods nobody looked at (a cycle with no traffic still gets its invoice)."""
    now = clock.now()
    subscriptions = await Subscription.select().where(
        (Subscription.vendor == vendor_id) & (Subscription.starts_at < now)
    )
    if not subscriptions:
        return []
    plans = {
        p["id"]: p["period"]
        for p in await PricePlan.select(PricePlan.id, PricePlan.period).where(
            PricePlan.vendor == vendor_id
        )
    }
    zones = {
        c["id"]: c["timezone"]
        for c in await Customer.select(Customer.id, Customer.timezone).where(
            Customer.vendor == vendor_id
        )
    }
    known = {
        (c["subscription"], c["period_start"], c["period_end"]): c
        for c in await BillingCycle.select().where(
            (BillingCycle.vendor == vendor_id) & (BillingCycle.period_start < now)
        )
    }
    ended = []
    for subscription in subscriptions:
        periods = cycles_between(
            start=subscription["starts_at"],
            anchor=subscription["billing_anchor"],
            period=plans[subscription["plan"]],
            tz=zone(zones[subscription["customer"]]),
            until=now,
            end=subscription["ends_at"],
        )
        for period in periods:
            if period.end > now:
                continue
            cycle = known.get((subscription["id"], period.start, period.end))
            if cycle is None:
                cycle = await ensure_cycle(vendor_id, subscription, period, clock=clock)
            if cycle["state"] == "open":
                ended.append(cycle)
    return ended


async def close_ended_cycles(vendor_id: str, clock: Clock) -> int:
    closed = 0
    for cycle in await _ended_open_cycles(vendor_id, clock):
        if await close_cycle(vendor_id, cycle["id"], clock=clock) is not None:
            closed += 1
    return closed


async def finalize_due_invoices(
    plugins: PluginHost, vendor_id: str, clock: Clock, summary: DueWorkSummary
) -> None:
    now = clock.now()
    due = await Invoice.raw(
        "SELECT invoice.id FROM invoice JOIN billing_cycle ON billing_cycle.id = invoice.cycle "
        "WHERE invoice.vendor = {} AND invoice.status = 'draft' "
        "AND billing_cycle.state = 'grace' AND billing_cycle.grace_ends_at <= {} "
        "ORDER BY invoice.period_end, invoice.id",
        vendor_id,
        now,
    )
    for row in due:
        try:
            invoice = await finalize_invoice(plugins, vendor_id, row["id"], clock=clock)
        except Exception as exc:  # one bad invoice must not stop the others
            summary.errors.append(f"finalizing {row['id']}: {exc}")
            continue
        if invoice["status"] != "draft":
            summary.invoices_finalized += 1


async def run_due_work(plugins: PluginHost, vendor_id: str, clock: Clock) -> DueWorkSummary:
    """Do everything due for one vendor at ``clock.now()``."""
    summary = DueWorkSummary()
    summary.cycles_closed = await close_ended_cycles(vendor_id, clock)
    await finalize_due_invoices(plugins, vendor_id, clock, summary)
    return summary
