"""Coupons (discount definitions) and their redemptions by customers.

A coupon takes ``percent_off`` or ``amount_off`` (with a currency), for a
``duration``: ``once`` (one invoice), ``repeating`` (``duration_cycles`` invoices)
or ``forever``; optionally it expires (no new redemptions after ``expires_at``),
has a ``max_redemptions`` cap, and applies only to some metered components
(``applies_to``: meter names). How many invoices a redemption has discounted is
read from finalized invoices' discount lines, never stored separately.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from octane.core.catalog import check_name, save_named
from octane.core.clock import Clock, ensure_utc
from octane.core.customers import get_customer_row
from octane.core.errors import ConflictError, NotFoundError, ValidationError
from octane.core.ids import new_id
from octane.core.money import get_currency, parse_amount, parse_decimal
from octane.core.prefetch import current as current_prefetch
from octane.core.store.engine import write_transaction
from octane.core.store.tables import Coupon, CouponRedemption, Meter

__all__ = ["DURATIONS", "create_coupon", "customer_coupons", "list_coupons", "redeem_coupon"]

DURATIONS = ("once", "repeating", "forever")


def _out(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "code": row["code"],
        "percent_off": row["percent_off"],
        "amount_off": row["amount_off"],
        "currency": row["currency"],
        "duration": row["duration"],
        "duration_cycles": row["duration_cycles"],
        "expires_at": row["expires_at"],
        "max_redemptions": row["max_redemptions"],
        "times_redeemed": row["times_redeemed"],
        "applies_to": row["applies_to"],
        "created_at": row["created_at"],
    }


async def create_coupon(
    vendor_id: str,
    *,
    code: str,
    percent_off: object = None,
    amount_off: object = None,
    currency: str | None = None,
    duration: str = "once",
    duration_cycles: int | None = None,
    expires_at: datetime | None = None,
    max_redemptions: int | None = None,
    applies_to: list[str] | None = None,
    clock: Clock,
) -> dict[str, Any]:
    check_name(code, field="code")
    if (percent_off is None) == (amount_off is None):
        raise ValidationError(
            "Give either percent_off or amount_off (not both).", field="percent_off"
        )
    percent = None
    amount = None
    code_currency = None
    if percent_off is not None:
        value = parse_decimal(percent_off, field="percent_off", max_places=4, allow_negative=False)
        if not 0 < value <= 100:
            raise ValidationError(
                "percent_off is between 0 (excluded) and 100.", field="percent_off"
            )
        percent = str(value)
    else:
        if currency is None:
            raise ValidationError("An amount_off coupon needs a currency.", field="currency")
        money = get_currency(currency)
        code_currency = money.code
        amount = parse_amount(amount_off, money, field="amount_off")
        if amount <= 0:
            raise ValidationError("amount_off must be greater than zero.", field="amount_off")
    if duration not in DURATIONS:
        raise ValidationError(f"duration is one of {', '.join(DURATIONS)}.", field="duration")
    if duration == "repeating":
        if duration_cycles is None or not 1 <= duration_cycles <= 1000:
            raise ValidationError(
                "A repeating coupon needs duration_cycles (1 to 1000).", field="duration_cycles"
            )
    elif duration_cycles is not None:
        raise ValidationError(
            "duration_cycles only applies to repeating coupons.", field="duration_cycles"
        )
    if expires_at is not None:
        expires_at = ensure_utc(expires_at, field="expires_at")
        if expires_at <= clock.now():
            raise ValidationError("expires_at is already in the past.", field="expires_at")
    if max_redemptions is not None and max_redemptions < 1:
        raise ValidationError("max_redemptions must be at least 1.", field="max_redemptions")
    scope = list(dict.fromkeys(applies_to or []))
    if scope:
        known = {
            r["name"]
            for r in await Meter.select(Meter.name).where(
                (Meter.vendor == vendor_id) & Meter.name.is_in(scope)
            )
        }
        for index, meter in enumerate(scope):
            if meter not in known:
                raise ValidationError(
                    f"There is no meter '{meter}'.",
                    field=f"applies_to[{index}]",
                    code="unknown_meter",
                )
    coupon = Coupon(
        id=new_id("cpn"),
        vendor=vendor_id,
        code=code,
        percent_off=percent,
        amount_off=amount,
        currency=code_currency,
        duration=duration,
        duration_cycles=duration_cycles,
        expires_at=expires_at,
        max_redemptions=max_redemptions,
        applies_to=scope,
        created_at=clock.now(),
    )
    await save_named(coupon, "coupon", code, field="code")
    return _out(coupon.to_dict())


async def list_coupons(vendor_id: str) -> list[dict[str, Any]]:
    rows = (
        await Coupon.select()
        .where(Coupon.vendor == vendor_id)
        .order_by(Coupon.code)
        .output(load_json=True)
    )
    return [_out(row) for row in rows]


async def redeem_coupon(
    vendor_id: str, customer_name: str, code: str, *, clock: Clock
) -> dict[str, Any]:
    customer = await get_customer_row(vendor_id, customer_name)
    coupon = (
        await Coupon.select()
        .where((Coupon.vendor == vendor_id) & (Coupon.code == code))
        .output(load_json=True)
        .first()
    )
    if coupon is None:
        raise NotFoundError(f"There is no coupon '{code}'.", field="code")
    now = clock.now()
    if coupon["expires_at"] is not None and coupon["expires_at"] <= now:
        raise ValidationError(f"The coupon '{code}' expired.", field="code", code="coupon_expired")
    if coupon["currency"] is not None and coupon["currency"] != customer["currency"]:
        raise ValidationError(
            f"The coupon '{code}' takes an amount in {coupon['currency']} off; the customer "
            f"pays in {customer['currency']}.",
            field="code",
            code="currency_mismatch",
        )
    async with write_transaction():
        if await CouponRedemption.exists().where(
            (CouponRedemption.coupon == coupon["id"])
            & (CouponRedemption.customer == customer["id"])
        ):
            raise ConflictError(
                f"The customer already redeemed '{code}'.", field="code", code="already_redeemed"
            )
        limit = coupon["max_redemptions"]
        guard = Coupon.times_redeemed < limit if limit is not None else Coupon.id == coupon["id"]
        counted = await (
            Coupon.update({Coupon.times_redeemed: Coupon.times_redeemed + 1})
            .where((Coupon.id == coupon["id"]) & guard)
            .returning(Coupon.id)
        )
        if not counted:
            raise ConflictError(
                f"The coupon '{code}' has reached its maximum redemptions.",
                field="code",
                code="max_redemptions_reached",
            )
        redemption = CouponRedemption(
            id=new_id("red"),
            vendor=vendor_id,
            customer=customer["id"],
            coupon=coupon["id"],
            created_at=now,
        )
        await redemption.save()
    return {"id": redemption.id, "code": code, "customer": customer_name, "created_at": now}


async def customer_coupons(vendor_id: str, customer_id: str) -> list[dict[str, Any]]:
    """The customer's redemptions with their coupon, oldest first."""
    prefetched = current_prefetch()
    if prefetched is not None and prefetched.has(customer_id):
        return prefetched.coupons.get(customer_id, [])
    rows = await (
        CouponRedemption.select(
            CouponRedemption.id,
            CouponRedemption.created_at,
            *CouponRedemption.coupon.all_columns(exclude=[CouponRedemption.coupon.vendor]),
        )
        .where((CouponRedemption.vendor == vendor_id) & (CouponRedemption.customer == customer_id))
        .order_by(CouponRedemption.created_at)
        .output(load_json=True, nested=True)
    )
    return list(rows)
