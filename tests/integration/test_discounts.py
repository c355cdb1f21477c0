"""Coupons: definition and redemption rules, and how discounts shape a draft."""

from __future__ import annotations

import asyncio
from typing import Any

from octane.core.clock import utc
from octane.core.coupons import create_coupon, redeem_coupon
from octane.core.customers import create_customer
from octane.core.errors import ConflictError
from octane.core.ids import new_id
from octane.core.store.tables import BillingCycle, Invoice, InvoiceLine, Subscription
from octane.core.vendors import set_tax_rate
from tests.helpers import draft_now, new_vendor, setup_billed_customer


async def _finalized_invoice_with(vendor: str, redemption_id: str, month: int) -> None:
    """An earlier finalized invoice that carried this redemption's discount."""
    subscription = await Subscription.select().where(Subscription.vendor == vendor).first()
    assert subscription is not None
    cycle_id, invoice_id = new_id("cyc"), new_id("inv")
    start, end = utc(2026, month, 1), utc(2026, month + 1, 1)
    await BillingCycle.insert(
        BillingCycle(
            id=cycle_id,
            vendor=vendor,
            customer=subscription["customer"],
            subscription=subscription["id"],
            period_start=start,
            period_end=end,
            state="invoiced",
            created_at=start,
        )
    )
    await Invoice.insert(
        Invoice(
            id=invoice_id,
            vendor=vendor,
            customer=subscription["customer"],
            subscription=subscription["id"],
            cycle=cycle_id,
            number=f"INV-{month}",
            status="finalized",
            currency="USD",
            period_start=start,
            period_end=end,
            created_at=end,
        )
    )
    await InvoiceLine.insert(
        InvoiceLine(
            vendor=vendor,
            invoice=invoice_id,
            position=1,
            kind="discount",
            description="x",
            amount=-100,
            reference=redemption_id,
        )
    )


async def test_percent_discount_comes_before_tax(db: Any) -> None:
    vendor, clock = await setup_billed_customer()  # charges 70.00 (usage 50.00 + fee 20.00)
    await set_tax_rate(vendor, "10")
    await create_coupon(vendor, code="TWENTY", percent_off="20", duration="forever", clock=clock)
    await redeem_coupon(vendor, "acme", "TWENTY", clock=clock)
    draft = await draft_now(vendor, clock)
    assert [(a.kind, a.amount) for a in draft.adjustments] == [("discount", -1400), ("tax", 560)]
    assert draft.total == 6160


async def test_scoped_amount_and_combined_coupons_never_go_below_zero(db: Any) -> None:
    vendor, clock = await setup_billed_customer()
    await create_coupon(
        vendor,
        code="CALLS",
        percent_off="20",
        applies_to=["calls"],
        duration="forever",
        clock=clock,
    )
    await create_coupon(
        vendor, code="BIG", amount_off="100", currency="USD", duration="forever", clock=clock
    )
    await redeem_coupon(vendor, "acme", "CALLS", clock=clock)
    await redeem_coupon(vendor, "acme", "BIG", clock=clock)
    draft = await draft_now(vendor, clock)
    # 20% of the 50.00 of calls, then 100.00 capped at the 60.00 left.
    assert [(a.description, a.amount) for a in draft.adjustments] == [
        ("Coupon CALLS (20% off)", -1000),
        ("Coupon BIG (amount off)", -6000),
    ]
    assert draft.total == 0


async def test_durations_are_counted_from_finalized_invoices(db: Any) -> None:
    vendor, clock = await setup_billed_customer()
    await create_coupon(vendor, code="ONCE", percent_off="10", clock=clock)
    await create_coupon(
        vendor, code="TWICE", percent_off="5", duration="repeating", duration_cycles=2, clock=clock
    )
    once = await redeem_coupon(vendor, "acme", "ONCE", clock=clock)
    twice = await redeem_coupon(vendor, "acme", "TWICE", clock=clock)
    draft = await draft_now(vendor, clock)
    assert [a.reference for a in draft.adjustments] == [once["id"], twice["id"]]
    await _finalized_invoice_with(vendor, once["id"], 1)
    await _finalized_invoice_with(vendor, twice["id"], 2)
    draft = await draft_now(vendor, clock)
    assert [a.reference for a in draft.adjustments] == [twice["id"]]  # once is used up
    assert draft.adjustments[0].details["invoice_number_for_coupon"] == 2
    await _finalized_invoice_with(vendor, twice["id"], 4)
    assert (await draft_now(vendor, clock)).adjustments == ()


