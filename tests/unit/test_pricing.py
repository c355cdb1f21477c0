"""Pricing: worked examples for every model, rounding once per line, and properties."""

from __future__ import annotations

import math
from decimal import Decimal as D
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from octane.core.contracts import ComponentView, PlanView, Tier
from octane.core.errors import ValidationError
from octane.core.money import get_currency
from octane.core.pricing import component_amount, price_plan, validate_component

USD, JPY, KWD = get_currency("USD"), get_currency("JPY"), get_currency("KWD")

TIERS = (
    Tier(up_to=D(100), unit_price=D("0.10")),
    Tier(up_to=D(1000), unit_price=D("0.05"), flat_fee=D("2")),
    Tier(up_to=None, unit_price=D("0.01")),
)


def plan(*components: ComponentView, fixed: str = "0", minimum: str = "0") -> PlanView:
    return PlanView(
        id="p",
        name="p",
        currency="USD",
        period="month",
        fixed_fee=D(fixed),
        minimum_charge=D(minimum),
        components=components,
    )


def usage_line(component: ComponentView, quantity: str, currency: object = USD) -> int:
    priced = price_plan(plan(component), {component.meter: D(quantity)}, currency)  # type: ignore[arg-type]
    return priced.lines[0].amount


@pytest.mark.parametrize(("currency", "expected"), [(USD, 51852), (JPY, 519), (KWD, 518518)])
def test_sub_cent_per_unit_price_rounds_once(currency: object, expected: int) -> None:
    calls = ComponentView(meter="calls", model="per_unit", unit_price=D("0.00042"))
    # 1,234,567 x 0.00042 = 518.51814 exactly
    assert component_amount(calls, D(1234567))[0] == D("518.51814")
    assert usage_line(calls, "1234567", currency) == expected


def test_per_unit_with_included_units_and_fractions() -> None:
    storage = ComponentView(meter="gb", model="per_unit", unit_price=D("0.25"), included_units=D(5))
    assert usage_line(storage, "4.5") == 0
    assert usage_line(storage, "5") == 0
    assert usage_line(storage, "17.5") == 313  # 12.5 x 0.25 = 3.125 -> 3.13 (half-up)


@pytest.mark.parametrize(
    ("quantity", "expected_cents"),
    [
        ("0", 0),
        ("1", 10),
        ("100", 1000),  # exactly at the first boundary: still tier 1
        ("101", 1000 + 5 + 200),  # reaches tier 2: its flat fee once
        ("1000", 1000 + 4500 + 200),
        ("1001", 1000 + 4500 + 200 + 1),
        ("250.5", 1000 + 753 + 200),  # 150.5 x 0.05 = 7.525 -> line total 19.525 -> 19.53
    ],
)
def test_graduated(quantity: str, expected_cents: int) -> None:
    component = ComponentView(meter="calls", model="graduated", tiers=TIERS)
    assert usage_line(component, quantity) == expected_cents


def test_graduated_tier_breakdown() -> None:
    component = ComponentView(meter="calls", model="graduated", tiers=TIERS)
    line = price_plan(plan(component), {"calls": D(1500)}, USD).lines[0]
    assert [(t.up_to, t.quantity, t.amount) for t in line.tiers] == [
        (D(100), D(100), D("10.00")),
        (D(1000), D(900), D("47.00")),
        (None, D(500), D("5.00")),
    ]
    assert line.amount == 6200


@pytest.mark.parametrize(
    ("quantity", "expected_cents"),
    [("0", 0), ("100", 1000), ("101", 505 + 200), ("1000", 5000 + 200), ("5000", 5000)],
)
def test_volume(quantity: str, expected_cents: int) -> None:
    component = ComponentView(meter="calls", model="volume", tiers=TIERS)
    assert usage_line(component, quantity) == expected_cents


@pytest.mark.parametrize(
    ("quantity", "expected"), [("0", 0), ("1", 500), ("10", 500), ("10.01", 1000), ("95", 5000)]
)
def test_package(quantity: str, expected: int) -> None:
    seats = ComponentView(
        meter="users", model="package", package_size=D(10), package_price=D("5.00")
    )
    assert usage_line(seats, quantity) == expected


