"""Amounts, quantities and dates written for a locale with Babel, from exact values.

Amounts are integer minor units of ISO 4217 currencies; Babel's own digit counts
differ from ISO for a few currencies, so the number of decimals always comes from
the currency's ISO exponent, never from Babel.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import lru_cache
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_date
from babel.numbers import format_currency, format_decimal

from octane.core.money import get_currency, minor_to_decimal

__all__ = ["Formatter"]


@lru_cache(maxsize=256)
def _pattern(locale: str, decimals: int) -> str:
    """The locale's currency pattern with exactly ``decimals`` fraction digits."""
    standard = Locale.parse(locale).currency_formats["standard"].pattern
    digits = "0." + "0" * decimals if decimals else "0"
    return re.sub(r"0\.0+", digits, standard)


class Formatter:
    """Writes one invoice's figures in one locale and time zone."""

    def __init__(self, locale: str, currency: str, timezone: str) -> None:
        self.locale = locale
        self.currency = get_currency(currency)
        self.zone = ZoneInfo(timezone)

    def money(self, minor: int) -> str:
        exponent = self.currency.exponent
        value = minor_to_decimal(minor, self.currency)
        return format_currency(
            value,
            self.currency.code,
            format=_pattern(self.locale, exponent),
            locale=self.locale,
            currency_digits=False,
        )

    def price(self, value: Decimal | str | None) -> str:
        """A unit price: at least the currency's decimals, more when the price has them."""
        if value is None:
            return ""
        price = Decimal(value)
        exponent = price.normalize().as_tuple().exponent
        places = -exponent if isinstance(exponent, int) and exponent < 0 else 0
        return format_currency(
            price,
            self.currency.code,
            format=_pattern(self.locale, max(self.currency.exponent, places)),
            locale=self.locale,
            currency_digits=False,
        )

    def quantity(self, value: Decimal | str | None) -> str:
        if value is None:
            return ""
        return format_decimal(Decimal(value), locale=self.locale, decimal_quantization=False)

    def day(self, moment: datetime | None) -> str:
        if moment is None:
            return ""
        return format_date(moment.astimezone(self.zone).date(), format="medium", locale=self.locale)

    def last_day(self, end: datetime) -> str:
        """The last day inside a half-open period that ends at ``end``."""
        return self.day(end - timedelta(microseconds=1))

    def period(self, start: datetime, end: datetime) -> str:
        """A half-open billing period as its first and last days, e.g. "Jan 1 - Jan 31"."""
        return f"{self.day(start)} \u2013 {self.last_day(end)}"

    def date(self, value: date) -> str:
        return format_date(value, format="medium", locale=self.locale)
