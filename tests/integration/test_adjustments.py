"""Tax and prepaid credits: their APIs and how they shape a draft invoice."""

from __future__ import annotations

from typing import Any

from octane.core.clock import utc
from octane.core.credit_grants import grant_credit
from octane.core.customers import update_customer
from octane.core.store.tables import LedgerEntry, Subscription
from octane.core.vendors import set_tax_rate
from tests.helpers import NOW, draft_now, new_vendor, setup_billed_customer


async def test_tax_uses_the_customer_rate_over_the_vendor_rate(db: Any) -> None:
    vendor, clock = await setup_billed_customer()
    assert (await draft_now(vendor, clock)).adjustments == ()  # no rate: no tax line
    await set_tax_rate(vendor, "19")
    draft = await draft_now(vendor, clock)
    assert [(a.kind, a.amount, a.source) for a in draft.adjustments] == [("tax", 1330, "tax")]
    await update_customer(vendor, "acme", {"tax_rate": "7.5"})
    draft = await draft_now(vendor, clock)
    assert [(a.kind, a.amount) for a in draft.adjustments] == [("tax", 525)]  # 7.5% of 70.00
    assert draft.total == 7525


async def test_credits_are_drawn_after_tax_soonest_expiring_first(db: Any) -> None:
    vendor, clock = await setup_billed_customer()
    await set_tax_rate(vendor, "10")  # 70.00 + 7.00 tax = 77.00
    await grant_credit(
        vendor, "acme", amount="50", currency="USD", clock=clock, description="Welcome credit"
    )
    await grant_credit(
        vendor,
        "acme",
        amount="20",
        currency="USD",
        clock=clock,
        expires_at=utc(2026, 6, 1),
        description="Promo",
    )
    await grant_credit(
        vendor,
        "acme",
        amount="999",
        currency="USD",
        clock=clock,
        expires_at=utc(2026, 3, 25),
        description="Expires before period end",
    )
    draft = await draft_now(vendor, clock)
    assert [(a.kind, a.description, a.amount) for a in draft.adjustments] == [
        ("tax", "Tax (10%)", 700),
        ("credit", "Promo", -2000),
        ("credit", "Welcome credit", -5000),
    ]
    assert draft.total == 700


async def test_credit_never_takes_the_total_below_zero_and_consumption_carries_over(
    db: Any,
) -> None:
    vendor, clock = await setup_billed_customer()
    grant = await grant_credit(vendor, "acme", amount="100", currency="USD", clock=clock)
    draft = await draft_now(vendor, clock)
    assert [(a.kind, a.amount) for a in draft.adjustments] == [("credit", -7000)]
    assert draft.total == 0
    # What finalization will record: the consumption, as a credit ledger entry.
    subscription = await Subscription.select().first()
    assert subscription is not None
    await LedgerEntry.insert(
        LedgerEntry(
            vendor=vendor,
            customer=subscription["customer"],
            kind="credit",
            amount=-7000,
            currency="USD",
            source_ref=grant["id"],
            effective_at=NOW,
            created_at=NOW,
        )
    )
    draft = await draft_now(vendor, clock)
    assert [(a.kind, a.amount) for a in draft.adjustments] == [("credit", -3000)]


async def test_credit_and_tax_apis(api: Any) -> None:
    headers = await new_vendor(test_clock=NOW)
    await api.post("/api/v1/customers", json={"name": "acme", "currency": "EUR"}, headers=headers)
    granted = await api.post(
        "/api/v1/customers/acme/credits",
        json={
            "amount": "25.00",
            "currency": "EUR",
            "expires_at": "2026-06-30T00:00:00Z",
            "description": "Goodwill",
        },
        headers=headers,
    )
    assert granted.status_code == 201, granted.text
    body = granted.json()
    assert (body["balance"], body["balance_decimal"], body["currency"]) == (2500, "25.00", "EUR")
    assert body["grants"][0]["remaining"] == 2500 and body["grants"][0]["usable"] is True
    shown = (await api.get("/api/v1/customers/acme/credits", headers=headers)).json()
    assert shown["balance"] == 2500

    for bad, field, code in (
        ({"amount": 25.5, "currency": "EUR"}, "amount", "float_not_allowed"),
        ({"amount": "25.001", "currency": "EUR"}, "amount", "too_many_decimals"),
        ({"amount": "0", "currency": "EUR"}, "amount", "validation_error"),
        ({"amount": "-5", "currency": "EUR"}, "amount", "negative_not_allowed"),
        ({"amount": "5", "currency": "USD"}, "currency", "currency_mismatch"),
        (
            {"amount": "5", "currency": "EUR", "expires_at": "2026-01-01T00:00:00Z"},
            "expires_at",
            "validation_error",
        ),
    ):
        response = await api.post("/api/v1/customers/acme/credits", json=bad, headers=headers)
        assert response.status_code == 422, (bad, response.text)
        error = response.json()["error"]
        assert (error["field"], error["code"]) == (field, code), (bad, response.text)
    missing = await api.post(
        "/api/v1/customers/nobody/credits", json={"amount": "5", "currency": "EUR"}, headers=headers
    )
    assert missing.status_code == 404

    assert (await api.get("/api/v1/settings/tax", headers=headers)).json() == {"tax_rate": None}
    saved = await api.put("/api/v1/settings/tax", json={"tax_rate": "19.5"}, headers=headers)
    assert saved.status_code == 200 and saved.json() == {"tax_rate": "19.5"}
    for bad in ({"tax_rate": "150"}, {"tax_rate": 19.5}, {"tax_rate": "-1"}):
        response = await api.put("/api/v1/settings/tax", json=bad, headers=headers)
        assert response.status_code == 422 and response.json()["error"]["field"] == "tax_rate"
    assert (await api.get("/api/v1/settings/tax", headers=headers)).json() == {"tax_rate": "19.5"}