async def test_max_redemptions_hold_under_concurrency(db: Any) -> None:
    vendor, clock = await setup_billed_customer()
    for index in range(5):
        await create_customer(vendor, {"name": f"c{index}", "currency": "USD"}, clock=clock)
    await create_coupon(vendor, code="FIRST2", percent_off="50", max_redemptions=2, clock=clock)
    outcomes = await asyncio.gather(
        *[redeem_coupon(vendor, f"c{i}", "FIRST2", clock=clock) for i in range(5)],
        return_exceptions=True,
    )
    assert sum(isinstance(o, dict) for o in outcomes) == 2, outcomes
    refused = [o for o in outcomes if isinstance(o, ConflictError)]
    assert len(refused) == 3 and all(o.code == "max_redemptions_reached" for o in refused)


async def test_coupon_api_and_its_errors(api: Any) -> None:
    headers = await new_vendor(test_clock=utc(2026, 3, 20))
    await api.post("/api/v1/customers", json={"name": "acme", "currency": "EUR"}, headers=headers)
    made = await api.post(
        "/api/v1/coupons",
        json={
            "code": "LAUNCH20",
            "percent_off": "20",
            "duration": "repeating",
            "duration_cycles": 3,
        },
        headers=headers,
    )
    assert made.status_code == 201, made.text
    assert made.json()["times_redeemed"] == 0
    cases = [
        ({"code": "X"}, "percent_off", "validation_error"),
        ({"code": "X", "percent_off": "10", "amount_off": "5"}, "percent_off", "validation_error"),
        ({"code": "X", "percent_off": "150"}, "percent_off", "validation_error"),
        ({"code": "X", "percent_off": 12.5}, "percent_off", "float_not_allowed"),
        ({"code": "X", "amount_off": "5"}, "currency", "validation_error"),
        (
            {"code": "X", "percent_off": "5", "duration": "repeating"},
            "duration_cycles",
            "validation_error",
        ),
        (
            {"code": "X", "percent_off": "5", "applies_to": ["ghost"]},
            "applies_to[0]",
            "unknown_meter",
        ),
        (
            {"code": "X", "percent_off": "5", "expires_at": "2026-01-01T00:00:00Z"},
            "expires_at",
            "validation_error",
        ),
        ({"code": "bad code", "percent_off": "5"}, "code", "invalid_name"),
    ]
    for body, field, code in cases:
        response = await api.post("/api/v1/coupons", json=body, headers=headers)
        assert response.status_code == 422, (body, response.text)
        assert (response.json()["error"]["field"], response.json()["error"]["code"]) == (
            field,
            code,
        ), (body, response.text)
    duplicate = await api.post(
        "/api/v1/coupons", json={"code": "LAUNCH20", "percent_off": "5"}, headers=headers
    )
    assert duplicate.status_code == 409 and duplicate.json()["error"]["field"] == "code"

    redeemed = await api.post(
        "/api/v1/customers/acme/coupons", json={"code": "LAUNCH20"}, headers=headers
    )
    assert redeemed.status_code == 201, redeemed.text
    again = await api.post(
        "/api/v1/customers/acme/coupons", json={"code": "LAUNCH20"}, headers=headers
    )
    assert again.status_code == 409 and again.json()["error"]["code"] == "already_redeemed"
    unknown = await api.post(
        "/api/v1/customers/acme/coupons", json={"code": "NOPE"}, headers=headers
    )
    assert unknown.status_code == 404
    await api.post(
        "/api/v1/coupons",
        json={"code": "USD5", "amount_off": "5", "currency": "USD"},
        headers=headers,
    )
    mismatch = await api.post(
        "/api/v1/customers/acme/coupons", json={"code": "USD5"}, headers=headers
    )
    assert mismatch.status_code == 422 and mismatch.json()["error"]["code"] == "currency_mismatch"
    listed = (await api.get("/api/v1/customers/acme/coupons", headers=headers)).json()
    assert [c["code"] for c in listed] == ["LAUNCH20"]
    coupons = (await api.get("/api/v1/coupons", headers=headers)).json()
    assert {c["code"]: c["times_redeemed"] for c in coupons} == {"LAUNCH20": 1, "USD5": 0}
