"""Prepaid credit grants: granting, and what remains of each (grant minus consumption).

A grant is never edited. What an invoice draws from it is recorded as a ``credit``
ledger entry whose ``source_ref`` is the grant id (written when the invoice is
finalized), so the remaining amount is always the grant plus those (negative) entries.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from octane.core.clock import Clock, ensure_utc
from octane.core.credits import Grant, usable
from octane.core.customers import get_customer_row
from octane.core.errors import ValidationError
from octane.core.ids import new_id
from octane.core.money import format_minor, get_currency, parse_amount
from octane.core.prefetch import current as current_prefetch
from octane.core.store.tables import CreditGrant, LedgerEntry

__all__ = ["GrantState", "credit_summary", "grant_credit", "grants_with_remaining"]


@dataclass(frozen=True)
class GrantState:
    grant: Grant
    amount: int
    currency: str
    description: str


async def grant_credit(
    vendor_id: str,
    customer_name: str,
    *,
    amount: object,
    currency: str,
    expires_at: datetime | None = None,
    description: str = "",
    clock: Clock,
) -> dict[str, Any]:
    customer = await get_customer_row(vendor_id, customer_name)
    code = get_currency(currency).code
    if code != customer["currency"]:
        raise ValidationError(
            f"The customer '{customer_name}' is billed in {customer['currency']}; a credit "
            f"in {code} could never be used.",
            field="currency",
            code="currency_mismatch",
        )
    minor = parse_amount(amount, get_currency(code), field="amount")
    if minor <= 0:
        raise ValidationError("A credit must be greater than zero.", field="amount")
    now = clock.now()
    if expires_at is not None:
        expires_at = ensure_utc(expires_at, field="expires_at")
        if expires_at <= now:
            raise ValidationError("expires_at is already in the past.", field="expires_at")
    if len(description) > 500:
        raise ValidationError("A description is at most 500 characters.", field="description")
    grant = CreditGrant(
        id=new_id("crd"),
        vendor=vendor_id,
        customer=customer["id"],
        amount=minor,
        currency=code,
        description=description,
        expires_at=expires_at,
        created_at=now,
    )
    await grant.save()
    return grant.to_dict()


async def grants_with_remaining(
    vendor_id: str, customer_id: str, *, currency: str | None = None
) -> list[GrantState]:
    prefetched = current_prefetch()
    if prefetched is not None and prefetched.has(customer_id):
        rows = prefetched.grants.get(customer_id, [])
        consumed = prefetched.consumed
    else:
        rows = await CreditGrant.select().where(
            (CreditGrant.vendor == vendor_id) & (CreditGrant.customer == customer_id)
        )
        consumed = {}
        if rows:
            consumed_rows = await LedgerEntry.raw(
                "SELECT source_ref, SUM(amount) AS used FROM ledger_entry WHERE vendor = {} "
                "AND customer = {} AND kind = 'credit' AND source_ref IS NOT NULL "
                "GROUP BY source_ref",
                vendor_id,
                customer_id,
            )
            consumed = {str(r["source_ref"]): int(r["used"]) for r in consumed_rows}
    if currency is not None:
        rows = [row for row in rows if row["currency"] == currency]
    return [
        GrantState(
            grant=Grant(
                id=row["id"],
                remaining=row["amount"] + consumed.get(row["id"], 0),
                created_at=row["created_at"],
                expires_at=row["expires_at"],
            ),
            amount=row["amount"],
            currency=row["currency"],
            description=row["description"],
        )
        for row in rows
    ]


async def credit_summary(vendor_id: str, customer_name: str, *, clock: Clock) -> dict[str, Any]:
    customer = await get_customer_row(vendor_id, customer_name)
    currency = get_currency(customer["currency"])
    now = clock.now()
    states = await grants_with_remaining(vendor_id, customer["id"], currency=currency.code)
    balance = sum(s.grant.remaining for s in states if usable(s.grant, now))
    return {
        "customer": customer_name,
        "currency": currency.code,
        "balance": balance,
        "balance_decimal": format_minor(balance, currency),
        "grants": [
            {
                "id": s.grant.id,
                "amount": s.amount,
                "remaining": s.grant.remaining,
                "description": s.description,
                "expires_at": s.grant.expires_at,
                "created_at": s.grant.created_at,
                "usable": usable(s.grant, now),
            }
            for s in sorted(states, key=lambda s: (s.grant.created_at, s.grant.id))
        ],
    }
