"""The revenue ledger: accruals as deltas, idempotent and race-safe, and its invariants."""

from __future__ import annotations

import asyncio
from typing import Any

from octane.core.accrual import accrue_open_cycles
from octane.core.clock import TestClock, utc
from octane.core.clocks import advance_test_clock
from octane.core.ledger import accrue, check_invariants
from octane.core.metering import correct_measurement, ingest
from octane.core.store.tables import BillingCycle, LedgerEntry
from tests.helpers import PLUGINS, setup_plan_customer

START = utc(2026, 3, 10, 12)


async def _setup() -> tuple[str, TestClock]:
    return await setup_plan_customer(START, fixed_fee="5", unit_price="0.01")


async def _usage(vendor: str, clock: TestClock, key: str, value: str, day: int) -> None:
    result = await ingest(
        vendor,
        [
            {
                "id": key,
                "meter": "calls",
                "customer": "acme",
                "value": value,
                "time": utc(2026, 3, day).isoformat(),
            }
        ],
        clock=clock,
    )
    assert not result.errors


async def test_accruals_are_deltas_that_follow_usage(db: Any) -> None:
    vendor, clock = await _setup()
    await _usage(vendor, clock, "a", "100", 2)
    assert await accrue_open_cycles(PLUGINS) == 1  # 1.00 usage + 5.00 fee
    assert await accrue_open_cycles(PLUGINS) == 0  # nothing changed: nothing written
    await _usage(vendor, clock, "b", "250", 5)
    await accrue_open_cycles(PLUGINS)
    await correct_measurement(vendor, "b", value="50", actor="test", clock=clock)
    await accrue_open_cycles(PLUGINS)
    rows = await LedgerEntry.select(LedgerEntry.kind, LedgerEntry.amount).order_by(LedgerEntry.id)
    assert [(r["kind"], r["amount"]) for r in rows] == [
        ("accrual", 600),
        ("accrual", 250),
        ("accrual", -200),
    ]
    cycle = await BillingCycle.select().first()
    assert cycle is not None and cycle["accrued_amount"] == 650
    assert await check_invariants(vendor) == []


async def test_racing_accruals_count_once(db: Any) -> None:
    vendor, clock = await _setup()
    await _usage(vendor, clock, "a", "100", 2)
    await accrue_open_cycles(PLUGINS)  # creates the cycle row
    cycle = await BillingCycle.select().first()
    assert cycle is not None
    results = await asyncio.gather(
        *[accrue(vendor, cycle, amount_now=1234, currency="USD", clock=clock) for _ in range(6)],
        return_exceptions=True,
    )
    written = [r for r in results if isinstance(r, int) and r != 0]
    assert written == [1234 - 600], results
    assert await LedgerEntry.count() == 2
    assert await check_invariants(vendor) == []


async def test_a_new_cycle_accrues_separately(db: Any) -> None:
    vendor, clock = await _setup()
    await _usage(vendor, clock, "a", "100", 2)
    await accrue_open_cycles(PLUGINS)
    await advance_test_clock(vendor, utc(2026, 4, 2))
    await accrue_open_cycles(PLUGINS)  # April: only the fixed fee so far
    rows = await LedgerEntry.select(LedgerEntry.cycle, LedgerEntry.amount).order_by(LedgerEntry.id)
    assert [r["amount"] for r in rows] == [600, 500]
    assert rows[0]["cycle"] != rows[1]["cycle"]


async def test_invariant_check_reports_a_mismatch(db: Any) -> None:
    vendor, clock = await _setup()
    await _usage(vendor, clock, "a", "100", 2)
    await accrue_open_cycles(PLUGINS)
    await BillingCycle.update({BillingCycle.accrued_amount: 999}).where(
        BillingCycle.vendor == vendor
    )
    problems = await check_invariants(vendor)
    assert len(problems) == 1
    assert problems[0].kind == "cycle accrual"
    assert (problems[0].expected, problems[0].found) == (999, 600)


async def test_ledger_api(api: Any) -> None:
    from tests.helpers import new_vendor

    headers = await new_vendor(test_clock=START)
    for path, body in (
        ("/api/v1/meters", {"name": "calls", "aggregation": "sum"}),
        (
            "/api/v1/price-plans",
            {
                "name": "p",
                "currency": "USD",
                "period": "month",
                "components": [{"meter": "calls", "model": "per_unit", "unit_price": "0.01"}],
            },
        ),
        ("/api/v1/customers", {"name": "acme", "currency": "USD"}),
        (
            "/api/v1/customers/acme/subscription",
            {"price_plan": "p", "starts_at": "2026-03-01T00:00:00Z"},
        ),
        (
            "/api/v1/measurements",
            {"meter": "calls", "customer": "acme", "value": "300", "time": "2026-03-02T00:00:00Z"},
        ),
    ):
        assert (await api.post(path, json=body, headers=headers)).status_code == 201
    await accrue_open_cycles(PLUGINS, vendor_id=headers["X-Vendor-Id"])
    ledger = (await api.get("/api/v1/customers/acme/ledger", headers=headers)).json()
    assert [(e["kind"], e["amount"]) for e in ledger["entries"]] == [("accrual", 300)]
    assert ledger["totals"] == {"accrual": 300} and ledger["problems"] == []
    other = await new_vendor("Other")
    assert (await api.get("/api/v1/customers/acme/ledger", headers=other)).status_code == 404


async def test_concurrent_accrual_runs_count_each_delta_once(db: Any) -> None:
    vendor, clock = await _setup()
    await _usage(vendor, clock, "a", "100", 2)
    changed = await asyncio.gather(*(accrue_open_cycles(PLUGINS) for _ in range(3)))
    assert sorted(changed) == [0, 0, 1]
    await _usage(vendor, clock, "b", "50", 3)
    await asyncio.gather(*(accrue_open_cycles(PLUGINS) for _ in range(3)))
    amounts = [r["amount"] for r in await LedgerEntry.select(LedgerEntry.amount)]
    assert sorted(amounts) == [50, 600]  # 1.00 + 5.00 fee, then 0.50 more
    assert await check_invariants(vendor) == []
