"""Meters and price plans: what a vendor measures, and how usage is priced."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from piccolo.table import Table

from octane.core.clock import Clock
from octane.core.contracts import ComponentView, PlanView, Tier
from octane.core.cycles import PERIODS
from octane.core.errors import ConflictError, NotFoundError, ValidationError
from octane.core.ids import new_id
from octane.core.money import get_currency, parse_decimal
from octane.core.pricing import validate_component
from octane.core.store.engine import is_unique_violation
from octane.core.store.tables import Meter, PricePlan, Subscription

__all__ = [
    "AGGREGATIONS",
    "check_name",
    "create_meter",
    "create_plan",
    "get_meter",
    "get_plan",
    "list_meters",
    "list_plans",
    "plan_view",
    "save_named",
    "update_plan",
]

AGGREGATIONS = ("sum", "count", "max", "last", "unique_count")
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:@-]{0,199}$")
_PRICE_PLACES = 12


def check_name(name: object, *, field: str = "name") -> str:
    """A vendor-chosen identifier: 1-200 of letters, digits and ``. _ : @ -``."""
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        raise ValidationError(
            "A name is 1 to 200 characters: letters, digits and . _ : @ - "
            "(starting with a letter or digit).",
            field=field,
            code="invalid_name",
        )
    return name


async def save_named(row: Table, what: str, name: str, *, field: str = "name") -> None:
    """Insert a row whose name is unique per vendor; the unique index decides, so two
    concurrent creations give one row and one 409."""
    try:
        await row.save()
    except Exception as exc:
        if is_unique_violation(exc):
            raise ConflictError(
                f"A {what} named '{name}' already exists.", field=field, code="duplicate_name"
            ) from None
        raise


def _meter_out(row: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "name": row["name"],
        "aggregation": row["aggregation"],
        "unique_label": row["unique_label"],
        "unit": row["unit"],
        "created_at": row["created_at"],
    }


async def create_meter(
    vendor_id: str,
    *,
    name: str,
    aggregation: str,
    unit: str = "",
    unique_label: str | None = None,
    clock: Clock,
) -> dict[str, Any]:
    check_name(name)
    if aggregation not in AGGREGATIONS:
        raise ValidationError(
            f"'{aggregation}' is not an aggregation; use one of {', '.join(AGGREGATIONS)}.",
            field="aggregation",
        )
    if aggregation == "unique_count":
        if not unique_label:
            raise ValidationError(
                "A unique_count meter needs unique_label: the label whose distinct values "
                "are counted.",
                field="unique_label",
            )
        check_name(unique_label, field="unique_label")
    elif unique_label:
        raise ValidationError(
            "unique_label only applies to unique_count meters.", field="unique_label"
        )
    if len(unit) > 50:
        raise ValidationError("A unit is at most 50 characters.", field="unit")
    meter = Meter(
        id=new_id("mtr"),
        vendor=vendor_id,
        name=name,
        aggregation=aggregation,
        unique_label=unique_label,
        unit=unit,
        created_at=clock.now(),
    )
    await save_named(meter, "meter", name)
    return _meter_out(meter.to_dict())


async def list_meters(vendor_id: str) -> list[dict[str, Any]]:
    rows = await Meter.select().where(Meter.vendor == vendor_id).order_by(Meter.name)
    return [_meter_out(row) for row in rows]


async def get_meter(vendor_id: str, name: str) -> dict[str, Any]:
    row = await Meter.select().where((Meter.vendor == vendor_id) & (Meter.name == name)).first()
    if row is None:
        raise NotFoundError(f"There is no meter '{name}'.", field="meter")
    return _meter_out(row)


# ------------------------------------------------------------------ price plans


def _decimal(value: object, field: str) -> Decimal:
    return parse_decimal(value, field=field, max_places=_PRICE_PLACES, allow_negative=False)


def _optional_decimal(value: object, field: str) -> Decimal | None:
    return None if value is None else _decimal(value, field)


def parse_component(raw: Mapping[str, Any], index: int) -> ComponentView:
    """Turn one ``components[]`` item of the API into a validated ComponentView."""
    at = f"components[{index}]"
    tiers = []
    for t_index, tier in enumerate(raw.get("tiers") or ()):
        here = f"{at}.tiers[{t_index}]"
        up_to = tier.get("up_to")
        tiers.append(
            Tier(
                up_to=None if up_to is None else _decimal(up_to, f"{here}.up_to"),
                unit_price=_decimal(tier.get("unit_price", "0"), f"{here}.unit_price"),
                flat_fee=_decimal(tier.get("flat_fee", "0"), f"{here}.flat_fee"),
            )
        )
    component = ComponentView(
        meter=check_name(raw.get("meter"), field=f"{at}.meter"),
        model=str(raw.get("model", "")),
        unit_price=_decimal(raw.get("unit_price", "0"), f"{at}.unit_price"),
        included_units=_decimal(raw.get("included_units", "0"), f"{at}.included_units"),
        tiers=tuple(tiers),
        package_size=_optional_decimal(raw.get("package_size"), f"{at}.package_size"),
        package_price=_optional_decimal(raw.get("package_price"), f"{at}.package_price"),
        flat_amount=_optional_decimal(raw.get("flat_amount"), f"{at}.flat_amount"),
        minimum_charge=_optional_decimal(raw.get("minimum_charge"), f"{at}.minimum_charge"),
    )
    validate_component(component, field_prefix=at)
    return component


def _component_json(component: ComponentView) -> dict[str, Any]:
    def text(value: Decimal | None) -> str | None:
        return None if value is None else str(value)

    return {
        "meter": component.meter,
        "model": component.model,
        "unit_price": str(component.unit_price),
        "included_units": str(component.included_units),
        "tiers": [
            {"up_to": text(t.up_to), "unit_price": str(t.unit_price), "flat_fee": str(t.flat_fee)}
            for t in component.tiers
        ],
        "package_size": text(component.package_size),
        "package_price": text(component.package_price),
        "flat_amount": text(component.flat_amount),
        "minimum_charge": text(component.minimum_charge),
    }


def plan_view(row: Mapping[str, Any]) -> PlanView:
    """The stored plan as the pricing engine and plugins see it."""
    components = []
    for index, raw in enumerate(row["components"] or []):
        components.append(parse_component(raw, index))
    return PlanView(
        id=row["id"],
        name=row["name"],
        currency=row["currency"],
        period=row["period"],
        fixed_fee=Decimal(row["fixed_fee"]),
        minimum_charge=Decimal(row["minimum_charge"]),
        trial_days=int(row["trial_days"]),
        components=tuple(components),
    )


def _plan_out(row: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "name": row["name"],
        "currency": row["currency"],
        "period": row["period"],
        "fixed_fee": row["fixed_fee"],
        "minimum_charge": row["minimum_charge"],
        "trial_days": row["trial_days"],
        "components": row["components"],
        "created_at": row["created_at"],
    }


async def _plan_values(
    vendor_id: str,
    *,
    currency: str,
    period: str,
    fixed_fee: object,
    minimum_charge: object,
    trial_days: int,
    components: Sequence[Mapping[str, Any]],
) -> dict[str, Any]:
    """A plan's definition, validated: the columns to store, or a field error."""
    code = get_currency(currency).code
    if period not in PERIODS:
        raise ValidationError(
            f"'{period}' is not a billing period; use one of {', '.join(PERIODS)}.",
            field="period",
        )
    fee = _decimal(fixed_fee, "fixed_fee")
    minimum = _decimal(minimum_charge, "minimum_charge")
    if not 0 <= trial_days <= 3650:
        raise ValidationError("trial_days must be between 0 and 3650.", field="trial_days")
    if len(components) > 50:
        raise ValidationError("A plan has at most 50 components.", field="components")
    parsed = [parse_component(raw, index) for index, raw in enumerate(components)]
    known = {
        row["name"]
        for row in await Meter.select(Meter.name).where(
            (Meter.vendor == vendor_id) & Meter.name.is_in([c.meter for c in parsed] or [""])
        )
    }
    seen: set[str] = set()
    for index, component in enumerate(parsed):
        if component.meter not in known:
            raise ValidationError(
                f"There is no meter '{component.meter}'; create it first.",
                field=f"components[{index}].meter",
                code="unknown_meter",
            )
        if component.meter in seen:
            raise ValidationError(
                f"The meter '{component.meter}' is priced twice in this plan.",
                field=f"components[{index}].meter",
            )
        seen.add(component.meter)
    return {
        "currency": code,
        "period": period,
        "fixed_fee": str(fee),
        "minimum_charge": str(minimum),
        "trial_days": trial_days,
        "components": [_component_json(c) for c in parsed],
    }


