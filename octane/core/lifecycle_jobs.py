"""The lifecycle on the queue: jobs for the due work, and the sweeper that finds them.

The sweeper (run by the workers' sweep loop, see ``octane.core.jobs``) only finds work;
it hands it out as jobs with deterministic keys, so several workers share the work and
a repeated sweep does not pile up duplicates while a job is pending:

* ``close_cycles``: the ended cycles of a bucket of customers move to grace with their
  drafts; the drafts whose invoice grace period is already over (a worker was down, a
  test clock jumped) are finalized in the same job, each customer's oldest first,
  instead of waiting for the next sweep;
* ``finalize_invoices``: a bucket's due drafts, each customer's oldest only;
* one job per delivery, charge and reconciliation.

The billing jobs (the first two) go to their own queue (``octane.core.queue``), which
each worker takes at ``worker.batch_concurrency`` (two), so the ten batches of a month
end are shared by the workers instead of all taken by the first one. They are cut by
customer: a stable hash of the customer id spreads the vendor's customers over one
bucket per 1,000, and a bucket has one key (``bill:<vendor>:<bucket>/<buckets>``), so
it has one billing job at a time and a sweep that runs while its job is pending adds
nothing; while any of a vendor's billing jobs is pending, the sweep does not even look
for the vendor's billing work. Each job re-checks that its items are still due and
moves them with guarded transitions: a job that runs twice, or after another worker did
the work, changes nothing.
"""

from __future__ import annotations

import logging
import zlib
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any

from saq.job import Status
from saq.queue.base import Queue

from octane.core.billing_run import BATCH_SIZE, finalize_many, subscriptions_to_close
from octane.core.clocks import advance_test_clock, vendor_clock
from octane.core.collection import collect, reconcile
from octane.core.delivery import deliver_invoice
from octane.core.finalization import finalize_invoice
from octane.core.jobs import enqueue_unique
from octane.core.lifecycle import (
    close_ended_cycles,
    due_collections,
    due_deliveries,
    due_finalizations,
    due_reconciliations,
    oldest_due_per_customer,
    run_due_work,
)
from octane.core.plugins import PluginHost
from octane.core.store.batch import one_of
from octane.core.store.tables import Customer, Subscription, Vendor

__all__ = ["BATCH_JOBS", "LIFECYCLE_JOBS", "advance_on_workers", "catch_up", "lifecycle_sweeper"]

log = logging.getLogger("octane.lifecycle")


async def finalize_job(ctx: dict[str, Any], *, vendor_id: str, invoice_id: str) -> str:
    plugins = ctx["octane"].plugins
    clock = await vendor_clock(vendor_id)
    invoice = await finalize_invoice(plugins, vendor_id, invoice_id, clock=clock)
    if invoice["delivery_status"] == "pending" and "queue" in ctx:  # deliver right away
        await enqueue_unique(
            ctx["queue"],
            "deliver_invoice",
            key=f"deliver:{invoice_id}:{invoice['delivery_attempts']}",
            vendor_id=vendor_id,
            invoice_id=invoice_id,
        )
    return str(invoice["status"])


async def finalize_batch_job(ctx: dict[str, Any], *, vendor_id: str, invoice_ids: list[str]) -> int:
    """Finalize a batch of due drafts in one transaction (see octane.core.billing_run)."""
    clock = await vendor_clock(vendor_id)
    due = set(await due_finalizations(vendor_id, clock, among=invoice_ids))
    finalized = await finalize_many(
        ctx["octane"].plugins, vendor_id, [i for i in invoice_ids if i in due], clock=clock
    )
    return len(finalized)


