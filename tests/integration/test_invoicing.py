"""Draft computation through the hooks: combined charges, the staged adjustment chain.

The essential credit plugin reads grants from the database, hence the ``db`` fixture."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from octane import hookimpl
from octane.core.clock import utc
from octane.core.contracts import (
    AdjustmentLine,
    AdjustmentStage,
    ChargeLine,
    ComponentView,
    CustomerView,
    CycleView,
    DraftInvoice,
    PlanView,
    UsageTotal,
    VendorView,
)
from octane.core.errors import PluginError
from octane.core.invoicing import compute_draft
from octane.core.plugins import load_plugins

VENDOR = VendorView(id="ven_1", name="Vendor")
CUSTOMER = CustomerView(id="cus_1", name="acme", currency="USD")
PLAN = PlanView(
    id="pln_1",
    name="p",
    currency="USD",
    period="month",
    fixed_fee=Decimal("31.00"),
    components=(ComponentView(meter="calls", model="per_unit", unit_price=Decimal("0.01")),),
)
CYCLE = CycleView(
    id="cyc_1",
    subscription_id="sub_1",
    period_start=utc(2026, 1, 1),
    period_end=utc(2026, 2, 1),
    state="grace",
)
USAGE = [UsageTotal(meter="calls", quantity=Decimal(1000), unit="calls")]


class Seats:
    @hookimpl
    def compute_charges(self) -> list[ChargeLine]:
        return [ChargeLine(kind="seats", description="5 seats x 4.00", amount=2000)]


class Stages:
    """Records what each stage saw; a trial offsets usage, a discount takes 10%."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, int]] = []

    @hookimpl
    def apply_adjustments(self, stage: AdjustmentStage, draft: DraftInvoice) -> Any:
        self.seen.append((stage.value, draft.total))
        if stage is AdjustmentStage.TRIAL:
            usage = sum(c.amount for c in draft.charges if c.kind == "usage")
            return [AdjustmentLine(kind="trial", description="Free trial", amount=-usage)]
        if stage is AdjustmentStage.DISCOUNT:
            return [AdjustmentLine(kind="discount", description="10%", amount=-(draft.total // 10))]
        return None


async def draft_with(*plugins: tuple[str, object], cycle: CycleView = CYCLE) -> DraftInvoice:
    host = load_plugins(
        [n for n, _ in plugins], extra_plugins=dict(plugins), use_entry_points=False
    )
    return await compute_draft(
        host, vendor=VENDOR, customer=CUSTOMER, plan=PLAN, cycle=cycle, usage=USAGE
    )


async def test_default_pricing_and_a_third_party_charge_are_combined(db: Any) -> None:
    draft = await draft_with(("aaa_seats", Seats()))
    assert [(c.source, c.kind, c.amount) for c in draft.charges] == [
        ("pricing", "usage", 1000),
        ("pricing", "fixed_fee", 3100),
        ("aaa_seats", "seats", 2000),  # after the core's lines whatever its name
    ]
    assert draft.subtotal == draft.total == 6100


async def test_partial_cycle_prorates_the_fixed_fee(db: Any) -> None:
    partial = CycleView(
        id="c",
        subscription_id="s",
        period_start=utc(2026, 1, 16),
        period_end=utc(2026, 2, 1),
        state="grace",
        fixed_fee_share="16/31",
    )
    draft = await draft_with(cycle=partial)
    assert [(c.kind, c.amount) for c in draft.charges] == [("usage", 1000), ("fixed_fee", 1600)]


async def test_adjustments_run_in_the_documented_order_on_the_previous_stage(db: Any) -> None:
    stages = Stages()
    draft = await draft_with(("stages", stages))
    assert stages.seen == [("trial", 4100), ("discount", 3100), ("tax", 2790), ("credit", 2790)]
    assert [(a.kind, a.amount, a.source) for a in draft.adjustments] == [
        ("trial", -1000, "stages"),
        ("discount", -310, "stages"),
    ]
    assert draft.total == 2790


async def test_an_adjustment_below_zero_is_refused_naming_the_plugin(db: Any) -> None:
    class Greedy:
        @hookimpl
        def apply_adjustments(self, stage: AdjustmentStage, draft: DraftInvoice) -> Any:
            if stage is AdjustmentStage.CREDIT:
                return [AdjustmentLine(kind="credit", description="x", amount=-draft.total - 1)]
            return None

    with pytest.raises(PluginError, match="credit adjustments of greedy would take"):
        await draft_with(("greedy", Greedy()))


@pytest.mark.parametrize(
    ("returned", "message"),
    [
        ({"amount": 5}, "returned dict from compute_charges"),
        ([{"amount": 5}], "returned dict in compute_charges"),
        ([ChargeLine(kind="x", description="x", amount=-5)], "negative charge"),
        ([ChargeLine(kind="x", description="x", amount=1.5)], "amounts are integers"),  # type: ignore[arg-type]
    ],
)
async def test_malformed_charges_name_the_plugin(db: Any, returned: Any, message: str) -> None:
    class Bad:
        @hookimpl
        def compute_charges(self) -> Any:
            return returned

    with pytest.raises(PluginError, match=message) as caught:
        await draft_with(("bad", Bad()))
    assert "Plugin 'bad'" in str(caught.value)
