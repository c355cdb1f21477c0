"""Free trials: usage and fees inside the trial window are shown, then offset."""

from __future__ import annotations

from typing import Any

from octane.core.clock import TestClock, utc
from octane.core.clocks import advance_test_clock
from octane.core.metering import ingest
from octane.core.vendors import set_tax_rate
from tests.helpers import draft_now, setup_plan_customer


async def _trial_customer(trial_days: int, now: Any) -> tuple[str, TestClock]:
    return await setup_plan_customer(
        now, fixed_fee="31", unit_price="0.01", minimum_charge="100", trial_days=trial_days
    )


async def _use(vendor: str, clock: TestClock, day: int, value: str) -> None:
    result = await ingest(
        vendor,
        [
            {
                "meter": "calls",
                "customer": "acme",
                "value": value,
                "time": utc(2026, 3, day, 12).isoformat(),
            }
        ],
        clock=clock,
    )
    assert not result.errors


async def test_a_trial_ending_mid_cycle_offsets_only_the_trial_window(db: Any) -> None:
    vendor, clock = await _trial_customer(14, utc(2026, 3, 30))  # trial until Mar 15
    await set_tax_rate(vendor, "10")
    await _use(vendor, clock, 5, "1000")  # 10.00 inside the trial
    await _use(vendor, clock, 20, "3000")  # 30.00 after it
    draft = await draft_now(vendor, clock)
    # usage 40.00 + fee 31.00 + minimum true-up 29.00 = 100.00 charged ...
    assert [(c.kind, c.amount) for c in draft.charges] == [
        ("usage", 4000),
        ("fixed_fee", 3100),
        ("plan_minimum", 2900),
    ]
    # ... the trial offsets 10.00 of usage and 14/31 of the fee (14.00); tax on the rest.
    assert [(a.kind, a.amount) for a in draft.adjustments] == [("trial", -2400), ("tax", 760)]
    assert draft.adjustments[0].description.startswith("Free trial (until 2026-03-15")
    assert draft.total == 8360


async def test_a_cycle_inside_the_trial_is_free_and_the_next_is_not(db: Any) -> None:
    vendor, clock = await _trial_customer(60, utc(2026, 3, 30))  # trial until Apr 30
    await _use(vendor, clock, 10, "500")
    draft = await draft_now(vendor, clock)
    assert draft.subtotal == 10000 and draft.total == 0
    assert [a.kind for a in draft.adjustments] == ["trial"]
    await advance_test_clock(vendor, utc(2026, 5, 10))
    clock.advance_to(utc(2026, 5, 10))
    draft = await draft_now(vendor, clock)
    assert [a.kind for a in draft.adjustments] == []  # May: the trial is over
    assert draft.total == 10000


async def test_no_trial_no_line(db: Any) -> None:
    vendor, clock = await _trial_customer(0, utc(2026, 3, 30))
    await _use(vendor, clock, 10, "500")
    assert (await draft_now(vendor, clock)).adjustments == ()