async def close_batch_job(
    ctx: dict[str, Any],
    *,
    vendor_id: str,
    subscription_ids: list[str],
    customer_ids: list[str] | None = None,
) -> int:
    """Close the ended cycles of these subscriptions, then finalize at once the drafts of
    their customers (and of ``customer_ids``) whose invoice grace period is over: each
    customer's oldest due draft (a later one follows on the next sweep). Returns the
    cycles closed."""
    clock = await vendor_clock(vendor_id)
    closed = await close_ended_cycles(vendor_id, clock, subscriptions=subscription_ids)
    customers = set(customer_ids or ())
    customers |= {
        r["customer"]
        for r in await Subscription.select(Subscription.customer).where(
            (Subscription.vendor == vendor_id) & one_of(Subscription.id, subscription_ids)
        )
    }
    due = [
        i for i, _ in await oldest_due_per_customer(vendor_id, clock, customers=sorted(customers))
    ]
    # A bucket holds about BATCH_SIZE customers (a hash spreads them): one transaction,
    # unless it is far bigger.
    parts = -(-len(due) // (BATCH_SIZE * 5 // 4))
    for part in range(parts):
        await finalize_many(ctx["octane"].plugins, vendor_id, due[part::parts], clock=clock)
    return closed


async def deliver_job(ctx: dict[str, Any], *, vendor_id: str, invoice_id: str) -> str | None:
    clock = await vendor_clock(vendor_id)
    return await deliver_invoice(ctx["octane"].plugins, vendor_id, invoice_id, clock=clock)


async def collect_job(ctx: dict[str, Any], *, vendor_id: str, invoice_id: str) -> str | None:
    clock = await vendor_clock(vendor_id)
    attempt = await collect(ctx["octane"].plugins, vendor_id, invoice_id, clock=clock)
    return None if attempt is None else str(attempt["id"])


async def reconcile_job(ctx: dict[str, Any], *, vendor_id: str, attempt_id: str) -> str | None:
    clock = await vendor_clock(vendor_id)
    return await reconcile(ctx["octane"].plugins, vendor_id, attempt_id, clock=clock)


#: The billing batches, run from their own queue (``octane.core.queue.BATCH_QUEUE_NAME``).
BATCH_JOBS: list[tuple[str, Callable[..., Awaitable[Any]]]] = [
    ("close_cycles", close_batch_job),
    ("finalize_invoices", finalize_batch_job),
]

#: The main queue's lifecycle jobs (the batches too, should one be enqueued there).
LIFECYCLE_JOBS: list[tuple[str, Callable[..., Awaitable[Any]]]] = [
    *BATCH_JOBS,
    ("finalize_invoice", finalize_job),
    ("deliver_invoice", deliver_job),
    ("collect_payment", collect_job),
    ("reconcile_payment", reconcile_job),
]


def _buckets(pairs: Sequence[tuple[str, str]], count: int) -> dict[int, list[tuple[str, str]]]:
    """(customer, id) pairs spread over ``count`` buckets by a stable hash of the customer:
    a customer's items stay together, and a bucket keeps its number from one sweep to
    the next."""
    spread: dict[int, list[tuple[str, str]]] = {}
    for customer, item in pairs:
        spread.setdefault(zlib.crc32(customer.encode()) % count, []).append((customer, item))
    return spread


_DONE = {Status.COMPLETE, Status.FAILED, Status.ABORTED}


async def _pending(queue: object, keys: list[str]) -> bool:
    """Whether a job under one of these keys is still queued, running or waiting for a
    retry (one lookup; a queue that cannot tell says no)."""
    if not isinstance(queue, Queue):
        return False
    return any(job is not None and job.status not in _DONE for job in await queue.jobs(keys))


async def lifecycle_sweeper(ctx: dict[str, Any]) -> int:
    """Enqueue a job for every due closing, finalization, delivery, charge and
    reconciliation of every vendor (each at its own clock's now).

    A bucket of customers gets one billing job at a time (one key): ``close_cycles``
    when some of its subscriptions have ended periods (it finalizes the bucket's due
    drafts too), else ``finalize_invoices`` for its due drafts. While any of a vendor's
    billing jobs is pending, its billing work is not looked for again."""
    queue = ctx["queue"]
    batch_queue = ctx.get("batch_queue", queue)
    found = 0
    for vendor in await Vendor.select(Vendor.id):
        vendor_id = str(vendor["id"])
        clock = await vendor_clock(vendor_id)
        customers = await Customer.count().where(Customer.vendor == vendor_id)
        count = max(1, -(-customers // BATCH_SIZE))
        keys = [f"bill:{vendor_id}:{bucket}/{count}" for bucket in range(count)]
        batches: list[tuple[str, str, dict[str, Any]]] = []
        if await _pending(batch_queue, keys):
            # The previous sweep's billing jobs are at work: finding the same work again
            # would only take time from them; the first sweep after them hands out the rest.
            closing: dict[int, list[tuple[str, str]]] = {}
            drafts: dict[int, list[tuple[str, str]]] = {}
        else:
            closing = _buckets(await subscriptions_to_close(vendor_id, clock), count)
            # Concurrent jobs must not finalize a customer's later draft before its
            # earlier one: only each customer's oldest due draft is handed out.
            oldest = [(c, i) for i, c in await oldest_due_per_customer(vendor_id, clock)]
            drafts = _buckets(oldest, count)
        for bucket in sorted(closing.keys() | drafts.keys()):
            key = keys[bucket]
            if bucket in closing:
                kwargs: dict[str, Any] = {
                    "subscription_ids": [s for _, s in closing[bucket]],
                    "customer_ids": sorted({c for c, _ in drafts.get(bucket, ())}),
                }
                batches.append(("close_cycles", key, kwargs))
            else:
                batches.append(
                    ("finalize_invoices", key, {"invoice_ids": [i for _, i in drafts[bucket]]})
                )
        due: list[tuple[str, str, dict[str, Any]]] = []
        for invoice_id in await due_deliveries(vendor_id, clock):
            due.append(("deliver_invoice", f"deliver:{invoice_id}", {"invoice_id": invoice_id}))
        for invoice_id in await due_collections(vendor_id, clock):
            due.append(("collect_payment", f"collect:{invoice_id}", {"invoice_id": invoice_id}))
        for attempt_id in await due_reconciliations(vendor_id, clock):
            due.append(("reconcile_payment", f"reconcile:{attempt_id}", {"attempt_id": attempt_id}))
        for function, key, kwargs in batches:
            await enqueue_unique(batch_queue, function, key=key, vendor_id=vendor_id, **kwargs)
        for function, key, kwargs in due:
            await enqueue_unique(queue, function, key=key, vendor_id=vendor_id, **kwargs)
        found += len(batches) + len(due)
    return found


async def catch_up(plugins: PluginHost) -> int:
    """Do everything due for every vendor, in this process (a worker starting up).

    Jobs a killed worker was running stay "active" in the queue under their keys until
    the queue notices; this does their work now. Guarded like everything else, so
    several workers starting together do each thing once."""
    done = 0
    for vendor in await Vendor.select(Vendor.id):
        vendor_id = str(vendor["id"])
        try:
            summary = await run_due_work(plugins, vendor_id, await vendor_clock(vendor_id))
        except Exception:
            log.exception("catching up on %s failed; the sweep retries", vendor_id)
            continue
        for error in summary.errors:
            log.warning("catching up on %s: %s", vendor_id, error)
        done += summary.cycles_closed + summary.invoices_finalized + summary.payments_attempted
    return done


async def advance_on_workers(queue: Queue, vendor_id: str, to: datetime) -> datetime:
    """Move a vendor's test clock to ``to`` at once, and have the workers sweep now rather
    than at their next interval (``octane clock advance --on-workers``); returns the new
    time without waiting for the work.

    Unlike :func:`octane.core.lifecycle.advance_and_run`, which stops at every deadline
    on the way, the workers then do everything that fell due at the new time, as they do
    after an outage on the real clock: a month skipped is billed all the same, but its
    steps all happen at ``to`` rather than each at its own time."""
    now = await advance_test_clock(vendor_id, to)  # refuses the real clock, or going back
    await enqueue_unique(
        queue, "sweep", key=f"sweep-now:{vendor_id}:{now.isoformat()}", job_timeout=300, retries=1
    )
    return now