async def create_plan(
    vendor_id: str,
    *,
    name: str,
    currency: str,
    period: str,
    fixed_fee: object = "0",
    minimum_charge: object = "0",
    trial_days: int = 0,
    components: Sequence[Mapping[str, Any]] = (),
    clock: Clock,
) -> dict[str, Any]:
    check_name(name)
    values = await _plan_values(
        vendor_id,
        currency=currency,
        period=period,
        fixed_fee=fixed_fee,
        minimum_charge=minimum_charge,
        trial_days=trial_days,
        components=components,
    )
    plan = PricePlan(
        id=new_id("pln"), vendor=vendor_id, name=name, created_at=clock.now(), **values
    )
    await save_named(plan, "price plan", name)
    return _plan_out(plan.to_dict())


async def update_plan(
    vendor_id: str,
    name: str,
    *,
    currency: str,
    period: str,
    fixed_fee: object = "0",
    minimum_charge: object = "0",
    trial_days: int = 0,
    components: Sequence[Mapping[str, Any]] = (),
) -> dict[str, Any]:
    """Replace the definition of a plan no subscription uses yet.

    A plan in use is refused (409 ``plan_in_use``): its subscriptions' cycles are priced
    by it, and changing a price under a cycle being billed would change what the
    customer was told. Create a new plan instead and move the subscriptions to it.
    """
    plan = await get_plan(vendor_id, name, field="name")
    users = await Subscription.count().where(Subscription.plan == plan["id"])
    if users:
        raise ConflictError(
            f"The price plan '{name}' is used by {users} subscription"
            f"{'s' if users != 1 else ''}; a plan in use cannot change. Create a new plan "
            "and move the subscriptions to it.",
            field="name",
            code="plan_in_use",
        )
    values = await _plan_values(
        vendor_id,
        currency=currency,
        period=period,
        fixed_fee=fixed_fee,
        minimum_charge=minimum_charge,
        trial_days=trial_days,
        components=components,
    )
    await PricePlan.update({getattr(PricePlan, k): v for k, v in values.items()}).where(
        PricePlan.id == plan["id"]
    )
    return await get_plan(vendor_id, name, field="name")


async def list_plans(vendor_id: str) -> list[dict[str, Any]]:
    rows = (
        await PricePlan.select()
        .where(PricePlan.vendor == vendor_id)
        .order_by(PricePlan.name)
        .output(load_json=True)
    )
    return [_plan_out(row) for row in rows]


async def get_plan(vendor_id: str, name: str, *, field: str = "price_plan") -> dict[str, Any]:
    row = (
        await PricePlan.select()
        .where((PricePlan.vendor == vendor_id) & (PricePlan.name == name))
        .output(load_json=True)
        .first()
    )
    if row is None:
        raise NotFoundError(f"There is no price plan '{name}'.", field=field)
    return _plan_out(row)
