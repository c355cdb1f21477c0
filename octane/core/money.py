"""Money: currencies, integer minor units, Decimal unit prices, one rounding rule.

Rules (see ARCHITECTURE.md, "Money and time rules"):

* Amounts are ``int`` counts of the currency's minor unit (cents for USD, yen for
  JPY, fils for KWD). They are summed as integers, never as floats.
* Unit prices and quantities are :class:`decimal.Decimal`; usage prices such as
  0.00042 per call are normal.
* A computed amount is rounded exactly once, half-up (ties away from zero), to the
  minor unit by :func:`round_to_minor`. Python's default context rounds half-even,
  so the mode is always passed explicitly.
* Input from outside (JSON, forms, config) goes through :func:`parse_decimal` or
  :func:`parse_amount`, which refuse floats, NaN, infinities and surplus decimals
  with an error naming the field.

Currency exponents come from the ISO 4217 table shipped by the ``iso4217``
package (maintained from the ISO maintenance agency's list), not a hand-typed list.
"""

from __future__ import annotations

import decimal
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from functools import cache

import iso4217

from octane.core.errors import ValidationError

__all__ = [
    "Currency",
    "all_currencies",
    "format_minor",
    "get_currency",
    "minor_to_decimal",
    "parse_amount",
    "parse_decimal",
    "round_to_minor",
]

# Enough precision for any realistic price x quantity product: 0.00042 x 10^15
# still has 20 significant digits of headroom. The context is local to each call.
_CONTEXT = decimal.Context(prec=50, rounding=ROUND_HALF_UP, traps=[decimal.InvalidOperation])


@dataclass(frozen=True, slots=True)
class Currency:
    """An ISO 4217 currency usable for billing (it has a minor unit)."""

    code: str
    exponent: int
    name: str

    @property
    def quantum(self) -> Decimal:
        """The value of one minor unit, e.g. ``Decimal("0.01")`` for USD."""
        return Decimal(1).scaleb(-self.exponent)


@cache
def _table() -> dict[str, Currency]:
    table: dict[str, Currency] = {}
    for entry in iso4217.Currency:
        if entry.exponent is None:
            # Funds, precious metals and testing codes (XAU, XDR, XTS...) have no
            # minor unit and cannot carry an invoice.
            continue
        table[entry.code] = Currency(entry.code, int(entry.exponent), entry.currency_name)
    return table


def all_currencies() -> list[Currency]:
    """Every currency that can be billed in, sorted by code."""
    return sorted(_table().values(), key=lambda c: c.code)


def get_currency(code: object, *, field: str = "currency") -> Currency:
    """The currency for an ISO code such as ``"USD"``; a clear error otherwise."""
    if not isinstance(code, str):
        raise ValidationError(
            f"A currency must be a three-letter ISO 4217 code string, not {code!r}.",
            field=field,
            code="invalid_currency",
        )
    found = _table().get(code.upper())
    if found is None:
        raise ValidationError(
            f"'{code}' is not an ISO 4217 currency that can be billed in "
            "(use a three-letter code such as USD, EUR or JPY).",
            field=field,
            code="invalid_currency",
        )
    return found


def round_to_minor(amount: Decimal, currency: Currency) -> int:
    """Round a Decimal amount in major units to an int of minor units, half-up.

    ``round_to_minor(Decimal("0.125"), USD) == 13`` (half-even would give 12);
    ties go away from zero, so ``Decimal("-0.125")`` gives ``-13``.
    """
    if not isinstance(amount, Decimal):
        raise TypeError(f"round_to_minor takes a Decimal, got {type(amount).__name__}")
    if not amount.is_finite():
        raise ValueError(f"cannot round a non-finite amount: {amount}")
    scaled = amount.scaleb(currency.exponent, context=_CONTEXT)
    return int(scaled.to_integral_value(rounding=ROUND_HALF_UP, context=_CONTEXT))


def minor_to_decimal(minor: int, currency: Currency) -> Decimal:
    """An exact Decimal in major units: ``minor_to_decimal(1234, USD) == Decimal("12.34")``."""
    return Decimal(minor).scaleb(-currency.exponent)


def format_minor(minor: int, currency: Currency) -> str:
    """A plain decimal string with exactly the currency's decimals: ``"12.34"``, ``"1000"``."""
    value = minor_to_decimal(minor, currency)
    return f"{value:.{currency.exponent}f}"


def parse_decimal(
    value: object,
    *,
    field: str,
    max_places: int | None = None,
    allow_negative: bool = True,
) -> Decimal:
    """Parse an exact decimal from a string or an integer.

    Refused, each with a ``ValidationError`` naming ``field``: floats (a JSON
    ``1.5`` is a float; send ``"1.5"``), booleans, NaN, infinities, empty or
    malformed strings, negatives when ``allow_negative`` is false, and more than
    ``max_places`` digits after the decimal point.
    """
    if isinstance(value, (bool, float)):
        raise ValidationError(
            f'Must be a decimal string such as "{value}" or an integer, not a '
            "floating-point number (floats cannot represent money exactly).",
            field=field,
            code="float_not_allowed",
        )
    if isinstance(value, int):
        parsed = Decimal(value)
    elif isinstance(value, Decimal):
        parsed = value
    elif isinstance(value, str):
        text = value.strip()
        try:
            parsed = Decimal(text)
        except decimal.InvalidOperation:
            raise ValidationError(
                f"'{value}' is not a decimal number.", field=field, code="invalid_decimal"
            ) from None
        if not text or "_" in text:
            raise ValidationError(
                f"'{value}' is not a decimal number.", field=field, code="invalid_decimal"
            )
    else:
        raise ValidationError(
            f"Must be a decimal string or an integer, not {type(value).__name__}.",
            field=field,
            code="invalid_decimal",
        )
    if not parsed.is_finite():
        raise ValidationError(
            f"'{value}' is not a finite number.", field=field, code="invalid_decimal"
        )
    if not allow_negative and parsed < 0:
        raise ValidationError(
            f"Must not be negative (got {value}).", field=field, code="negative_not_allowed"
        )
    if max_places is not None:
        exponent = parsed.as_tuple().exponent
        assert isinstance(exponent, int)  # finite, checked above
        if -exponent > max_places:
            raise ValidationError(
                f"'{value}' has more than {max_places} digits after the decimal point.",
                field=field,
                code="too_many_decimals",
            )
    # Normalise -0 and keep the value exact.
    return parsed + Decimal(0) if parsed.is_zero() else parsed


def parse_amount(
    value: object,
    currency: Currency,
    *,
    field: str,
    allow_negative: bool = False,
) -> int:
    """Parse an amount in major units (``"12.34"``) into int minor units (``1234``).

    An amount may not have more decimals than its currency (``"1.5"`` JPY is
    refused rather than rounded: an amount someone typed is never silently changed).
    """
    parsed = parse_decimal(
        value, field=field, max_places=currency.exponent, allow_negative=allow_negative
    )
    return int(parsed.scaleb(currency.exponent, context=_CONTEXT))
