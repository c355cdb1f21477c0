"""A vendor's branding: what its invoices and emails show about it.

Stored as the vendor's own choices in ``vendor.branding`` (a JSON object); the logo
itself lives in the document store under ``branding/<vendor>/logo``. Everything
is validated here, so the API, the portal and the renderers see the same rules.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import msgspec
from babel import Locale, UnknownLocaleError

from octane.core.documents import DocumentStore
from octane.core.errors import ValidationError
from octane.core.store.tables import Vendor
from octane.core.vendors import get_vendor

__all__ = [
    "LOGO_MAX_BYTES",
    "LOGO_TYPES",
    "Branding",
    "get_branding",
    "logo_key",
    "remove_logo",
    "set_logo",
    "update_branding",
]

LOGO_MAX_BYTES = 512 * 1024
LOGO_TYPES = {"image/png": b"\x89PNG\r\n\x1a\n", "image/jpeg": b"\xff\xd8\xff"}
"""Accepted logo formats and the first bytes each file must start with."""

_COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")
_EMAIL = re.compile(r"^[^@\s<>\"]+@[^@\s<>\"]+\.[^@\s<>\"]+$")


class Branding(msgspec.Struct, frozen=True, kw_only=True):
    """What a vendor's invoices and emails say about it (all optional)."""

    company_name: str = ""
    """Shown as the seller; the vendor's name when empty."""
    address_lines: tuple[str, ...] = ()
    tax_id: str = ""
    accent_color: str = "#2f54eb"
    footer: str = ""
    """A line at the foot of every invoice page (legal name, registration, bank)."""
    payment_instructions: str = ""
    """Shown on unpaid invoices (how to pay when the charge is not automatic)."""
    locale: str = "en_US"
    """How amounts and dates are written (e.g. ``de_DE``, ``ja_JP``)."""
    email_from_name: str = ""
    reply_to: str = ""
    logo_type: str = ""
    """The stored logo's media type, empty when there is no logo."""


_LIMITS = {
    "company_name": 200,
    "tax_id": 60,
    "footer": 500,
    "payment_instructions": 1000,
    "email_from_name": 200,
    "reply_to": 320,
}


def logo_key(vendor_id: str) -> str:
    return f"branding/{vendor_id}/logo"


_MULTILINE = ("footer", "payment_instructions")


def _check_text(field: str, value: Any, limit: int) -> str:
    if not isinstance(value, str):
        raise ValidationError(f"'{field}' must be a string.", field=field)
    if len(value) > limit:
        raise ValidationError(f"'{field}' is at most {limit} characters.", field=field)
    if field not in _MULTILINE and any(c in value for c in "\r\n\t\x00"):
        # These end up in email headers and one-line places: a line break would forge them.
        raise ValidationError(f"'{field}' must be a single line of text.", field=field)
    return value.strip()


def check_locale(value: Any, *, field: str = "locale") -> str:
    if not isinstance(value, str) or not value:
        raise ValidationError("'locale' must be a locale name such as 'en_US'.", field=field)
    try:
        Locale.parse(value)
    except (UnknownLocaleError, ValueError):
        raise ValidationError(
            f"'{value}' is not a known locale; write it like 'en_US', 'de_DE' or 'ja_JP'.",
            field=field,
        ) from None
    return value


def _validated(changes: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    known = set(Branding.__struct_fields__) - {"logo_type"}
    for field, value in changes.items():
        if field not in known:
            raise ValidationError(
                f"'{field}' is not a branding setting; expected one of {', '.join(sorted(known))}.",
                field=field,
            )
        if field in _LIMITS:
            out[field] = _check_text(field, value, _LIMITS[field])
        elif field == "address_lines":
            if not isinstance(value, list) or len(value) > 6:
                raise ValidationError(
                    "'address_lines' is a list of at most 6 lines.", field="address_lines"
                )
            out[field] = [
                _check_text(f"address_lines[{i}]", line, 200) for i, line in enumerate(value)
            ]
        elif field == "accent_color":
            if not isinstance(value, str) or not _COLOR.match(value):
                raise ValidationError(
                    "'accent_color' is a colour written #rrggbb, e.g. #2f54eb.",
                    field="accent_color",
                )
            out[field] = value.lower()
        elif field == "locale":
            out[field] = check_locale(value)
    if out.get("reply_to") and not _EMAIL.match(out["reply_to"]):
        raise ValidationError("'reply_to' must be an email address.", field="reply_to")
    return out


async def _stored(vendor_id: str) -> dict[str, Any]:
    vendor = await get_vendor(vendor_id)  # a clear 404 for an unknown vendor
    raw: Any = vendor["branding"]
    if isinstance(raw, str):
        raw = msgspec.json.decode(raw or "{}")
    return dict(raw or {})


async def get_branding(vendor_id: str) -> Branding:
    return msgspec.convert(await _stored(vendor_id), Branding)


async def update_branding(vendor_id: str, changes: Mapping[str, Any]) -> Branding:
    """Change the given branding fields (others keep their value)."""
    stored = {**await _stored(vendor_id), **_validated(changes)}
    await Vendor.update({Vendor.branding: stored}).where(Vendor.id == vendor_id)
    return msgspec.convert(stored, Branding)


async def set_logo(
    vendor_id: str, documents: DocumentStore, data: bytes, media_type: str
) -> Branding:
    """Store the vendor's logo (PNG or JPEG, at most 512 KiB)."""
    media_type = media_type.split(";")[0].strip().lower()
    signature = LOGO_TYPES.get(media_type)
    if signature is None:
        raise ValidationError(
            f"A logo is a PNG or JPEG image (Content-Type image/png or image/jpeg), "
            f"not '{media_type or 'nothing'}'.",
            field="logo",
        )
    if not data:
        raise ValidationError("The logo file is empty.", field="logo")
    if len(data) > LOGO_MAX_BYTES:
        raise ValidationError(
            f"A logo is at most {LOGO_MAX_BYTES // 1024} KiB; this one is {len(data) // 1024} KiB.",
            field="logo",
        )
    if not data.startswith(signature):
        raise ValidationError(f"The file is not a valid {media_type} image.", field="logo")
    await documents.replace(logo_key(vendor_id), data)
    stored = {**await _stored(vendor_id), "logo_type": media_type}
    await Vendor.update({Vendor.branding: stored}).where(Vendor.id == vendor_id)
    return msgspec.convert(stored, Branding)


async def remove_logo(vendor_id: str, documents: DocumentStore) -> Branding:
    stored = {**await _stored(vendor_id), "logo_type": ""}
    await documents.delete(logo_key(vendor_id))
    await Vendor.update({Vendor.branding: stored}).where(Vendor.id == vendor_id)
    return msgspec.convert(stored, Branding)
