"""The revenue ledger: append-only entries, accruals over time, balances and invariants.

Entries are never updated or deleted (database triggers refuse it); a correction is a
new entry. Kinds: ``accrual`` (undiscounted revenue accrued during a cycle),
``charge``, ``credit``, ``discount``, ``trial``, ``tax``, ``payment``, ``refund``,
``reversal``.

Accrual: each run computes the cycle's undiscounted charges so far and writes the
**delta** since the last accrual, so the history shows revenue growing through the
cycle (and shrinking when a correction lowers usage). The cycle row mirrors the
accrued sum in ``accrued_amount``; the entry is written only if a guarded update
of that mirror succeeds (``WHERE accrued_amount = <what we read>``) in the same
transaction, so two concurrent or repeated runs can never count a delta twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from octane.core.clock import Clock
from octane.core.errors import ValidationError
from octane.core.store.engine import write_transaction
from octane.core.store.tables import BillingCycle, Invoice, LedgerEntry

__all__ = [
    "KINDS",
    "Problem",
    "accrue",
    "check_invariants",
    "entries_for_customer",
]

KINDS = (
    "accrual",
    "charge",
    "credit",
    "discount",
    "trial",
    "tax",
    "payment",
    "refund",
    "reversal",
)


@dataclass(frozen=True)
class Problem:
    """A broken ledger invariant, for the portal and for tests."""

    kind: str
    reference: str
    expected: int
    found: int

    def __str__(self) -> str:
        return f"{self.kind} {self.reference}: expected {self.expected}, ledger says {self.found}"


async def accrue(
    vendor_id: str,
    cycle: dict[str, Any],
    *,
    amount_now: int,
    currency: str,
    clock: Clock,
    description: str = "Revenue accrued",
) -> int:
    """Record the accrual delta for ``cycle``; return it (0 when nothing changed).

    ``amount_now`` is the cycle's undiscounted charges computed now. Safe to run
    any number of times, concurrently: a stale run's guarded update matches no row
    and it writes nothing.
    """
    async with write_transaction():
        row = await (
            BillingCycle.select(BillingCycle.accrued_amount, BillingCycle.customer)
            .where((BillingCycle.id == cycle["id"]) & (BillingCycle.vendor == vendor_id))
            .first()
        )
        if row is None:
            raise ValidationError(f"There is no cycle '{cycle['id']}'.", field="cycle")
        previous = int(row["accrued_amount"])
        delta = amount_now - previous
        if delta == 0:
            return 0
        updated = await (
            BillingCycle.update({BillingCycle.accrued_amount: amount_now})
            .where((BillingCycle.id == cycle["id"]) & (BillingCycle.accrued_amount == previous))
            .returning(BillingCycle.id)
        )
        if not updated:
            return 0  # another run accrued first; its entry stands
        now = clock.now()
        await LedgerEntry.insert(
            LedgerEntry(
                vendor=vendor_id,
                customer=row["customer"],
                cycle=cycle["id"],
                kind="accrual",
                amount=delta,
                currency=currency,
                description=description,
                source_ref=f"accrual:{cycle['id']}:{amount_now}",
                effective_at=now,
                created_at=now,
            )
        )
    return delta


async def entries_for_customer(
    vendor_id: str,
    customer_id: str,
    *,
    limit: int = 100,
    before: datetime | None = None,
) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """A page of entries (newest first) and the totals per kind over all entries."""
    if not 1 <= limit <= 500:
        raise ValidationError("limit must be between 1 and 500.", field="limit")
    query = LedgerEntry.select().where(
        (LedgerEntry.vendor == vendor_id) & (LedgerEntry.customer == customer_id)
    )
    if before is not None:
        query = query.where(LedgerEntry.effective_at < before)
    rows = (
        await query.order_by(LedgerEntry.effective_at, ascending=False)
        .order_by(LedgerEntry.id, ascending=False)
        .limit(limit)
    )
    totals_rows = await LedgerEntry.raw(
        "SELECT kind, SUM(amount) AS total FROM ledger_entry WHERE vendor = {} "
        "AND customer = {} GROUP BY kind",
        vendor_id,
        customer_id,
    )
    totals = {str(r["kind"]): int(r["total"]) for r in totals_rows}
    return rows, totals


async def check_invariants(
    vendor_id: str, customer_ids: Sequence[str] | None = None
) -> list[Problem]:
    """Every broken invariant of the vendor's ledger (an empty list when all hold).

    * A cycle's ``accrued_amount`` equals the sum of its accrual entries.
    * A finalized invoice's total equals the sum of its ledger entries (zero once void:
      its reversals cancel it).
    * A customer's balance (every entry but accruals, replayed) equals what their
      finalized, non-void invoices still have due.
    """
    problems: list[Problem] = []
    scope = "vendor = {}"
    args: list[Any] = [vendor_id]
    if customer_ids:
        scope += " AND customer IN (" + ", ".join("{}" for _ in customer_ids) + ")"
        args += list(customer_ids)
    accruals = {
        str(r["cycle"]): int(r["total"])
        for r in await LedgerEntry.raw(
            f"SELECT cycle, SUM(amount) AS total FROM ledger_entry WHERE {scope} "
            "AND kind = 'accrual' GROUP BY cycle",
            *args,
        )
    }
    for cycle in await BillingCycle.raw(
        f"SELECT id, accrued_amount FROM billing_cycle WHERE {scope}", *args
    ):
        found = accruals.get(str(cycle["id"]), 0)
        if int(cycle["accrued_amount"]) != found:
            problems.append(
                Problem("cycle accrual", str(cycle["id"]), int(cycle["accrued_amount"]), found)
            )
    invoiced = {
        str(r["invoice"]): int(r["total"])
        for r in await LedgerEntry.raw(
            f"SELECT invoice, SUM(amount) AS total FROM ledger_entry WHERE {scope} "
            "AND invoice IS NOT NULL AND kind NOT IN ('accrual', 'payment', 'refund') "
            "GROUP BY invoice",
            *args,
        )
    }
    for invoice in await Invoice.raw(
        f"SELECT id, total, status FROM invoice WHERE {scope} AND status <> 'draft'", *args
    ):
        found = invoiced.get(str(invoice["id"]), 0)
        expected = 0 if invoice["status"] == "void" else int(invoice["total"])
        if expected != found:
            problems.append(Problem("invoice total", str(invoice["id"]), expected, found))
    balances = {
        str(r["customer"]): int(r["total"])
        for r in await LedgerEntry.raw(
            f"SELECT customer, SUM(amount) AS total FROM ledger_entry WHERE {scope} "
            "AND kind <> 'accrual' GROUP BY customer",
            *args,
        )
    }
    owed = {
        str(r["customer"]): int(r["due"])
        for r in await Invoice.raw(
            f"SELECT customer, SUM(amount_due - amount_paid) AS due FROM invoice "
            f"WHERE {scope} AND status NOT IN ('draft', 'void') GROUP BY customer",
            *args,
        )
    }
    for customer in sorted(set(balances) | set(owed)):
        if balances.get(customer, 0) != owed.get(customer, 0):
            problems.append(
                Problem(
                    "customer balance", customer, owed.get(customer, 0), balances.get(customer, 0)
                )
            )
    return problems
