"""Currencies, rounding and parsing: the rules every amount in Octane follows."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from octane.core.errors import ValidationError
from octane.core.money import (
    all_currencies,
    format_minor,
    get_currency,
    minor_to_decimal,
    parse_amount,
    parse_decimal,
    round_to_minor,
)

USD, JPY, KWD = get_currency("USD"), get_currency("JPY"), get_currency("KWD")


def test_exponents_come_from_the_iso_table() -> None:
    assert (USD.exponent, JPY.exponent, KWD.exponent) == (2, 0, 3)
    assert get_currency("BHD").exponent == 3
    assert get_currency("KRW").exponent == 0
    assert get_currency("eur").code == "EUR"
    codes = {c.code for c in all_currencies()}
    assert len(codes) > 150  # every active currency, not a hand-typed handful
    assert "XAU" not in codes  # gold has no minor unit: cannot carry an invoice


@pytest.mark.parametrize("code", ["XYZ", "US", "", "XAU"])
def test_unknown_currency_is_refused_with_its_field(code: str) -> None:
    with pytest.raises(ValidationError) as caught:
        get_currency(code, field="plan.currency")
    assert caught.value.field == "plan.currency"
    assert caught.value.code == "invalid_currency"


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [
        (Decimal("0.125"), USD, 13),  # half-even would give 12
        (Decimal("0.135"), USD, 14),
        (Decimal("2.5"), JPY, 3),  # half-even would give 2
        (Decimal("0.0005"), KWD, 1),  # half-even would give 0
        (Decimal("-0.125"), USD, -13),  # ties away from zero, symmetric for credits
        (Decimal("518.51814"), USD, 51852),
        (Decimal("518.51814"), JPY, 519),
        (Decimal("518.51814"), KWD, 518518),
        (Decimal("0"), USD, 0),
    ],
)
def test_round_to_minor_is_half_up(amount: Decimal, currency: object, expected: int) -> None:
    assert round_to_minor(amount, currency) == expected  # type: ignore[arg-type]


def test_round_to_minor_refuses_floats() -> None:
    with pytest.raises(TypeError):
        round_to_minor(0.125, USD)  # type: ignore[arg-type]


def test_formatting_keeps_the_currency_decimals() -> None:
    assert format_minor(1234, USD) == "12.34"
    assert format_minor(5, USD) == "0.05"
    assert format_minor(1000, JPY) == "1000"
    assert format_minor(5, KWD) == "0.005"
    assert format_minor(-250, USD) == "-2.50"
    assert minor_to_decimal(1234, USD) == Decimal("12.34")


@pytest.mark.parametrize(
    ("value", "code"),
    [
        (1.5, "float_not_allowed"),
        (True, "float_not_allowed"),
        ("NaN", "invalid_decimal"),
        ("Infinity", "invalid_decimal"),
        ("-inf", "invalid_decimal"),
        ("", "invalid_decimal"),
        ("12,50", "invalid_decimal"),
        ("1_000", "invalid_decimal"),
        ("abc", "invalid_decimal"),
        (None, "invalid_decimal"),
        ([], "invalid_decimal"),
    ],
)
def test_parse_decimal_refuses_bad_input_naming_the_field(value: object, code: str) -> None:
    with pytest.raises(ValidationError) as caught:
        parse_decimal(value, field="components[0].unit_price")
    assert caught.value.code == code
    assert caught.value.field == "components[0].unit_price"


def test_parse_decimal_accepts_strings_and_integers_exactly() -> None:
    assert parse_decimal("0.00042", field="x") == Decimal("0.00042")
    assert parse_decimal(" 12.50 ", field="x") == Decimal("12.50")
    assert parse_decimal(7, field="x") == Decimal(7)
    assert parse_decimal("-0", field="x") == Decimal(0)


def test_parse_decimal_limits() -> None:
    with pytest.raises(ValidationError) as caught:
        parse_decimal("1.2345678", field="value", max_places=6)
    assert caught.value.code == "too_many_decimals"
    with pytest.raises(ValidationError) as caught:
        parse_decimal("-1", field="value", allow_negative=False)
    assert caught.value.code == "negative_not_allowed"


def test_parse_amount_into_minor_units() -> None:
    assert parse_amount("12.34", USD, field="amount") == 1234
    assert parse_amount("1000", JPY, field="amount") == 1000
    assert parse_amount("1.234", KWD, field="amount") == 1234
    assert parse_amount(25, USD, field="amount") == 2500
    with pytest.raises(ValidationError) as caught:
        parse_amount("1.5", JPY, field="amount")  # never silently rounded
    assert caught.value.code == "too_many_decimals"
    with pytest.raises(ValidationError):
        parse_amount("-1", USD, field="amount")
    with pytest.raises(ValidationError):
        parse_amount(12.34, USD, field="amount")


@given(st.integers(min_value=-(10**15), max_value=10**15), st.sampled_from([USD, JPY, KWD]))
def test_format_then_parse_round_trips(minor: int, currency: object) -> None:
    text = format_minor(minor, currency)  # type: ignore[arg-type]
    assert parse_amount(text, currency, field="a", allow_negative=True) == minor  # type: ignore[arg-type]
