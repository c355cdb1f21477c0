"""Invoice settings: names, types and validation (per vendor, overridable per customer).

The settings follow the source document's vocabulary: invoice delivery, the invoice
(generation) grace period, invoicing via payment provider, the payment (issuance)
grace period, auto-charge, the payment provider, the retry schedule and
notifications. Durations are ISO 8601 (``PT12H``, ``P3D``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from octane.core.errors import ValidationError

__all__ = ["SETTING_NAMES", "parse_duration", "validate_overrides"]

_DURATION = re.compile(
    r"^P(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
    r"(?:T(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+)S)?)?$"
)
MAX_DURATION = timedelta(days=366)

_BOOLEAN = ("invoice_delivery", "invoicing_via_provider", "auto_charge", "notifications")
_DURATIONS = ("invoice_grace_period", "payment_grace_period")
SETTING_NAMES = (
    "invoice_delivery",
    "invoice_grace_period",
    "invoicing_via_provider",
    "payment_grace_period",
    "auto_charge",
    "payment_provider",
    "payment_retry_schedule",
    "notifications",
)


def parse_duration(value: object, *, field: str) -> timedelta:
    """An ISO 8601 duration of weeks/days/hours/minutes/seconds, 0 to 366 days."""
    match = _DURATION.match(value) if isinstance(value, str) else None
    if match is None or value in ("P", "PT"):
        raise ValidationError(
            f"{value!r} is not an ISO 8601 duration such as PT12H, P3D or P1DT6H "
            "(negative durations are not allowed).",
            field=field,
            code="invalid_duration",
        )
    parts = {k: int(v) for k, v in match.groupdict().items() if v}
    duration = timedelta(**parts)
    if duration > MAX_DURATION:
        raise ValidationError(
            f"{value} is longer than the maximum of 366 days.",
            field=field,
            code="invalid_duration",
        )
    return duration


def validate_overrides(
    raw: Mapping[str, Any], *, prefix: str = "invoice_settings"
) -> dict[str, Any]:
    """Validate a (possibly partial) set of settings; return it unchanged when valid."""
    if not isinstance(raw, Mapping):
        raise ValidationError("Invoice settings must be an object.", field=prefix)
    for key, value in raw.items():
        field = f"{prefix}.{key}"
        if key not in SETTING_NAMES:
            raise ValidationError(
                f"'{key}' is not an invoice setting; the settings are {', '.join(SETTING_NAMES)}.",
                field=field,
                code="unknown_setting",
            )
        if key in _BOOLEAN and not isinstance(value, bool):
            raise ValidationError("Must be true or false.", field=field)
        if key in _DURATIONS:
            parse_duration(value, field=field)
        if key == "payment_provider" and not (isinstance(value, str) and value):
            raise ValidationError("Must be the name of a payment provider.", field=field)
        if key == "payment_retry_schedule":
            if not isinstance(value, list) or len(value) > 20:
                raise ValidationError(
                    'Must be a list of at most 20 ISO 8601 durations, e.g. ["P1D", "P3D"].',
                    field=field,
                )
            for index, item in enumerate(value):
                parse_duration(item, field=f"{field}[{index}]")
    return dict(raw)
