"""The grace-period schedule: finding due work in the database and doing it.

Everything due is re-derived from rows, never remembered elsewhere: a cycle whose
period has ended and is still ``open`` is closed; a draft whose grace period has
elapsed is finalized. The per-minute sweep, the jobs it enqueues, and a test
clock's advance all run these same functions, and each transition is guarded, so
running them twice, concurrently, or after a crash does each thing once.

    cycle:   open --(period end)--> grace --(grace elapsed / finalize now)--> invoiced
    invoice: draft --> finalized --> delivered --(payment grace elapsed)--> collecting
             collecting --> paid | failed --(retry schedule)--> collecting | uncollectible
             any unpaid finalized state --> void (by a person, with a reason)

Each ``due_*`` query returns the ids of due items; the functions that do one item (or a
batch: ``finalize_many``, ``deliver_invoice``, ``collect``, ``reconcile``) run in jobs of
their own (the sweep enqueues them with deterministic keys, see ``lifecycle_jobs``) or
inline in :func:`run_due_work` (a worker starting up, a test clock's advance).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from octane.core.billing_run import BATCH_SIZE, close_ended_cycles, finalize_many
from octane.core.clock import Clock, TestClock, as_utc, ensure_utc
from octane.core.clocks import advance_test_clock, vendor_clock
from octane.core.collection import collect, reconcile
from octane.core.cycles import period_containing, zone
from octane.core.delivery import deliver_invoice
from octane.core.plugins import PluginHost
from octane.core.store.batch import among as sql_among
from octane.core.store.engine import is_postgres
from octane.core.store.tables import (
    BillingCycle,
    Invoice,
    PaymentAttempt,
    Subscription,
)

__all__ = [
    "DueWorkSummary",
    "advance_and_run",
    "close_ended_cycles",
    "due_collections",
    "due_deliveries",
    "due_finalizations",
    "due_reconciliations",
    "oldest_due_per_customer",
    "run_due_work",
]


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


async def due_finalizations(
    vendor_id: str, clock: Clock, *, among: Sequence[str] | None = None
) -> list[str]:
    """The drafts whose invoice grace period is over, oldest period first; with ``among``,
    only those of these ids (a job checking its own batch reads its batch, not every
    due draft of the vendor)."""
    return [invoice_id for invoice_id, _ in await _due_drafts(vendor_id, clock, among=among)]


async def oldest_due_per_customer(
    vendor_id: str, clock: Clock, *, customers: Sequence[str] | None = None
) -> list[tuple[str, str]]:
    """(invoice id, customer id) of each customer's oldest due draft (of these
    ``customers`` only, when given), oldest period first: what may be finalized now
    without a customer's later invoice being numbered (or drawing credit) before an
    earlier one. The later drafts become the oldest once these are finalized."""
    seen: set[str] = set()
    oldest: list[tuple[str, str]] = []
    for invoice_id, customer in await _due_drafts(vendor_id, clock, customers=customers):
        if customer not in seen:
            seen.add(customer)
            oldest.append((invoice_id, customer))
    return oldest


async def _due_drafts(
    vendor_id: str,
    clock: Clock,
    *,
    among: Sequence[str] | None = None,
    customers: Sequence[str] | None = None,
) -> list[tuple[str, str]]:
    """(invoice id, customer id) of the due drafts (of these ids, of these customers),
    oldest period first."""
    if (among is not None and not among) or (customers is not None and not customers):
        return []
    by_id, id_args = sql_among("invoice.id", among)
    by_customer, customer_args = sql_among("invoice.customer", customers)
    scope = by_id + by_customer
    args: list[Any] = [vendor_id, clock.now(), *id_args, *customer_args]
    rows = await Invoice.raw(
        "SELECT invoice.id AS id, invoice.customer AS customer FROM invoice "
        "JOIN billing_cycle ON billing_cycle.id = invoice.cycle "
        "WHERE invoice.vendor = {} AND invoice.status = 'draft' "
        "AND billing_cycle.state = 'grace' AND billing_cycle.grace_ends_at <= {}"
        f"{scope} ORDER BY invoice.period_end, invoice.id",
        *args,
    )
    return [(str(r["id"]), str(r["customer"])) for r in rows]


async def due_deliveries(vendor_id: str, clock: Clock) -> list[str]:
    """Pending deliveries, failed ones whose retry time came, in-flight ones past their lease."""
    rows = await Invoice.select(Invoice.id).where(
        (Invoice.vendor == vendor_id)
        & Invoice.status.not_in(["draft", "void"])
        & (
            (Invoice.delivery_status == "pending")
            | (
                Invoice.delivery_status.is_in(["failed", "in_flight"])
                & (Invoice.delivery_next_at <= clock.now())
            )
        )
    )
    return [str(r["id"]) for r in rows]


async def due_collections(vendor_id: str, clock: Clock) -> list[str]:
    rows = await Invoice.select(Invoice.id).where(
        (Invoice.vendor == vendor_id)
        & Invoice.status.is_in(["finalized", "delivered", "failed"])
        & (Invoice.next_payment_at <= clock.now())
    )
    return [str(r["id"]) for r in rows]


async def due_reconciliations(vendor_id: str, clock: Clock) -> list[str]:
    rows = await PaymentAttempt.select(PaymentAttempt.id).where(
        (PaymentAttempt.vendor == vendor_id)
        & PaymentAttempt.status.is_in(["pending", "unknown"])
        & (PaymentAttempt.next_retry_at <= clock.now())
    )
    return [str(r["id"]) for r in rows]


#: Batches finalized at once on PostgreSQL: while one batch's rows are written, the next
#: one is computed, so Python and the database each keep a core busy. (SQLite has one
#: writer: its batches run one after the other.)
IN_FLIGHT = 2


async def _finalize_batch(
    plugins: PluginHost,
    vendor_id: str,
    batch: list[str],
    clock: Clock,
    summary: DueWorkSummary,
    failed: set[str],
) -> list[str]:
    """Finalize a batch; a failing batch is redone invoice by invoice, so that only the
    invoice at fault stays due (reported, and added to ``failed``)."""
    try:
        return await finalize_many(plugins, vendor_id, batch, clock=clock)
    except Exception:
        finalized = []
        for invoice_id in batch:
            try:
                finalized += await finalize_many(plugins, vendor_id, [invoice_id], clock=clock)
            except Exception as exc:
                summary.errors.append(f"finalizing {invoice_id}: {exc}")
                failed.add(invoice_id)
        return finalized


async def _finalize_due(
    plugins: PluginHost, vendor_id: str, clock: Clock, summary: DueWorkSummary
) -> int:
    """Finalize every due draft, in rounds of batches.

    A round takes each customer's oldest due draft (a customer's oldest invoice is
    numbered first and draws credit first); its later ones come in the next rounds. The
    batches of a round share no customer, so on PostgreSQL two of them run at once."""
    due = await _due_drafts(vendor_id, clock)
    in_flight = asyncio.Semaphore(IN_FLIGHT if is_postgres() else 1)
    failed: set[str] = set()

    async def run(batch: list[str]) -> list[str]:
        async with in_flight:
            return await _finalize_batch(plugins, vendor_id, batch, clock, summary, failed)

    done = 0
    while due:
        customers: set[str] = set()
        round_: list[str] = []
        later: list[tuple[str, str]] = []
        for invoice_id, customer in due:
            if customer in customers:
                later.append((invoice_id, customer))
            else:
                customers.add(customer)
                round_.append(invoice_id)
        batches = [round_[i : i + BATCH_SIZE] for i in range(0, len(round_), BATCH_SIZE)]
        finalized = {i for ids in await asyncio.gather(*map(run, batches)) for i in ids}
        done += len(finalized)
        # Drafts the round did not finalize (their customer was busy in another worker's
        # batch) are tried again if still due, as long as the rounds make progress.
        left = [i for i in round_ if i not in finalized and i not in failed]
        if left and finalized:
            again = set(await due_finalizations(vendor_id, clock, among=left))
            later = [*(d for d in due if d[0] in again), *later]
        due = later
    return done


async def _each(summary: DueWorkSummary, what: str, ids: list[str], action: Any) -> int:
    """Run ``action`` for every id; count the ones that did something. A failing item is
    reported and stays due; it never stops the others."""
    done = 0
    for item in ids:
        try:
            if await action(item):
                done += 1
        except Exception as exc:
            summary.errors.append(f"{what} {item}: {exc}")
    return done


async def run_due_work(
    plugins: PluginHost, vendor_id: str, clock: Clock, *, max_rounds: int = 20
) -> DueWorkSummary:
    """Do everything due for one vendor at ``clock.now()``, until nothing is left (a
    finalization makes a delivery due, a delivery may make a charge due...)."""
    summary = DueWorkSummary()
    for number in range(max_rounds):
        round_ = DueWorkSummary()
        if number == 0:  # periods end with time, not with work: once per call is enough
            round_.cycles_closed = await close_ended_cycles(vendor_id, clock)

        round_.invoices_finalized = await _finalize_due(plugins, vendor_id, clock, round_)

        async def deliver(item: str) -> bool:
            return await deliver_invoice(plugins, vendor_id, item, clock=clock) == "delivered"

        round_.invoices_delivered = await _each(
            round_, "delivering", await due_deliveries(vendor_id, clock), deliver
        )

        async def charge(item: str) -> bool:
            return await collect(plugins, vendor_id, item, clock=clock) is not None

        round_.payments_attempted = await _each(
            round_, "collecting", await due_collections(vendor_id, clock), charge
        )

        async def settle(item: str) -> bool:
            return await reconcile(plugins, vendor_id, item, clock=clock) is not None

        await _each(round_, "reconciling", await due_reconciliations(vendor_id, clock), settle)
        summary.add(round_)
        if not round_.anything:
            break
    return summary


async def _first(query: Any, column: Any) -> datetime | None:
    row = await query.order_by(column).first()
    return None if row is None else row[column._meta.name]


async def next_deadline(vendor_id: str, after: datetime) -> datetime | None:
    """The earliest moment after ``after`` at which something becomes due for the vendor:
    a period end, a grace period end, a delivery retry, a charge or a reconciliation."""
    found = [
        await _first(
            BillingCycle.select(BillingCycle.grace_ends_at).where(
                (BillingCycle.vendor == vendor_id)
                & (BillingCycle.state == "grace")
                & (BillingCycle.grace_ends_at > after)
            ),
            BillingCycle.grace_ends_at,
        ),
        await _first(
            Invoice.select(Invoice.delivery_next_at).where(
                (Invoice.vendor == vendor_id)
                & Invoice.delivery_status.is_in(["failed", "in_flight"])
                & (Invoice.delivery_next_at > after)
            ),
            Invoice.delivery_next_at,
        ),
        await _first(
            Invoice.select(Invoice.next_payment_at).where(
                (Invoice.vendor == vendor_id)
                & Invoice.status.is_in(["finalized", "delivered", "failed"])
                & (Invoice.next_payment_at > after)
            ),
            Invoice.next_payment_at,
        ),
        await _first(
            PaymentAttempt.select(PaymentAttempt.next_retry_at).where(
                (PaymentAttempt.vendor == vendor_id)
                & PaymentAttempt.status.is_in(["pending", "unknown"])
                & (PaymentAttempt.next_retry_at > after)
            ),
            PaymentAttempt.next_retry_at,
        ),
    ]
    # Subscriptions sharing a schedule share their period ends: one row per schedule.
    schedules = await Subscription.raw(
        "SELECT s.starts_at AS starts_at, s.billing_anchor AS anchor, s.ends_at AS ends_at, "
        "p.period AS period, c.timezone AS timezone FROM subscription s "
        "JOIN price_plan p ON p.id = s.plan JOIN customer c ON c.id = s.customer "
        "WHERE s.vendor = {} GROUP BY s.starts_at, s.billing_anchor, s.ends_at, p.period, "
        "c.timezone",
        vendor_id,
    )
    for schedule in schedules:
        starts_at = as_utc(schedule["starts_at"])
        ends_at = None if schedule["ends_at"] is None else as_utc(schedule["ends_at"])
        period = period_containing(
            max(after, starts_at),
            start=starts_at,
            anchor=as_utc(schedule["anchor"]),
            period=schedule["period"],
            tz=zone(schedule["timezone"]),
            end=ends_at,
        )
        if period is not None and period.end > after:
            found.append(period.end)
    times = [t for t in found if t is not None]
    return min(times) if times else None


async def advance_and_run(
    plugins: PluginHost,
    vendor_id: str,
    to: datetime,
    *,
    max_steps: int = 10_000,
    accrue: bool = False,
) -> DueWorkSummary:
    """Move a test clock to ``to`` the way time would pass: stopping at every deadline on
    the way (in order) and doing what is due there, so that each invoice is finalized,
    charged and retried at its own time, not all at ``to``.

    With ``accrue`` the revenue of the open cycles is accrued at ``to`` too, as the
    worker's hourly job would have done meanwhile (the CLI, the API and the portal ask
    for it; the billing-run benchmark does not, to time the billing run alone).
    """
    summary = DueWorkSummary()
    clock = await vendor_clock(vendor_id)
    to = ensure_utc(to, field="to")
    if isinstance(clock, TestClock):
        TestClock(clock.now()).advance_to(to)  # refuses going backwards, naming "to"
    else:
        await advance_test_clock(vendor_id, to)  # refuses: this vendor is on the real clock
    now = clock.now()
    for _ in range(max_steps):
        deadline = await next_deadline(vendor_id, now)
        if deadline is None or deadline >= to:
            break
        now = await advance_test_clock(vendor_id, deadline)
        summary.add(await run_due_work(plugins, vendor_id, await vendor_clock(vendor_id)))
    await advance_test_clock(vendor_id, to)
    summary.add(await run_due_work(plugins, vendor_id, await vendor_clock(vendor_id)))
    if accrue:
        from octane.core.accrual import accrue_vendor

        await accrue_vendor(plugins, vendor_id)
    return summary
