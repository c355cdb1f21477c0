"""A vendor's invoice settings and invoice numbering, as the API and the portal change them.

Settings are stored as the vendor's own choices (a partial JSON object); what is
in force is :func:`~octane.core.invoice_settings.effective_settings` of them, so a
default can improve later without rewriting every vendor's row.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from octane.core.errors import ValidationError
from octane.core.invoice_numbers import DEFAULT_FORMAT, validate_number_format
from octane.core.invoice_settings import DEFAULTS, validate_overrides
from octane.core.store.tables import Vendor
from octane.core.vendors import get_vendor

__all__ = [
    "check_channel",
    "check_provider",
    "check_provider_invoicing",
    "get_invoice_settings",
    "get_numbering",
    "set_numbering",
    "update_invoice_settings",
]


def _check_available(
    value: object, available: Collection[str], *, what: str, field: str, code: str
) -> None:
    if value is not None and value not in available:
        raise ValidationError(
            f"'{value}' is not an available {what}; available: "
            f"{', '.join(sorted(available)) or '(none: enable a plugin that provides one)'}.",
            field=field,
            code=code,
        )


def check_provider(value: object, providers: Collection[str], *, field: str) -> None:
    """A payment provider must be one an enabled plugin provides."""
    _check_available(
        value, providers, what="payment provider", field=field, code="unknown_provider"
    )


def check_channel(value: object, channels: Collection[str], *, field: str) -> None:
    """A delivery channel must be one an enabled plugin provides."""
    _check_available(value, channels, what="delivery channel", field=field, code="unknown_channel")


def check_provider_invoicing(
    settings: Mapping[str, Any], channels: Collection[str], *, field: str
) -> None:
    """Invoicing via the provider needs a provider whose plugin invoices: one that
    registered a delivery channel of its own name."""
    provider = settings.get("payment_provider")
    if settings.get("invoicing_via_provider") and provider and provider not in channels:
        raise ValidationError(
            f"The payment provider '{provider}' does not send invoices itself; turn "
            "'invoicing_via_provider' off or choose a provider that does.",
            field=field,
            code="provider_cannot_invoice",
        )


async def _stored(vendor_id: str) -> dict[str, Any]:
    """The settings the vendor chose (not the defaults)."""
    await get_vendor(vendor_id)  # a clear 404 for an unknown vendor
    row = await (
        Vendor.select(Vendor.invoice_settings)
        .where(Vendor.id == vendor_id)
        .output(load_json=True)
        .first()
    )
    assert row is not None
    return dict(row["invoice_settings"] or {})


async def get_invoice_settings(vendor_id: str) -> dict[str, Any]:
    """The vendor's settings in force (defaults where the vendor chose nothing)."""
    return {**DEFAULTS, **await _stored(vendor_id)}


async def update_invoice_settings(
    vendor_id: str,
    changes: Mapping[str, Any],
    *,
    providers: Collection[str],
    channels: Collection[str],
) -> dict[str, Any]:
    """Set the given settings (others keep their value); return the settings in force."""
    validate_overrides(changes, prefix="")
    check_provider(changes.get("payment_provider"), providers, field="payment_provider")
    check_channel(changes.get("delivery_channel"), channels, field="delivery_channel")
    stored = {**await _stored(vendor_id), **changes}
    check_provider_invoicing({**DEFAULTS, **stored}, channels, field="invoicing_via_provider")
    await Vendor.update({Vendor.invoice_settings: stored}).where(Vendor.id == vendor_id)
    return {**DEFAULTS, **stored}


async def get_numbering(vendor_id: str) -> dict[str, str]:
    vendor = await get_vendor(vendor_id)
    return {
        "prefix": str(vendor["invoice_prefix"]),
        "format": str(vendor["invoice_number_format"] or DEFAULT_FORMAT),
    }


async def set_numbering(
    vendor_id: str, *, prefix: str | None = None, template: str | None = None
) -> dict[str, str]:
    """Change the prefix and/or the format of the vendor's next invoice numbers."""
    values: dict[Any, Any] = {}
    if prefix is not None:
        if not (1 <= len(prefix) <= 20 and all(c.isalnum() or c in "-_/." for c in prefix)):
            raise ValidationError(
                "A prefix is 1 to 20 letters, digits or - _ / . characters.", field="prefix"
            )
        values[Vendor.invoice_prefix] = prefix
    if template is not None:
        values[Vendor.invoice_number_format] = validate_number_format(template, field="format")
    await get_vendor(vendor_id)
    if values:
        await Vendor.update(values).where(Vendor.id == vendor_id)
    return await get_numbering(vendor_id)
