"""The lifecycle on the queue: one job per due item, and the sweeper that finds them.

The sweeper (run by the per-minute ``sweep`` cron job) closes ended cycles itself
(cheap and guarded) and enqueues one job per due item with a deterministic key, so
several workers share the work and a repeated sweep does not pile up duplicates
while a job is pending. Each job re-checks that its item is still due and moves it
with a guarded transition: a job that runs twice, or after another worker did the
work, changes nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from octane.core.billing_run import BATCH_SIZE, finalize_many
from octane.core.clocks import vendor_clock
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
from octane.core.store.tables import Vendor

__all__ = ["LIFECYCLE_JOBS", "catch_up", "lifecycle_sweeper"]

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


LIFECYCLE_JOBS: list[tuple[str, Callable[..., Awaitable[Any]]]] = [
    ("finalize_invoice", finalize_job),
    ("finalize_invoices", finalize_batch_job),
    ("deliver_invoice", deliver_job),
    ("collect_payment", collect_job),
    ("reconcile_payment", reconcile_job),
]


async def lifecycle_sweeper(ctx: dict[str, Any]) -> int:
    """Close ended cycles, then enqueue a job for every due finalization, delivery, charge
    and reconciliation of every vendor (each at its own clock's now)."""
    queue = ctx["queue"]
    found = 0
    for vendor in await Vendor.select(Vendor.id):
        vendor_id = str(vendor["id"])
        clock = await vendor_clock(vendor_id)
        try:
            found += await close_ended_cycles(vendor_id, clock)
        except Exception:
            log.exception("closing the cycles of %s failed; the next sweep retries", vendor_id)
        due: list[tuple[str, str, dict[str, Any]]] = []
        # Concurrent jobs must not finalize a customer's later draft before its earlier one.
        drafts = await oldest_due_per_customer(vendor_id, clock)
        for start in range(0, len(drafts), BATCH_SIZE):
            ids = drafts[start : start + BATCH_SIZE]
            key = f"finalize:{ids[0]}:{len(ids)}"
            due.append(("finalize_invoices", key, {"invoice_ids": ids}))
        for invoice_id in await due_deliveries(vendor_id, clock):
            due.append(("deliver_invoice", f"deliver:{invoice_id}", {"invoice_id": invoice_id}))
        for invoice_id in await due_collections(vendor_id, clock):
            due.append(("collect_payment", f"collect:{invoice_id}", {"invoice_id": invoice_id}))
        for attempt_id in await due_reconciliations(vendor_id, clock):
            due.append(("reconcile_payment", f"reconcile:{attempt_id}", {"attempt_id": attempt_id}))
        for function, key, kwargs in due:
            await enqueue_unique(queue, function, key=key, vendor_id=vendor_id, **kwargs)
        found += len(due)
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
