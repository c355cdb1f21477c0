"""How the portal shows money, quantities and times."""

from __future__ import annotations

from decimal import Decimal

import pytest

from octane.core.clock import utc
from octane.core.errors import ValidationError
from octane.web.portal.dashboard import accrual_chart
from octane.web.portal.forms import duration_from_parts, duration_parts, durations_from_text
from octane.web.portal.render import money, number, price, when


@pytest.mark.parametrize(
    ("minor", "currency", "shown"),
    [
        (123456, "USD", "$1,234.56"),
        (1234, "JPY", "¥1,234"),
        (1234, "KWD", "KWD1.234"),
        (-500, "EUR", "-€5.00"),
        (0, "USD", "$0.00"),
    ],
)
def test_money_uses_the_currency_decimals(minor: int, currency: str, shown: str) -> None:
    assert money(minor, currency) == shown


def test_prices_keep_their_precision() -> None:
    assert price("10", "USD") == "$10.00"
    assert price("0.00042", "USD") == "$0.00042"
    assert price("10", "JPY") == "¥10"


def test_numbers_and_times() -> None:
    assert number(Decimal("1000")) == "1,000"
    assert number("0.00042") == "0.00042"
    assert when(utc(2026, 3, 31, 14, 5)) == "2026-03-31 14:05 UTC"
    assert when("2026-03-31 14:05:00+00:00", "date") == "2026-03-31"


def test_durations_from_the_form() -> None:
    assert duration_from_parts("5", "days", field="f", label="L") == "P5D"
    assert duration_from_parts("12", "hours", field="f", label="L") == "PT12H"
    assert duration_parts("PT36H") == ("36", "hours")
    assert durations_from_text("1d, 12h 30m", field="f", label="L") == ["P1D", "PT12H", "PT30M"]
    for bad in ("-5", "1.5", "", "five"):
        with pytest.raises(ValidationError) as error:
            duration_from_parts(bad, "days", field="invoice_grace_period", label="Grace")
        assert error.value.field == "invoice_grace_period"


def test_accrual_chart_scales_bars_to_the_peak() -> None:
    rows = [
        {"day": "2026-03-30", "currency": "USD", "total": 500},
        {"day": "2026-03-31", "currency": "USD", "total": 1000},
        {"day": "2026-03-31", "currency": "EUR", "total": 99999},
    ]
    chart = accrual_chart(rows, now=utc(2026, 3, 31, 12), currency="USD", days=3)
    assert [bar["height"] for bar in chart["bars"]] == [0, 65, 130]
    assert chart["peak"] == 1000
