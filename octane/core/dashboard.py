"""The figures a vendor's dashboard shows, in a fixed number of queries however big the data.

* revenue accrued in the open cycles, per currency (the cycles' ``accrued_amount``);
* accrual over the last days, per day and currency (the ledger's ``accrual`` entries);
* invoices by status, with their totals per currency;
* drafts in their invoice grace period, soonest deadline first, with the time left;
* invoices whose payment failed (failed or uncollectible), needing attention.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from octane.core.clock import as_utc
from octane.core.store.engine import is_postgres
from octane.core.store.tables import BillingCycle, Invoice, LedgerEntry

__all__ = ["ATTENTION_STATUSES", "dashboard_summary", "drafts_in_grace"]

ATTENTION_STATUSES = ("failed", "uncollectible")
_LIST_LIMIT = 10


async def _accrued_open(vendor_id: str) -> dict[str, int]:
    rows = await BillingCycle.raw(
        "SELECT c.currency AS currency, SUM(b.accrued_amount) AS total "
        "FROM billing_cycle b JOIN customer c ON c.id = b.customer "
        "WHERE b.vendor = {} AND b.state = 'open' GROUP BY c.currency",
        vendor_id,
    )
    return {str(r["currency"]): int(r["total"] or 0) for r in rows}


async def _accrual_by_day(vendor_id: str, since: datetime) -> list[dict[str, Any]]:
    day = (
        "to_char(effective_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')"
        if is_postgres()
        else "substr(effective_at, 1, 10)"
    )
    rows = await LedgerEntry.raw(
        f"SELECT {day} AS day, currency, SUM(amount) AS total FROM ledger_entry "
        "WHERE vendor = {} AND kind = 'accrual' AND effective_at >= {} "
        f"GROUP BY {day}, currency ORDER BY 1",
        vendor_id,
        since,
    )
    return [
        {"day": str(r["day"]), "currency": str(r["currency"]), "total": int(r["total"] or 0)}
        for r in rows
    ]


async def _invoices_by_status(vendor_id: str) -> list[dict[str, Any]]:
    rows = await Invoice.raw(
        "SELECT status, currency, COUNT(*) AS count, SUM(total) AS total FROM invoice "
        "WHERE vendor = {} GROUP BY status, currency",
        vendor_id,
    )
    return [
        {
            "status": str(r["status"]),
            "currency": str(r["currency"]),
            "count": int(r["count"]),
            "total": int(r["total"] or 0),
        }
        for r in rows
    ]


async def drafts_in_grace(
    vendor_id: str, now: datetime, *, limit: int = _LIST_LIMIT
) -> list[dict[str, Any]]:
    """Draft invoices (their cycle is in the invoice grace period), soonest deadline first,
    each with its ``time_left``."""
    rows = await (
        Invoice.select(
            Invoice.id,
            Invoice.currency,
            Invoice.total,
            Invoice.period_start,
            Invoice.period_end,
            Invoice.customer.name.as_alias("customer"),
            Invoice.cycle.grace_ends_at.as_alias("grace_ends_at"),
        )
        .where((Invoice.vendor == vendor_id) & (Invoice.status == "draft"))
        .order_by(Invoice.cycle.grace_ends_at)
        .limit(limit)
    )
    for row in rows:
        ends = row["grace_ends_at"]
        row["time_left"] = max(as_utc(ends) - now, timedelta(0)) if ends is not None else None
    return list(rows)


async def _needing_attention(vendor_id: str) -> list[dict[str, Any]]:
    rows = await (
        Invoice.select(
            Invoice.id,
            Invoice.number,
            Invoice.status,
            Invoice.currency,
            Invoice.amount_due,
            Invoice.amount_paid,
            Invoice.next_payment_at,
            Invoice.customer.name.as_alias("customer"),
        )
        .where((Invoice.vendor == vendor_id) & Invoice.status.is_in(list(ATTENTION_STATUSES)))
        .order_by(Invoice.finalized_at, ascending=False)
        .limit(_LIST_LIMIT)
    )
    return list(rows)


async def dashboard_summary(vendor_id: str, *, now: datetime, days: int = 30) -> dict[str, Any]:
    """Everything the dashboard shows, as of ``now`` (the vendor's clock)."""
    return {
        "accrued_open": await _accrued_open(vendor_id),
        "accrual_by_day": await _accrual_by_day(vendor_id, now - timedelta(days=days)),
        "invoices_by_status": await _invoices_by_status(vendor_id),
        "in_grace": await drafts_in_grace(vendor_id, now),
        "needing_attention": await _needing_attention(vendor_id),
    }