def test_flat_component_ignores_usage() -> None:
    support = ComponentView(meter="tickets", model="flat", flat_amount=D("49.99"))
    assert usage_line(support, "0") == 4999
    assert usage_line(support, "1000") == 4999


def test_minimums_fixed_fee_and_proration() -> None:
    calls = ComponentView(
        meter="calls", model="per_unit", unit_price=D("0.01"), minimum_charge=D("5")
    )
    priced = price_plan(
        plan(calls, fixed="30", minimum="50"),
        {"calls": D(100)},
        USD,
        fixed_fee_share=Fraction(16, 31),
    )
    kinds = [(line.kind, line.amount) for line in priced.lines]
    # usage 1.00, component minimum tops it up to 5.00, fixed fee 30 x 16/31 = 15.48,
    # plan minimum tops the 20.48 up to 50.00.
    assert kinds == [("usage", 100), ("minimum", 400), ("fixed_fee", 1548), ("plan_minimum", 2952)]
    assert priced.total == 5000


def test_jpy_and_kwd_amounts_have_their_own_exponent() -> None:
    calls = ComponentView(meter="calls", model="per_unit", unit_price=D("0.5"))
    assert usage_line(calls, "3", JPY) == 2  # 1.5 yen -> 2 (half-up)
    assert usage_line(calls, "3", KWD) == 1500


@pytest.mark.parametrize(
    ("component", "field"),
    [
        (ComponentView(meter="m", model="tiered"), "components[0].model"),
        (ComponentView(meter="m", model="graduated"), "components[0].tiers"),
        (
            ComponentView(
                meter="m",
                model="volume",
                tiers=(Tier(up_to=D(10)), Tier(up_to=D(5)), Tier(up_to=None)),
            ),
            "components[0].tiers[1].up_to",
        ),
        (
            ComponentView(meter="m", model="graduated", tiers=(Tier(up_to=None), Tier(up_to=D(5)))),
            "components[0].tiers[0].up_to",
        ),
        (
            ComponentView(meter="m", model="graduated", tiers=(Tier(up_to=D(5)),)),
            "components[0].tiers[0].up_to",
        ),
        (
            ComponentView(meter="m", model="package", package_size=D(0), package_price=D(1)),
            "components[0].package_size",
        ),
        (ComponentView(meter="m", model="per_unit", unit_price=D(-1)), "components[0].unit_price"),
        (ComponentView(meter="m", model="flat"), "components[0].flat_amount"),
    ],
)
def test_invalid_components_name_the_field(component: ComponentView, field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        validate_component(component, field_prefix="components[0]")
    assert caught.value.field == field


quantities = st.decimals(min_value=0, max_value=10**7, places=4, allow_nan=False)


@settings(max_examples=200, deadline=None)
@given(a=quantities, b=quantities)
def test_graduated_is_non_decreasing(a: D, b: D) -> None:
    component = ComponentView(meter="calls", model="graduated", tiers=TIERS)
    low, high = sorted((a, b))
    assert component_amount(component, low)[0] <= component_amount(component, high)[0]


@settings(max_examples=200, deadline=None)
@given(q=quantities, size=st.integers(min_value=1, max_value=1000))
def test_package_matches_the_formula(q: D, size: int) -> None:
    component = ComponentView(
        meter="m", model="package", package_size=D(size), package_price=D("2.50")
    )
    expected = math.ceil(Fraction(q) / size) * D("2.50")  # exact, independent of Decimal
    assert component_amount(component, q)[0] == expected


@settings(max_examples=200, deadline=None)
@given(q1=quantities, q2=quantities, q3=quantities, currency=st.sampled_from([USD, JPY, KWD]))
def test_total_is_the_sum_of_rounded_lines(q1: D, q2: D, q3: D, currency: object) -> None:
    components = (
        ComponentView(meter="a", model="per_unit", unit_price=D("0.00037")),
        ComponentView(meter="b", model="graduated", tiers=TIERS),
        ComponentView(meter="c", model="volume", tiers=TIERS),
    )
    priced = price_plan(
        plan(*components, fixed="9.99", minimum="1"), {"a": q1, "b": q2, "c": q3}, currency
    )  # type: ignore[arg-type]
    assert priced.total == sum(line.amount for line in priced.lines)
    assert all(line.amount >= 0 for line in priced.lines)
