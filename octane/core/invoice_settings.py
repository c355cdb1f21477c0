"""Invoice settings: names, types and validation (per vendor, overridable per customer).

The settings follow the source document's vocabulary: invoice delivery, the invoice
(generation) grace period, invoicing via payment provider, the payment (issuance)
grace period, auto-charge, the payment provider, the retry schedule and
notifications. Durations are ISO 8601 (``PT12H``, ``P3D``).
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from octane.core.errors import ValidationError

__all__ = [
    "DEFAULTS",
    "SETTING_NAMES",
    "InvoiceSettings",
    "effective_settings",
    "parse_duration",
    "validate_overrides",
]

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
    "delivery_channel",
)


#: What a vendor gets until it changes a setting. Delivery and auto-charge are on (the
#: source document's automated invoicing), with a day to review usage and three days to
#: validate the invoice; retries after 1, 3, 5 and 7 days, then uncollectible.
DEFAULTS: dict[str, Any] = {
    "invoice_delivery": True,
    "invoice_grace_period": "P1D",
    "invoicing_via_provider": False,
    "payment_grace_period": "P3D",
    "auto_charge": True,
    "payment_provider": None,
    "payment_retry_schedule": ["P1D", "P3D", "P5D", "P7D"],
    "notifications": True,
    "delivery_channel": "email",
}


@dataclass(frozen=True)
class InvoiceSettings:
    """The settings in force for one customer: the vendor's, with the customer's overrides."""

    invoice_delivery: bool
    invoice_grace_period: timedelta
    invoicing_via_provider: bool
    payment_grace_period: timedelta
    auto_charge: bool
    payment_provider: str | None
    payment_retry_schedule: tuple[timedelta, ...]
    notifications: bool
    delivery_channel: str
    """Where invoices and notifications go when the provider does not invoice: ``email``
    (the pdf_email plugin) by default."""
    raw: Mapping[str, Any]
    """The merged JSON form, stored on an invoice when it is finalized."""


def effective_settings(
    vendor: Mapping[str, Any] | None, customer: Mapping[str, Any] | None = None
) -> InvoiceSettings:
    """Defaults, then the vendor's settings, then the customer's overrides."""
    merged = {**DEFAULTS, **(vendor or {}), **(customer or {})}
    return _parsed(json.dumps(merged, sort_keys=True))


@functools.lru_cache(maxsize=1024)
def _parsed(merged_json: str) -> InvoiceSettings:
    """Parsing, memoized: a billing run asks for the same few combinations many times."""
    merged = json.loads(merged_json)
    return InvoiceSettings(
        invoice_delivery=bool(merged["invoice_delivery"]),
        invoice_grace_period=parse_duration(
            merged["invoice_grace_period"], field="invoice_grace_period"
        ),
        invoicing_via_provider=bool(merged["invoicing_via_provider"]),
        payment_grace_period=parse_duration(
            merged["payment_grace_period"], field="payment_grace_period"
        ),
        auto_charge=bool(merged["auto_charge"]),
        payment_provider=merged["payment_provider"] or None,
        payment_retry_schedule=tuple(
            parse_duration(item, field="payment_retry_schedule")
            for item in merged["payment_retry_schedule"]
        ),
        notifications=bool(merged["notifications"]),
        delivery_channel=str(merged["delivery_channel"]),
        raw=merged,
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
        raise ValidationError("Invoice settings must be an object.", field=prefix or None)
    for key, value in raw.items():
        field = f"{prefix}.{key}" if prefix else key
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
        if key == "delivery_channel" and not (isinstance(value, str) and value):
            raise ValidationError("Must be the name of a delivery channel.", field=field)
        if key == "payment_provider" and not (value is None or (isinstance(value, str) and value)):
            raise ValidationError(
                "Must be the name of a payment provider, or null for none.", field=field
            )
        if key == "payment_retry_schedule":
            if not isinstance(value, list) or len(value) > 20:
                raise ValidationError(
                    'Must be a list of at most 20 ISO 8601 durations, e.g. ["P1D", "P3D"].',
                    field=field,
                )
            for index, item in enumerate(value):
                parse_duration(item, field=f"{field}[{index}]")
    return dict(raw)
