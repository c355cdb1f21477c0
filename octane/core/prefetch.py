"""Rows the built-in plugins need per invoice, loaded once for a batch of invoices.

A billing run finalizes invoices in batches; without this, the discount, credit and
trial plugins would each query once per invoice. The batch loads their rows for all
its customers in a few queries and installs them here (a context variable, so only
the batch's own task sees them); the plugins' data functions look here first and
query as usual when nothing was prefetched. A batch holds at most one invoice per
customer, so nothing it writes could make the prefetched rows stale.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from octane.core.store.batch import one_of
from octane.core.store.tables import CouponRedemption, CreditGrant, LedgerEntry, Subscription

__all__ = ["Prefetched", "current", "load", "using"]


@dataclass
class Prefetched:
    customers: frozenset[str]
    coupons: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    grants: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    consumed: dict[str, int] = field(default_factory=dict)
    """Grant id -> the (negative) sum of the credit entries drawn from it."""
    subscriptions: dict[str, dict[str, Any]] = field(default_factory=dict)

    def has(self, customer_id: str) -> bool:
        return customer_id in self.customers


_CURRENT: ContextVar[Prefetched | None] = ContextVar("octane_prefetched", default=None)


def current() -> Prefetched | None:
    return _CURRENT.get()


@contextlib.contextmanager
def using(prefetched: Prefetched) -> Iterator[None]:
    token = _CURRENT.set(prefetched)
    try:
        yield
    finally:
        _CURRENT.reset(token)


async def load(vendor_id: str, customer_ids: Sequence[str]) -> Prefetched:
    ids = sorted(set(customer_ids)) or [""]
    prefetched = Prefetched(customers=frozenset(ids))
    for row in await (
        CouponRedemption.select(
            CouponRedemption.id,
            CouponRedemption.customer,
            CouponRedemption.created_at,
            *CouponRedemption.coupon.all_columns(exclude=[CouponRedemption.coupon.vendor]),
        )
        .where((CouponRedemption.vendor == vendor_id) & one_of(CouponRedemption.customer, ids))
        .order_by(CouponRedemption.created_at)
        .output(load_json=True, nested=True)
    ):
        prefetched.coupons.setdefault(row.pop("customer"), []).append(row)
    grants = await CreditGrant.select().where(
        (CreditGrant.vendor == vendor_id) & one_of(CreditGrant.customer, ids)
    )
    for row in grants:
        prefetched.grants.setdefault(row["customer"], []).append(row)
    if grants:
        marks = ", ".join("{}" for _ in ids)
        for row in await LedgerEntry.raw(
            "SELECT source_ref, SUM(amount) AS used FROM ledger_entry WHERE vendor = {} "
            f"AND customer IN ({marks}) AND kind = 'credit' AND source_ref IS NOT NULL "
            "GROUP BY source_ref",
            vendor_id,
            *ids,
        ):
            prefetched.consumed[str(row["source_ref"])] = int(row["used"])
    for row in await Subscription.select().where(
        (Subscription.vendor == vendor_id) & one_of(Subscription.customer, ids)
    ):
        prefetched.subscriptions[row["id"]] = row
    return prefetched
