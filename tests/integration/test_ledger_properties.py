"""Properties of the money records, over generated scenarios on a real database.

Each example runs on a fresh database in its own event loop (Hypothesis drives a
synchronous test), so the examples cannot see each other's rows.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from octane import hookimpl
from octane.core.catalog import create_meter, create_plan
from octane.core.clock import TestClock, utc
from octane.core.clocks import advance_test_clock, vendor_clock
from octane.core.contracts import (
    AdjustmentLine,
    AdjustmentStage,
    ChargeLine,
    CustomerView,
    CycleView,
    DraftInvoice,
    PlanView,
    VendorView,
)
from octane.core.coupons import create_coupon, redeem_coupon
from octane.core.credit_grants import credit_summary, grant_credit
from octane.core.customers import create_customer
from octane.core.cycles import Period
from octane.core.errors import PluginError
from octane.core.invoicing import compute_draft
from octane.core.ledger import accrue, check_invariants
from octane.core.lifecycle import run_due_work
from octane.core.metering import ingest
from octane.core.plugins import load_plugins
from octane.core.store.engine import close_engine, open_engine
from octane.core.store.tables import BillingCycle, Invoice, LedgerEntry
from octane.core.subscriptions import create_subscription, ensure_cycle, subscription_for
from octane.core.vendors import create_vendor, set_tax_rate
from tests.helpers import PLUGINS

pytestmark = pytest.mark.db
EXAMPLES = settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def _on_fresh_database(databases: Any, body: Callable[[], Awaitable[None]]) -> None:
    async def run() -> None:
        engine = await open_engine(await databases.fresh_url(), pool=False)
        try:
            await body()
        finally:
            await close_engine(engine)

    asyncio.run(run())


@EXAMPLES
@given(snapshots=st.lists(st.integers(0, 10**9), min_size=1, max_size=12))
def test_accrual_entries_replay_to_the_cycle_mirror(databases: Any, snapshots: list[int]) -> None:
    async def body() -> None:
        clock = TestClock(utc(2026, 1, 20))
        made = await create_vendor(name="V", email="v@v.example", clock=clock)
        vendor = str(made["id"])
        await create_meter(vendor, name="m", aggregation="sum", clock=clock)
        await create_plan(vendor, name="p", currency="USD", period="month", clock=clock)
        customer = await create_customer(vendor, {"name": "c", "currency": "USD"}, clock=clock)
        await create_subscription(
            vendor, "c", price_plan="p", starts_at=utc(2026, 1, 1), clock=clock
        )
        subscription = await subscription_for(vendor, customer["id"])
        assert subscription is not None
        cycle = await ensure_cycle(
            vendor, subscription, Period(utc(2026, 1, 1), utc(2026, 2, 1)), clock=clock
        )
        for amount in snapshots:
            await accrue(vendor, cycle, amount_now=amount, currency="USD", clock=clock)
            await accrue(vendor, cycle, amount_now=amount, currency="USD", clock=clock)
        entries = await LedgerEntry.select(LedgerEntry.amount).where(
            LedgerEntry.cycle == cycle["id"]
        )
        stored = await BillingCycle.select(BillingCycle.accrued_amount).where(
            BillingCycle.id == cycle["id"]
        )
        assert sum(e["amount"] for e in entries) == stored[0]["accrued_amount"] == snapshots[-1]
        changes = sum(1 for a, b in zip([0, *snapshots], snapshots, strict=False) if a != b)
        assert len(entries) == changes
        assert await check_invariants(vendor) == []

    _on_fresh_database(databases, body)


money = st.integers(1, 50_000)


@EXAMPLES
@given(
    usage=st.lists(st.integers(0, 5_000), min_size=3, max_size=3),
    fixed_fee=st.sampled_from(["0", "9.99", "25"]),
    unit_price=st.sampled_from(["0", "0.00042", "0.013", "1.5"]),
    tax=st.sampled_from([None, "7.5", "20"]),
    coupon=st.one_of(
        st.none(),
        st.builds(lambda p: {"percent_off": str(p)}, st.integers(1, 100)),
        st.builds(lambda a: {"amount_off": str(Decimal(a) / 100), "currency": "USD"}, money),
    ),
    duration=st.sampled_from(["once", "forever"]),
    credit=st.one_of(st.none(), st.integers(1, 20_000)),
    trial_days=st.sampled_from([0, 10, 45]),
)
def test_invoices_are_never_negative_and_the_ledger_replays_to_what_is_owed(
    databases: Any,
    usage: list[int],
    fixed_fee: str,
    unit_price: str,
    tax: str | None,
    coupon: dict[str, str] | None,
    duration: str,
    credit: int | None,
    trial_days: int,
) -> None:
    async def body() -> None:
        clock = TestClock(utc(2026, 1, 1))
        made = await create_vendor(
            name="V", email="v@v.example", clock=clock, test_clock_start=clock.now()
        )
        vendor = str(made["id"])
        await set_tax_rate(vendor, tax)
        await create_meter(vendor, name="m", aggregation="sum", clock=clock)
        await create_plan(
            vendor,
            name="p",
            currency="USD",
            period="month",
            fixed_fee=fixed_fee,
            trial_days=trial_days,
            components=[{"meter": "m", "model": "per_unit", "unit_price": unit_price}],
            clock=clock,
        )
        await create_customer(vendor, {"name": "c", "currency": "USD"}, clock=clock)
        await create_subscription(
            vendor, "c", price_plan="p", starts_at=utc(2026, 1, 1), clock=clock
        )
        if coupon is not None:
            await create_coupon(vendor, code="C", duration=duration, clock=clock, **coupon)
            await redeem_coupon(vendor, "c", "C", clock=clock)
        if credit is not None:
            await grant_credit(
                vendor, "c", amount=str(Decimal(credit) / 100), currency="USD", clock=clock
            )
        for month, value in enumerate(usage, start=1):
            await advance_test_clock(vendor, utc(2026, month, 20))
            clock = await vendor_clock(vendor)
            stored = await ingest(
                vendor,
                [{"meter": "m", "customer": "c", "value": value, "time": clock.now().isoformat()}],
                clock=clock,
            )
            assert not stored.errors
            await advance_test_clock(vendor, utc(2026, month + 1, 3))
            summary = await run_due_work(PLUGINS, vendor, await vendor_clock(vendor))
            assert summary.errors == []
        invoices = await Invoice.select().where(Invoice.vendor == vendor)
        assert len(invoices) == 3
        assert all(i["total"] >= 0 and i["status"] != "draft" for i in invoices)
        assert await check_invariants(vendor) == []
        left = await credit_summary(vendor, "c", clock=await vendor_clock(vendor))
        assert all(grant["remaining"] >= 0 for grant in left["grants"])
        used = sum(g["amount"] - g["remaining"] for g in left["grants"])
        credited = await LedgerEntry.select(LedgerEntry.amount).where(
            (LedgerEntry.vendor == vendor) & (LedgerEntry.kind == "credit")
        )
        assert -sum(e["amount"] for e in credited) == used

    _on_fresh_database(databases, body)


class Generated:
    """A plugin returning generated adjustments at every stage."""

    def __init__(self, charges: list[int], amounts: dict[str, list[int]]) -> None:
        self.charges = charges
        self.amounts = amounts

    @hookimpl
    def compute_charges(self) -> list[ChargeLine]:
        return [ChargeLine(kind="fee", description="fee", amount=a) for a in self.charges]

    @hookimpl
    def apply_adjustments(self, stage: AdjustmentStage) -> list[AdjustmentLine]:
        return [
            AdjustmentLine(kind=stage.value, description="generated", amount=amount)
            for amount in self.amounts.get(stage.value, [])
        ]


@settings(max_examples=200, deadline=None)
@given(
    charges=st.lists(st.integers(0, 30_000), max_size=3),
    amounts=st.dictionaries(
        st.sampled_from([s.value for s in AdjustmentStage]),
        st.lists(st.integers(-20_000, 5_000), max_size=4),
    ),
)
def test_no_adjustment_chain_can_end_below_zero(
    charges: list[int], amounts: dict[str, list[int]]
) -> None:
    """Whatever plugins return, a draft's total never goes below zero: the chain refuses
    the stage that would take it there."""
    host = load_plugins(
        ["generated"],
        extra_plugins={"generated": Generated(charges, amounts)},
        use_entry_points=False,
        include_essentials=False,
    )
    draft: DraftInvoice | None = None
    try:
        draft = asyncio.run(
            compute_draft(
                host,
                vendor=VendorView(id="v", name="V"),
                customer=CustomerView(id="c", name="c"),
                plan=PlanView(id="p", name="p", currency="USD", period="month"),
                cycle=CycleView(
                    id="y",
                    subscription_id="s",
                    period_start=utc(2026, 1, 1),
                    period_end=utc(2026, 2, 1),
                    state="grace",
                ),
                usage=[],
            )
        )
    except PluginError as error:
        assert "below zero" in str(error)
    if draft is not None:
        assert draft.total >= 0
        assert draft.total == sum(charges) + sum(a.amount for a in draft.adjustments)
