"""Gapless invoice numbers per vendor and series, and their configurable format.

A number is taken inside the transaction that finalizes the invoice: the
sequence row is incremented with one ``UPDATE ... RETURNING`` (a row lock on
PostgreSQL, the single writer on SQLite), so a rolled-back finalization gives its
number back and two concurrent ones never share or skip a number.
"""

from __future__ import annotations

import string
from datetime import datetime

from octane.core.errors import ValidationError
from octane.core.store.tables import InvoiceSequence

__all__ = [
    "DEFAULT_FORMAT",
    "format_number",
    "take_number",
    "take_numbers",
    "validate_number_format",
]

DEFAULT_FORMAT = "{prefix}-{year}-{number:06d}"
_FIELDS = {"prefix", "year", "number"}


def validate_number_format(template: object, *, field: str = "invoice_number_format") -> str:
    """Check a format such as ``{prefix}-{year}-{number:06d}``; return it."""
    if not isinstance(template, str) or not 1 <= len(template) <= 100:
        raise ValidationError("Must be a text of 1 to 100 characters.", field=field)
    try:
        names = {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}
        unknown = names - _FIELDS
        if unknown:
            raise ValidationError(
                f"Unknown placeholder {{{sorted(unknown)[0]}}}; use {{prefix}}, {{year}} and "
                "{number} (with a width such as {number:06d}).",
                field=field,
            )
        if "number" not in names:
            raise ValidationError(
                "The format must contain {number}, or invoices could not be told apart.",
                field=field,
            )
        format_number(template, prefix="INV", number=1, year=2026)
    except (ValueError, IndexError, KeyError) as exc:
        raise ValidationError(f"Not a valid number format: {exc}.", field=field) from exc
    return template


def format_number(template: str, *, prefix: str, number: int, year: int) -> str:
    return template.format(prefix=prefix, number=number, year=year)


async def take_number(
    vendor_id: str,
    *,
    template: str,
    prefix: str,
    at: datetime,
    series: str = "default",
) -> str:
    """The next number of the series, formatted. Call inside the finalizing transaction."""
    (number,) = await take_numbers(
        vendor_id, 1, template=template, prefix=prefix, at=at, series=series
    )
    return number


async def take_numbers(
    vendor_id: str,
    count: int,
    *,
    template: str,
    prefix: str,
    at: datetime,
    series: str = "default",
) -> list[str]:
    """The next ``count`` numbers of the series, formatted, in order. Call inside the
    transaction that uses them all: a rollback gives them all back."""
    if count <= 0:
        return []
    await InvoiceSequence.raw(
        "INSERT INTO invoice_sequence (vendor, series, next_number) VALUES ({}, {}, 1) "
        "ON CONFLICT (vendor, series) DO NOTHING",
        vendor_id,
        series,
    )
    rows = await InvoiceSequence.raw(
        "UPDATE invoice_sequence SET next_number = next_number + {} "
        "WHERE vendor = {} AND series = {} RETURNING next_number",
        count,
        vendor_id,
        series,
    )
    first = int(rows[0]["next_number"]) - count
    return [
        format_number(template, prefix=prefix, number=n, year=at.year)
        for n in range(first, first + count)
    ]
