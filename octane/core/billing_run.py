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

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import msgspec

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
from octane.core.store.batch import among, insert_rows, one_of, update_rows
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
    "subscriptions_to_close",
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


_encode = msgspec.json.Encoder().encode


def _json(value: Any) -> str:
    """Compact JSON text for a ``json`` column (msgspec: several times json.dumps's speed,
    which a billing run calls for every line)."""
    return "{}" if not value else _encode(value).decode()


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


async def _to_close(
    vendor_id: str, now: datetime, subscription_ids: Sequence[str] | None
) -> tuple[list[tuple[dict[str, Any], Period]], list[dict[str, Any]], dict[str, str]]:
    """What closing finds at ``now`` (for these subscriptions, or all of the vendor's):
    ended periods with no cycle row yet, as (subscription, period); ended cycles still
    ``open``; and each subscription's currency."""
    where: Any = (Subscription.vendor == vendor_id) & (Subscription.starts_at < now)
    if subscription_ids is not None:
        where &= one_of(Subscription.id, subscription_ids)
    subscriptions = await Subscription.select(
        Subscription.id,
        Subscription.customer,
        Subscription.plan,
        Subscription.starts_at,
        Subscription.billing_anchor,
        Subscription.ends_at,
    ).where(where)
    if not subscriptions:
        return [], [], {}
    ids = None if subscription_ids is None else [s["id"] for s in subscriptions]
    plans = {
        p["id"]: p
        for p in await PricePlan.select(PricePlan.id, PricePlan.period, PricePlan.currency).where(
            PricePlan.vendor == vendor_id
        )
    }
    customer_scope: Any = Customer.vendor == vendor_id
    if ids is not None:
        customer_scope &= one_of(Customer.id, sorted({s["customer"] for s in subscriptions}))
    zones = {
        c["id"]: c["timezone"]
        for c in await Customer.select(Customer.id, Customer.timezone).where(customer_scope)
    }
    # Closing handles every ended period of a subscription at once, so all periods before
    # its latest closed cycle exist already: only the periods after it are looked at, and
    # the work per sweep does not grow with the history.
    scope, args = among("subscription", ids)
    closed_until = {
        str(r["subscription"]): as_utc(r["until"])
        for r in await BillingCycle.raw(
            "SELECT subscription, MAX(period_end) AS until FROM billing_cycle "
            f"WHERE vendor = {{}} AND state <> 'open'{scope} GROUP BY subscription",
            vendor_id,
            *args,
        )
    }
    open_scope: Any = (BillingCycle.vendor == vendor_id) & (BillingCycle.state == "open")
    if ids is not None:
        open_scope &= one_of(BillingCycle.subscription, ids)
    open_cycles = await BillingCycle.select(
        BillingCycle.id,
        BillingCycle.customer,
        BillingCycle.subscription,
        BillingCycle.period_start,
        BillingCycle.period_end,
    ).where(open_scope)
    known = {(c["subscription"], c["period_start"], c["period_end"]) for c in open_cycles}
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
    ended = [c for c in open_cycles if as_utc(c["period_end"]) <= now]
    currency = {s["id"]: plans[s["plan"]]["currency"] for s in subscriptions}
    return missing, ended, currency


async def subscriptions_to_close(vendor_id: str, clock: Clock) -> list[tuple[str, str]]:
    """(customer, subscription) of every subscription with an ended period to close (a
    cycle still open, or none stored yet), ordered by customer: what the sweep hands out
    to closing jobs (``close_ended_cycles(..., subscriptions=...)``)."""
    missing, ended, _ = await _to_close(vendor_id, clock.now(), None)
    found = {(s["customer"], s["id"]) for s, _ in missing}
    found |= {(c["customer"], c["subscription"]) for c in ended}
    return sorted(found)


