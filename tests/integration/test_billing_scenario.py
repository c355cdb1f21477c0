"""Four cycles billed through the API on a test clock: graduated usage, a 14-day trial,
a 20% coupon for 3 cycles, a 25.00 credit that expires mid-way, and 10% tax."""

from __future__ import annotations

from typing import Any

from octane.core.clock import utc
from tests.helpers import new_vendor


async def _advance(api: Any, headers: dict[str, str], to: str) -> dict[str, Any]:
    response = await api.post("/api/v1/clock/advance", json={"to": to}, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


async def _use(api: Any, headers: dict[str, str], time: str, value: str) -> None:
    response = await api.post(
        "/api/v1/measurements",
        json={"meter": "api_calls", "customer": "acme", "value": value, "time": time},
        headers=headers,
    )
    assert response.status_code == 201, response.text


async def _setup(api: Any) -> dict[str, str]:
    headers = await new_vendor("Scenario", test_clock=utc(2026, 1, 1))
    calls = [
        ("PUT", "/api/v1/settings/tax", {"tax_rate": "10"}),
        ("POST", "/api/v1/meters", {"name": "api_calls", "aggregation": "sum", "unit": "call"}),
        (
            "POST",
            "/api/v1/price-plans",
            {
                "name": "pro",
                "currency": "USD",
                "period": "month",
                "fixed_fee": "10.00",
                "trial_days": 14,
                "components": [
                    {
                        "meter": "api_calls",
                        "model": "graduated",
                        "tiers": [
                            {"up_to": "1000", "unit_price": "0.02"},
                            {"up_to": "10000", "unit_price": "0.01"},
                            {"up_to": None, "unit_price": "0.005"},
                        ],
                    }
                ],
            },
        ),
        ("POST", "/api/v1/customers", {"name": "acme", "currency": "USD"}),
        (
            "POST",
            "/api/v1/customers/acme/subscription",
            {"price_plan": "pro", "starts_at": "2026-01-01T00:00:00Z"},
        ),
        (
            "POST",
            "/api/v1/coupons",
            {
                "code": "WELCOME20",
                "percent_off": "20",
                "duration": "repeating",
                "duration_cycles": 3,
            },
        ),
        ("POST", "/api/v1/customers/acme/coupons", {"code": "WELCOME20"}),
        (
            "POST",
            "/api/v1/customers/acme/credits",
            {"amount": "25.00", "currency": "USD", "expires_at": "2026-03-15T00:00:00Z"},
        ),
    ]
    for method, path, body in calls:
        response = await api.request(method, path, json=body, headers=headers)
        assert response.status_code in (200, 201), (path, response.text)
    return headers


def _lines(invoice: dict[str, Any]) -> list[tuple[str, int]]:
    return [(line["kind"], line["amount"]) for line in invoice["lines"]]


async def test_four_cycles_are_invoiced_to_the_minor_unit(api: Any) -> None:
    headers = await _setup(api)

    # Cycle 1 (January): 200 calls inside the trial (until Jan 15), 300 after it.
    await _advance(api, headers, "2026-01-21T00:00:00Z")
    await _use(api, headers, "2026-01-10T12:00:00Z", "200")
    await _use(api, headers, "2026-01-20T12:00:00Z", "300")
    closed = await _advance(api, headers, "2026-02-01T06:00:00Z")
    assert (closed["cycles_closed"], closed["invoices_finalized"]) == (1, 0)
    finalized = await _advance(api, headers, "2026-02-02T00:00:00Z")
    assert finalized["invoices_finalized"] == 1
    # Cycle 2 (February).
    await _advance(api, headers, "2026-02-11T00:00:00Z")
    await _use(api, headers, "2026-02-10T00:00:00Z", "300")
    # Cycle 3 (March): exactly the first tier's 1,000 calls; the credit expires on Mar 15.
    await _advance(api, headers, "2026-03-06T00:00:00Z")
    await _use(api, headers, "2026-03-05T00:00:00Z", "1000")
    # Cycle 4 (April): 12,000 calls reach the third tier; the coupon has run out.
    await _advance(api, headers, "2026-04-11T00:00:00Z")
    await _use(api, headers, "2026-04-10T00:00:00Z", "12000")
    await _advance(api, headers, "2026-05-02T00:00:00Z")

    listed = await api.get("/api/v1/invoices", params={"customer": "acme"}, headers=headers)
    assert listed.status_code == 200
    invoices = sorted(listed.json()["invoices"], key=lambda i: i["period_start"])
    assert [i["number"] for i in invoices] == [f"INV-2026-00000{n}" for n in (1, 2, 3, 4)]
    details = []
    for summary in invoices:
        response = await api.get(f"/api/v1/invoices/{summary['id']}", headers=headers)
        assert response.status_code == 200
        details.append(response.json())
    january, february, march, april = details

    # 500 calls: 10.00; fee 10.00. Trial: 200 calls (4.00) + 14/31 of the fee (4.52).
    # 20% of 11.48 = 2.30 (half-up); tax 10% of 9.18 = 0.92; credit pays the 10.10 left.
    assert _lines(january) == [
        ("usage", 1000),
        ("fixed_fee", 1000),
        ("trial", -852),
        ("discount", -230),
        ("tax", 92),
        ("credit", -1010),
    ]
    assert (january["total"], january["status"]) == (0, "paid")
    # 300 calls: 6.00 + 10.00; 20% off 3.20; tax 1.28; credit 14.08 of the 14.90 left.
    assert _lines(february) == [
        ("usage", 600),
        ("fixed_fee", 1000),
        ("discount", -320),
        ("tax", 128),
        ("credit", -1408),
    ]
    assert february["total"] == 0
    # 1,000 calls at 0.02: 20.00 + 10.00; the third and last 20% (6.00); tax 2.40.
    # The 0.82 of credit left expired on March 15, before the cycle ended: not used.
    assert _lines(march) == [("usage", 2000), ("fixed_fee", 1000), ("discount", -600), ("tax", 240)]
    assert (march["total"], march["status"]) == (2640, "finalized")
    # 12,000 calls: 1,000 x 0.02 + 9,000 x 0.01 + 2,000 x 0.005 = 120.00; no coupon left.
    assert _lines(april) == [("usage", 12000), ("fixed_fee", 1000), ("tax", 1300)]
    assert april["total"] == 14300
    assert april["lines"][0]["quantity"] == "12000"

    ledger = await api.get("/api/v1/customers/acme/ledger?limit=500", headers=headers)
    body = ledger.json()
    assert body["problems"] == []
    for invoice in details:
        entries = [e for e in body["entries"] if e["invoice"] == invoice["id"]]
        invoiced = [e for e in entries if e["kind"] != "accrual"]
        assert sum(e["amount"] for e in invoiced) == invoice["total"]
        # One entry per line: charges as ``charge``, adjustments under their stage.
        assert sorted(e["amount"] for e in invoiced) == sorted(a for _, a in _lines(invoice))
        assert {e["kind"] for e in invoiced} - {"charge"} == {
            line["kind"] for line in invoice["lines"] if line["section"] == "adjustment"
        }
    # Accruals record the undiscounted revenue: the four subtotals, and May's so far (its
    # fixed fee: moving the clock accrues the open cycle, as the hourly job would have).
    assert body["totals"]["accrual"] == 2000 + 1600 + 3000 + 13000 + 1000
    credits = (await api.get("/api/v1/customers/acme/credits", headers=headers)).json()
    assert credits["balance"] == 0 and credits["grants"][0]["remaining"] == 82
