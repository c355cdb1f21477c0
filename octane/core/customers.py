"""A vendor's customers: create, read, update, list (cursor pagination by name)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from octane.core.catalog import check_name, save_named
from octane.core.clock import Clock
from octane.core.contracts import CustomerView
from octane.core.cycles import zone
from octane.core.errors import ConflictError, NotFoundError, ValidationError
from octane.core.ids import new_id
from octane.core.invoice_settings import validate_overrides
from octane.core.money import get_currency, parse_decimal
from octane.core.payment_config import validate_payment_config
from octane.core.store.engine import is_postgres
from octane.core.store.tables import Customer, Subscription

__all__ = [
    "create_customer",
    "customer_view",
    "get_customer",
    "get_customer_row",
    "list_customers",
    "set_provider_id",
    "update_customer",
]

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
UPDATABLE = (
    "display_name",
    "email",
    "currency",
    "timezone",
    "address",
    "tax_rate",
    "invoice_settings",
    "provider_ids",
    "payment_config",
)


def _string_map(value: object, field: str, *, max_items: int = 20) -> dict[str, str]:
    if not isinstance(value, Mapping) or len(value) > max_items:
        raise ValidationError(
            f"Must be an object of at most {max_items} string values.", field=field
        )
    for key, item in value.items():
        if not isinstance(key, str) or not isinstance(item, str) or len(item) > 500:
            raise ValidationError(
                "Every value must be a string (500 characters at most).", field=f"{field}.{key}"
            )
    return dict(value)


def _clean(fields: Mapping[str, Any]) -> dict[str, Any]:
    """Validate the updatable fields present in ``fields``; return their stored form."""
    out: dict[str, Any] = {}
    if "display_name" in fields:
        name = fields["display_name"]
        if not isinstance(name, str) or len(name) > 200:
            raise ValidationError("At most 200 characters.", field="display_name")
        out["display_name"] = name
    if "email" in fields:
        email = fields["email"]
        if email is not None and (not isinstance(email, str) or not _EMAIL.match(email)):
            raise ValidationError(f"{email!r} is not an email address.", field="email")
        out["email"] = email
    if "currency" in fields:
        out["currency"] = get_currency(fields["currency"]).code
    if "timezone" in fields:
        zone(fields["timezone"])
        out["timezone"] = fields["timezone"]
    if "address" in fields:
        out["address"] = _string_map(fields["address"], "address")
    if "tax_rate" in fields:
        rate = fields["tax_rate"]
        if rate is not None:
            parsed = parse_decimal(rate, field="tax_rate", max_places=4, allow_negative=False)
            if parsed > 100:
                raise ValidationError("A tax rate is a percentage from 0 to 100.", field="tax_rate")
            rate = str(parsed)
        out["tax_rate"] = rate
    if "invoice_settings" in fields:
        out["invoice_settings"] = validate_overrides(fields["invoice_settings"] or {})
    if "provider_ids" in fields:
        out["provider_ids"] = _string_map(fields["provider_ids"], "provider_ids")
    if "payment_config" in fields:
        out["payment_config"] = validate_payment_config(fields["payment_config"] or {})
    return out


def _out(row: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "name": row["name"],
        "display_name": row["display_name"],
        "email": row["email"],
        "currency": row["currency"],
        "timezone": row["timezone"],
        "address": row["address"],
        "tax_rate": row["tax_rate"],
        "invoice_settings": row["invoice_settings"],
        "provider_ids": row["provider_ids"],
        "payment_config": row["payment_config"],
        "created_at": row["created_at"],
    }


def customer_view(row: Mapping[str, Any]) -> CustomerView:
    return CustomerView(
        id=row["id"],
        name=row["name"],
        display_name=row["display_name"],
        email=row["email"],
        currency=row["currency"],
        timezone=row["timezone"],
        address=dict(row["address"] or {}),
        tax_rate=Decimal(row["tax_rate"]) if row["tax_rate"] is not None else None,
        provider_ids=dict(row["provider_ids"] or {}),
        payment_config=dict(row["payment_config"] or {}),
    )


async def create_customer(
    vendor_id: str, fields: Mapping[str, Any], *, clock: Clock
) -> dict[str, Any]:
    name = check_name(fields.get("name"))
    if "currency" not in fields:
        raise ValidationError("A customer needs a currency (ISO 4217, e.g. USD).", field="currency")
    values = {"display_name": "", "timezone": "UTC", **_clean(fields)}
    customer = Customer(
        id=new_id("cus"), vendor=vendor_id, name=name, created_at=clock.now(), **values
    )
    await save_named(customer, "customer", name)
    return await get_customer(vendor_id, name)


async def get_customer_row(vendor_id: str, name: str, *, field: str = "customer") -> dict[str, Any]:
    row = (
        await Customer.select()
        .where((Customer.vendor == vendor_id) & (Customer.name == name))
        .output(load_json=True)
        .first()
    )
    if row is None:
        raise NotFoundError(f"There is no customer '{name}'.", field=field)
    return row


async def get_customer(vendor_id: str, name: str) -> dict[str, Any]:
    return _out(await get_customer_row(vendor_id, name))


async def update_customer(vendor_id: str, name: str, fields: Mapping[str, Any]) -> dict[str, Any]:
    row = await get_customer_row(vendor_id, name)
    if "name" in fields and fields["name"] != name:
        raise ValidationError(
            "A customer's name is its permanent id and cannot change.",
            field="name",
            code="immutable_field",
        )
    unknown = set(fields) - {*UPDATABLE, "name"}
    if unknown:
        field = sorted(unknown)[0]
        raise ValidationError(f"'{field}' cannot be updated.", field=field)
    values = _clean(fields)
    currency_changes = "currency" in values and values["currency"] != row["currency"]
    if currency_changes and await Subscription.exists().where(Subscription.customer == row["id"]):
        raise ConflictError(
            "The currency of a customer with a subscription cannot change.",
            field="currency",
            code="currency_locked",
        )
    if values:
        await Customer.update({getattr(Customer, k): v for k, v in values.items()}).where(
            (Customer.vendor == vendor_id) & (Customer.id == row["id"])
        )
    return await get_customer(vendor_id, name)


async def list_customers(
    vendor_id: str, *, limit: int = 50, starting_after: str | None = None, search: str = ""
) -> tuple[list[dict[str, Any]], bool]:
    """One page of customers by name, and whether more follow."""
    if not 1 <= limit <= 200:
        raise ValidationError("limit must be between 1 and 200.", field="limit")
    query = Customer.select().where(Customer.vendor == vendor_id)
    if starting_after:
        query = query.where(Customer.name > starting_after)
    if search:
        pattern = f"%{search.replace('%', '').replace('_', '')}%"
        # SQLite's LIKE is already case-insensitive (for ASCII); PostgreSQL needs ILIKE.
        if is_postgres():
            query = query.where(Customer.name.ilike(pattern) | Customer.display_name.ilike(pattern))
        else:
            query = query.where(Customer.name.like(pattern) | Customer.display_name.like(pattern))
    rows = await query.order_by(Customer.name).limit(limit + 1).output(load_json=True)
    return [_out(row) for row in rows[:limit]], len(rows) > limit


async def set_provider_id(customer_id: str, provider: str, external_id: str) -> None:
    """Remember the customer's id at a provider (``provider_ids[provider]``)."""
    row = await (
        Customer.select(Customer.provider_ids)
        .where(Customer.id == customer_id)
        .output(load_json=True)
        .first()
    )
    if row is None:
        raise NotFoundError(f"There is no customer '{customer_id}'.", field="customer")
    ids = {**(row["provider_ids"] or {}), provider: external_id}
    await Customer.update({Customer.provider_ids: ids}).where(Customer.id == customer_id)