async def close_ended_cycles(
    vendor_id: str, clock: Clock, *, subscriptions: Sequence[str] | None = None
) -> int:
    """Every cycle of the vendor (or of these ``subscriptions``) whose period has ended
    moves from open to grace, with its draft invoice; ended periods with no row yet
    (nobody looked at them while they ran) are created straight in grace. Guarded:
    concurrent or repeated calls close each cycle once. Returns the cycles this call
    closed."""
    now = clock.now()
    missing, ended, currency = await _to_close(vendor_id, now, subscriptions)
    if not missing and not ended:
        return 0
    vendor = await _vendor_settings(vendor_id)
    customer_ids = {c["customer"] for c in ended} | {s["customer"] for s, _ in missing}
    overrides = (
        await Customer.select(Customer.id, Customer.invoice_settings)
        .where((Customer.vendor == vendor_id) & one_of(Customer.id, sorted(customer_ids)))
        .output(load_json=True)
    )
    grace = {
        row["id"]: effective_settings(
            vendor["invoice_settings"], row["invoice_settings"]
        ).invoice_grace_period
        for row in overrides
    }
    fresh = [
        (new_id("cyc"), s["customer"], s["id"], p.start, p.end, p.end + grace[s["customer"]])
        for s, p in missing
    ]
    async with write_transaction():
        closed: list[tuple[str, str, str, datetime, datetime]] = []
        if fresh:
            await insert_rows(
                "billing_cycle",
                (*_CYCLE_COLUMNS, ("grace_ends_at", _TS)),
                [
                    (cid, vendor_id, cus, sub, start, end, "grace", 0, now, grace_ends)
                    for cid, cus, sub, start, end, grace_ends in fresh
                ],
                on_conflict="(subscription, period_start, period_end) DO NOTHING",
            )
            # A concurrent closer may have inserted some of these periods first: the
            # drafts (and the count) are for the rows this call inserted.
            stored: set[str] = set()
            for at in range(0, len(fresh), BATCH_SIZE):
                scope, args = among("id", [f[0] for f in fresh[at : at + BATCH_SIZE]])
                stored |= {
                    str(r["id"])
                    for r in await BillingCycle.raw(
                        f"SELECT id FROM billing_cycle WHERE vendor = {{}}{scope}",
                        vendor_id,
                        *args,
                    )
                }
            closed += [f[:5] for f in fresh if f[0] in stored]
        if ended:
            if is_postgres():
                moved = await BillingCycle.raw(
                    "UPDATE billing_cycle AS t SET state = 'grace', grace_ends_at = u.g "
                    "FROM unnest({}::varchar[], {}::timestamptz[]) AS u(i, g) "
                    "WHERE t.id = u.i AND t.state = 'open' RETURNING t.id",
                    [c["id"] for c in ended],
                    [c["period_end"] + grace[c["customer"]] for c in ended],
                )
                moved_ids = {str(r["id"]) for r in moved}
            else:
                # SQLite has one writer at a time: what is still open now (another closer
                # may have come between the read above and this transaction) is moved.
                moved_ids = set()
                for at in range(0, len(ended), BATCH_SIZE):
                    scope, args = among("id", [c["id"] for c in ended[at : at + BATCH_SIZE]])
                    moved_ids |= {
                        str(r["id"])
                        for r in await BillingCycle.raw(
                            f"SELECT id FROM billing_cycle WHERE state = 'open'{scope}", *args
                        )
                    }
                await update_rows(
                    "billing_cycle",
                    [("state", _V), ("grace_ends_at", _TS)],
                    [("id", _V)],
                    [
                        ("grace", c["period_end"] + grace[c["customer"]], c["id"])
                        for c in ended
                        if c["id"] in moved_ids
                    ],
                    where="state = 'open'",
                )
            closed += [
                (c["id"], c["customer"], c["subscription"], c["period_start"], c["period_end"])
                for c in ended
                if c["id"] in moved_ids
            ]
        await insert_rows(
            "invoice",
            _DRAFT_COLUMNS,
            [
                (
                    new_id("inv"),
                    vendor_id,
                    customer,
                    subscription,
                    cycle_id,
                    "draft",
                    currency[subscription],
                    start,
                    end,
                    now,
                )
                for cycle_id, customer, subscription, start, end in closed
            ],
            on_conflict="(cycle) DO NOTHING",
        )
    if closed and is_postgres():
        await _refresh_invoice_statistics(len(closed))
    return len(closed)


async def _refresh_invoice_statistics(added: int) -> None:
    """``ANALYZE invoice`` when the planner's statistics count fewer invoices than this
    closing just added: a young database, whose tables were analyzed nearly empty.

    PostgreSQL checks the invoice lines' foreign key, ``(vendor, invoice) -> invoice
    (vendor, id)``, row by row with a plan made once per connection. With statistics
    that know of no invoices, every index leading with ``vendor`` costs the same to the
    planner, and it took ``ix_invoice_status_totals``, reading all of the vendor's
    invoices for each line (measured: 0.3-0.5 s instead of 0.05 s for a batch of 6,000
    lines), until autovacuum analyzed the table. In the usual course a grace period
    separates closing from finalizing and autovacuum gets there first; a closing that
    is finalized at once (a test clock, a worker catching up) would not wait for it.
    Cheap on such a table, and a no-op on a grown one (its statistics count far more
    invoices than a closing adds)."""
    rows = await BillingCycle.raw(
        "SELECT reltuples AS n FROM pg_class WHERE oid = 'invoice'::regclass"
    )
    if rows and float(rows[0]["n"]) < added:
        await BillingCycle.raw("ANALYZE invoice")


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
                    _json(line["details"]),
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
                _json({"number": number, "total": total}),
                now,
            )
        )
    await update_rows("invoice", _FINAL_COLUMNS, [("id", _V)], invoices, where="status = 'draft'")
    await insert_rows("audit_log", _EVENT_COLUMNS, events)
