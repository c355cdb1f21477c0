"""Reading portal forms: the few conversions from what a person types to the API's form.

Only the shape is converted here (a whole number and a unit become an ISO 8601
duration); every rule about the value itself stays in the core, which the JSON API
calls too. Errors are collected per field, so a form shows each next to its input.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from octane.core.errors import OctaneError, ValidationError
from octane.core.invoice_settings import parse_duration

__all__ = [
    "DURATION_UNITS",
    "FormErrors",
    "duration_from_parts",
    "duration_parts",
    "duration_text",
    "durations_from_text",
    "field_of",
    "form_text",
]

DURATION_UNITS = ("days", "hours", "minutes")
_COMPACT = re.compile(r"^(?P<amount>\d+)\s*(?P<unit>[dhm])$", re.IGNORECASE)


class FormErrors(dict[str, str]):
    """``{field name: message}``; the first error of a field wins."""

    def add(self, field: str, message: str) -> None:
        self.setdefault(field, message)

    def add_error(self, error: OctaneError, default_field: str = "form") -> None:
        self.add(field_of(error, default_field), error.message)


def field_of(error: OctaneError, default: str = "form") -> str:
    """The form field an error belongs to (``payment_retry_schedule[2]`` -> the list)."""
    field = (error.field or default).split("[", 1)[0]
    return field.removeprefix("invoice_settings.")


def duration_from_parts(amount: object, unit: object, *, field: str, label: str) -> str:
    """``("5", "days")`` -> ``"P5D"``; a negative, fractional or empty amount is refused."""
    text = str(amount or "").strip()
    if unit not in DURATION_UNITS:
        raise ValidationError(f"{label}: choose days, hours or minutes.", field=field)
    if not text.isdigit():
        raise ValidationError(
            f"{label} must be a whole number of {unit}, 0 or more; '{text}' is not.",
            field=field,
        )
    value = int(text)
    if unit == "days":
        return f"P{value}D"
    return f"PT{value}{'H' if unit == 'hours' else 'M'}"


def duration_parts(iso: str) -> tuple[str, str]:
    """``"P5D"`` -> ``("5", "days")``; the largest unit that divides it."""
    seconds = int(parse_duration(iso, field="duration").total_seconds())
    if seconds % 86400 == 0:
        return str(seconds // 86400), "days"
    if seconds % 3600 == 0:
        return str(seconds // 3600), "hours"
    return str(seconds // 60), "minutes"


def duration_text(iso: str) -> str:
    """``"P3D"`` -> ``"3d"``, ``"PT12H"`` -> ``"12h"``."""
    amount, unit = duration_parts(iso)
    return f"{amount}{unit[0]}"


def durations_from_text(text: object, *, field: str, label: str) -> list[str]:
    """``"1d, 3d, 12h"`` (or ISO 8601 items) -> ``["P1D", "P3D", "PT12H"]``."""
    items = [item.strip() for item in re.split(r"[,\s]+", str(text or "")) if item.strip()]
    out = []
    for item in items:
        compact = _COMPACT.match(item)
        if compact:
            unit = {"d": "days", "h": "hours", "m": "minutes"}[compact["unit"].lower()]
            out.append(duration_from_parts(compact["amount"], unit, field=field, label=label))
        elif item.upper().startswith("P"):
            out.append(item.upper())
        else:
            raise ValidationError(
                f"{label}: '{item}' is not a delay such as 1d, 12h or 30m.", field=field
            )
    return out


def form_text(form: Mapping[str, Any], name: str) -> str:
    value = form.get(name, "")
    return value.strip() if isinstance(value, str) else ""
