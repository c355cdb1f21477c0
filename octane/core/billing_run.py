"""The billing run in batches: closing ended cycles and finalizing due invoices set-wise.

Finalizing invoice by invoice costs dozens of statements and a commit each; a month end
with ten thousand customers needs better. A batch (at most one invoice per customer)
does, in one transaction:

1. On PostgreSQL, lock the batch's customers (``FOR NO KEY UPDATE SKIP LOCKED``: two
   workers take different customers instead of queueing behind each other).
2. Move the cycles from grace to invoiced with one guarded ``UPDATE ... RETURNING``;
   only the cycles it returns are finalized (a repeated or concurrent run gets none).
3. Load every row the drafts need with one query per table, aggregate all the usage
   with one grouped query, and prefetch what the built-in plugins read
   (:mod:`octane.core.prefetch`); compute each draft through the hooks.
4. Write the lines, accruals and ledger entries, then take the batch's invoice numbers
   with one ``UPDATE ... RETURNING`` of the sequence and finalize the invoices and their
   timeline events: one statement per table (:mod:`octane.core.store.batch`: ``COPY``
   or ``unnest`` on PostgreSQL, ``executemany`` on SQLite). The sequence row stays
   locked until the commit, so it is taken last: concurrent batches (several jobs, two
   workers) wait for each other only for the invoices' own update.

The number of statements per batch is fixed, so the cost per customer does not grow
with the number of measurements. A batch that fails (a plugin error) is retried one
invoice at a time, so one bad invoice holds up no other.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from octane.core.catalog import plan_view
from octane.core.clock import Clock, as_utc
from octane.core.contracts import DraftInvoice
from octane.core.cycles import Period, cycles_between, zone
from octane.core.ids import new_id
from octane.core.invoice_lines import line_records
from octane.core.invoice_numbers import DEFAULT_FORMAT, take_numbers
from octane.core.invoice_settings import InvoiceSettings, effective_settings
from octane.core.metering import aggregate_many
from octane.core.plugins import PluginHost
from octane.core.prefetch import load as prefetch
from octane.core.prefetch import using
from octane.core.store.batch import insert_rows, one_of, update_rows
from octane.core.store.engine import is_postgres, write_transaction
from octane.core.store.tables import (
    BillingCycle,
    Customer,
    Invoice,
    Meter,
    PricePlan,
    Subscription,
    Vendor,
)
from octane.core.usage import build_draft, vendor_view_of

__all__ = [
    "BATCH_SIZE",
    "close_ended_cycles",
    "compute_drafts",
    "finalize_many",
    "insert_cycle_rows",
]

BATCH_SIZE = 1000


_V, _T, _B, _TS = "varchar", "text", "bigint", "timestamptz"
_CYCLE_COLUMNS = (
    ("id", _V), ("vendor", _V), ("customer", _V), ("subscription", _V), ("period_start", _TS),
    ("period_end", _TS), ("state", _V), ("accrued_amount", _B), ("created_at", _TS),
)  # fmt: skip
_DRAFT_COLUMNS = (
    ("id", _V), ("vendor", _V), ("customer", _V), ("subscription", _V), ("cycle", _V),
    ("status", _V), ("currency", _V), ("period_start", _TS), ("period_end", _TS),
    ("created_at", _TS),
)  # fmt: skip
_FINAL_COLUMNS = (
    ("number", _V), ("status", _V), ("subtotal", _B), ("tax", _B), ("total", _B),
    ("amount_due", _B), ("finalized_at", _TS), ("due_at", _TS), ("collect_at", _TS),
    ("paid_at", _TS), ("delivery_status", _V), ("next_payment_at", _TS),
    ("settings_snapshot", "json"),
)  # fmt: skip
_LINE_COLUMNS = (
    ("vendor", _V), ("invoice", _V), ("position", "integer"), ("section", _V), ("kind", _V),
    ("description", _T), ("meter", _V), ("quantity", _V), ("unit_price", _V), ("amount", _B),
    ("details", "json"), ("source", _V), ("reference", _V),
)  # fmt: skip
_LEDGER_COLUMNS = (
    ("vendor", _V), ("customer", _V), ("cycle", _V), ("invoice", _V), ("kind", _V),
    ("amount", _B), ("currency", _V), ("description", _T), ("source_ref", _V),
    ("effective_at", _TS), ("created_at", _TS),
)  # fmt: skip
_EVENT_COLUMNS = (
    ("vendor", _V), ("actor", _V), ("action", _V), ("target", _V), ("details", "json"),
    ("at", _TS),
)  # fmt: skip


def _json(value: Any) -> str:
    return "{}" if not value else json.dumps(value, separators=(",", ":"))


def _marks(values: Sequence[Any]) -> str:
    return ", ".join("{}" for _ in values)


async def _vendor_settings(vendor_id: str) -> dict[str, Any]:
    row = await Vendor.select().where(Vendor.id == vendor_id).output(load_json=True).first()
    assert row is not None
    return dict(row)


async def _customers(vendor_id: str, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    rows = (
        await Customer.select()
        .where((Customer.vendor == vendor_id) & one_of(Customer.id, ids))
        .output(load_json=True)
    )
    return {r["id"]: r for r in rows}


# ------------------------------------------------------------------ closing cycles


async def insert_cycle_rows(
    vendor_id: str, periods: Sequence[tuple[dict[str, Any], Period]], *, now: datetime
) -> None:
    """Create the ``open`` rows of these (subscription, period) cycles in one statement;
    rows that exist already (the unique index on the period) are left as they are."""
    async with write_transaction():
        await insert_rows(
            "billing_cycle",
            _CYCLE_COLUMNS,
            [
                (new_id("cyc"), vendor_id, s["customer"], s["id"], p.start, p.end, "open", 0, now)
                for s, p in periods
            ],
            on_conflict="(subscription, period_start, period_end) DO NOTHING",
        )


async def close_ended_cycles(vendor_id: str, clock: Clock) -> int:
    """Every cycle of the vendor whose period has ended moves from open to grace, with its
    draft invoice; rows of ended periods nobody looked at are created first."""
    now = clock.now()
    subscriptions = await Subscription.select().where(
        (Subscription.vendor == vendor_id) & (Subscription.starts_at < now)
    )
    if not subscriptions:
        return 0
    plans = {
        p["id"]: p
        for p in await PricePlan.select(PricePlan.id, PricePlan.period, PricePlan.currency).where(
            PricePlan.vendor == vendor_id
        )
    }
    zones = {
        c["id"]: c["timezone"]
        for c in await Customer.select(Customer.id, Customer.timezone).where(
            Customer.vendor == vendor_id
        )
    }
    # Closing handles every ended period of a subscription at once, so all periods before
    # its latest closed cycle exist already: only the periods after it are looked at, and
    # the work per sweep does not grow with the history.
    closed_until = {
        str(r["subscription"]): as_utc(r["until"])
        for r in await BillingCycle.raw(
            "SELECT subscription, MAX(period_end) AS until FROM billing_cycle "
            "WHERE vendor = {} AND state <> 'open' GROUP BY subscription",
            vendor_id,
        )
    }
    known = {
        (c["subscription"], c["period_start"], c["period_end"])
        for c in await BillingCycle.select(
            BillingCycle.subscription, BillingCycle.period_start, BillingCycle.period_end
        ).where((BillingCycle.vendor == vendor_id) & (BillingCycle.state == "open"))
    }
    missing = []
    for subscription in subscriptions:
        for period in cycles_between(
            start=subscription["starts_at"],
            anchor=subscription["billing_anchor"],
            period=plans[subscription["plan"]]["period"],
            tz=zone(zones[subscription["customer"]]),
            until=now,
            end=subscription["ends_at"],
            since=closed_until.get(subscription["id"]),
        ):
            if period.end <= now and (subscription["id"], period.start, period.end) not in known:
                missing.append((subscription, period))
    await insert_cycle_rows(vendor_id, missing, now=now)
    ended = await BillingCycle.select().where(
        (BillingCycle.vendor == vendor_id)
        & (BillingCycle.state == "open")
        & (BillingCycle.period_end <= now)
    )
    if not ended:
        return 0
    vendor = await _vendor_settings(vendor_id)
    customers = await _customers(vendor_id, sorted({c["customer"] for c in ended}))
    currency = {s["id"]: plans[s["plan"]]["currency"] for s in subscriptions}
    grace = {
        cid: effective_settings(vendor["invoice_settings"], row["invoice_settings"])
        for cid, row in customers.items()
    }
    async with write_transaction():
        await update_rows(
            "billing_cycle",
            [("state", _V), ("grace_ends_at", _TS)],
            [("id", _V)],
            [
                ("grace", c["period_end"] + grace[c["customer"]].invoice_grace_period, c["id"])
                for c in ended
            ],
            where="state = 'open'",
        )
        await insert_rows(
            "invoice",
            _DRAFT_COLUMNS,
            [
                (
                    new_id("inv"),
                    vendor_id,
                    c["customer"],
                    c["subscription"],
                    c["id"],
                    "draft",
                    currency[c["subscription"]],
                    c["period_start"],
                    c["period_end"],
                    now,
                )
                for c in ended
            ],
            on_conflict="(cycle) DO NOTHING",
        )
    return len(ended)


# ------------------------------------------------------------------- finalizing


async def finalize_many(
    plugins: PluginHost,
    vendor_id: str,
    invoice_ids: Sequence[str],
    *,
    clock: Clock,
    skip_locked: bool = True,
) -> list[str]:
    """Finalize these draft invoices (at most one per customer is taken per call);
    return the ids finalized by this call. Callers check that they are due."""
    rows = await (
        Invoice.select(Invoice.id, Invoice.customer, Invoice.cycle)
        .where(
            (Invoice.vendor == vendor_id)
            & one_of(Invoice.id, invoice_ids)
            & (Invoice.status == "draft")
        )
        .order_by(Invoice.period_end)
    )
    # A customer's oldest due invoice first: it is numbered first and draws credit first.
    chosen: dict[str, dict[str, Any]] = {}
    for row in rows:
        chosen.setdefault(row["customer"], row)
    if not chosen:
        return []
    now = clock.now()
    async with write_transaction():
        customer_ids = sorted(chosen)
        if is_postgres():
            locked = await Customer.raw(
                "SELECT id FROM customer WHERE id = ANY({}::varchar[]) ORDER BY id "
                f"FOR NO KEY UPDATE{' SKIP LOCKED' if skip_locked else ''}",
                customer_ids,
            )
            customer_ids = [str(r["id"]) for r in locked]
        cycle_ids = [chosen[c]["cycle"] for c in customer_ids]
        if not cycle_ids:
            return []
        if is_postgres():
            moved = await BillingCycle.raw(
                "UPDATE billing_cycle SET state = 'invoiced' "
                "WHERE id = ANY({}::varchar[]) AND state = 'grace' RETURNING id",
                cycle_ids,
            )
        else:
            moved = await BillingCycle.raw(
                "UPDATE billing_cycle SET state = 'invoiced' "
                f"WHERE id IN ({_marks(cycle_ids)}) AND state = 'grace' RETURNING id",
                *cycle_ids,
            )
        moved_ids = {str(r["id"]) for r in moved}
        batch = [chosen[c] for c in customer_ids if chosen[c]["cycle"] in moved_ids]
        if not batch:
            return []
        await _finalize_batch(plugins, vendor_id, batch, now=now)
    return [row["id"] for row in batch]


async def compute_drafts(
    plugins: PluginHost,
    vendor: dict[str, Any],
    cycles: Sequence[dict[str, Any]],
) -> list[tuple[dict[str, Any], DraftInvoice]]:
    """The drafts of many cycles (at most one per customer) with a fixed number of queries:
    customers, subscriptions, plans and meters loaded once, usage aggregated per period in
    one grouped query, and the built-in plugins' rows prefetched. Returns (customer row,
    draft) in the order of ``cycles``."""
    vendor_id = str(vendor["id"])
    vendor_view = vendor_view_of(vendor)
    customer_ids = [c["customer"] for c in cycles]
    customers = await _customers(vendor_id, customer_ids)
    subscriptions = {
        s["id"]: s
        for s in await Subscription.select().where(
            one_of(Subscription.id, sorted({c["subscription"] for c in cycles}))
        )
    }
    plans = {
        p["id"]: p
        for p in await PricePlan.select()
        .where(one_of(PricePlan.id, sorted({s["plan"] for s in subscriptions.values()})))
        .output(load_json=True)
    }
    meters = await Meter.select().where(Meter.vendor == vendor_id)
    by_period: dict[Period, list[str]] = {}
    for cycle in cycles:
        period = Period(cycle["period_start"], cycle["period_end"])
        by_period.setdefault(period, []).append(cycle["customer"])
    quantities: dict[str, dict[str, Any]] = {}
    for period, ids in by_period.items():
        quantities.update(await aggregate_many(vendor_id, ids, meters, period))
    views = {plan_id: plan_view(row) for plan_id, row in plans.items()}
    plan_meters = {
        plan_id: [m for m in meters if m["name"] in {c.meter for c in view.components}]
        for plan_id, view in views.items()
    }
    drafts: list[tuple[dict[str, Any], DraftInvoice]] = []
    with using(await prefetch(vendor_id, customer_ids)):
        for cycle in cycles:
            subscription = subscriptions[cycle["subscription"]]
            customer = customers[cycle["customer"]]
            draft = await build_draft(
                plugins,
                vendor=vendor_view,
                customer=customer,
                subscription=subscription,
                plan=views[subscription["plan"]],
                cycle=cycle,
                meters=plan_meters[subscription["plan"]],
                quantities=quantities[cycle["customer"]],
            )
            drafts.append((customer, draft))
    return drafts


async def _finalize_batch(
    plugins: PluginHost, vendor_id: str, batch: list[dict[str, Any]], *, now: datetime
) -> None:
    """Compute and write the invoices of ``batch`` (their cycles are already invoiced)."""
    vendor = await _vendor_settings(vendor_id)
    cycles = {
        c["id"]: c
        for c in await BillingCycle.select().where(
            one_of(BillingCycle.id, [row["cycle"] for row in batch])
        )
    }
    computed = await compute_drafts(plugins, vendor, [cycles[row["cycle"]] for row in batch])
    drafts = [
        (row, draft, effective_settings(vendor["invoice_settings"], customer["invoice_settings"]))
        for row, (customer, draft) in zip(batch, computed, strict=True)
    ]
    await _write(vendor_id, vendor, drafts, cycles, now=now)


async def _write(
    vendor_id: str,
    vendor: dict[str, Any],
    drafts: list[tuple[dict[str, Any], DraftInvoice, InvoiceSettings]],
    cycles: dict[str, dict[str, Any]],
    *,
    now: datetime,
) -> None:
    """Write the lines, ledger entries and accruals, then take the numbers and finalize
    the invoices. The numbers come last: the sequence row stays locked until the commit,
    and a concurrent batch (another worker's job) waits for it only that long."""
    lines: list[tuple[Any, ...]] = []
    ledger: list[tuple[Any, ...]] = []
    accruals: list[tuple[Any, ...]] = []
    for row, draft, _ in drafts:
        invoice_id, cycle = row["id"], cycles[row["cycle"]]
        for line in line_records(draft):
            lines.append(
                (
                    vendor_id,
                    invoice_id,
                    line["position"],
                    line["section"],
                    line["kind"],
                    line["description"],
                    line["meter"],
                    line["quantity"],
                    line["unit_price"],
                    line["amount"],
                    json.dumps(line["details"]),
                    line["source"],
                    line["reference"],
                )
            )
            ledger.append(
                (
                    vendor_id,
                    draft.customer.id,
                    cycle["id"],
                    invoice_id,
                    "charge" if line["section"] == "charge" else line["kind"],
                    line["amount"],
                    draft.currency,
                    line["description"],
                    # a credit entry names its grant: that is how a grant's balance is known
                    f"{invoice_id}:charge:{line['position']}"
                    if line["section"] == "charge"
                    else line["reference"],
                    now,
                    now,
                )
            )
        delta = draft.subtotal - int(cycle["accrued_amount"])
        if delta:
            accruals.append((draft.subtotal, cycle["id"], cycle["accrued_amount"]))
            ledger.append(
                (
                    vendor_id,
                    draft.customer.id,
                    cycle["id"],
                    None,
                    "accrual",
                    delta,
                    draft.currency,
                    "Revenue accrued (final)",
                    f"accrual:{cycle['id']}:{draft.subtotal}",
                    now,
                    now,
                )
            )
    await insert_rows("invoice_line", _LINE_COLUMNS, lines)
    await update_rows(
        "billing_cycle", [("accrued_amount", _B)], [("id", _V), ("accrued_amount", _B)], accruals
    )
    await insert_rows("ledger_entry", _LEDGER_COLUMNS, ledger)
    numbers = await take_numbers(
        vendor_id,
        len(drafts),
        template=vendor["invoice_number_format"] or DEFAULT_FORMAT,
        prefix=vendor["invoice_prefix"],
        at=now,
    )
    invoices: list[tuple[Any, ...]] = []
    events: list[tuple[Any, ...]] = []
    for (row, draft, settings), number in zip(drafts, numbers, strict=True):
        invoice_id = row["id"]
        total = draft.total
        due_at = now + settings.payment_grace_period
        charge_automatically = total > 0 and settings.auto_charge and settings.payment_provider
        invoices.append(
            (
                number,
                "finalized" if total > 0 else "paid",
                draft.subtotal,
                sum(a.amount for a in draft.adjustments if a.stage == "tax"),
                total,
                total,
                now,
                due_at,
                due_at,
                None if total > 0 else now,
                "pending" if settings.invoice_delivery else "off",
                due_at if charge_automatically else None,
                _json(settings.raw),
                invoice_id,
            )
        )
        events.append(
            (
                vendor_id,
                "octane",
                "invoice.finalized",
                invoice_id,
                json.dumps({"number": number, "total": total}),
                now,
            )
        )
    await update_rows("invoice", _FINAL_COLUMNS, [("id", _V)], invoices, where="status = 'draft'")
    await insert_rows("audit_log", _EVENT_COLUMNS, events)
