"""Reading the "new price plan" form: a plan with at most one metered component.

Tiers are typed one per line, ``<up to> <unit price> [<flat fee>]``, the last line with
``*`` (or nothing) as its bound: ``100 0.20`` / ``1000 0.15`` / ``* 0.10``. Only the
shape is read here; :func:`~octane.core.catalog.create_plan` judges every value and
names the field, which :func:`field_for` maps back to this form's inputs.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from octane.core.errors import OctaneError, ValidationError

__all__ = ["PLAN_FIELDS", "field_for", "plan_fields", "plan_values"]

PLAN_FIELDS = (
    "name",
    "currency",
    "period",
    "fixed_fee",
    "minimum_charge",
    "trial_days",
    "meter",
    "model",
    "unit_price",
    "included_units",
    "tiers",
    "package_size",
    "package_price",
    "flat_amount",
)
_TIER = re.compile(r"[,\s]+")


def _tiers(text: str) -> list[dict[str, Any]]:
    tiers = []
    for number, line in enumerate(text.splitlines(), start=1):
        parts = [part for part in _TIER.split(line.strip()) if part]
        if not parts:
            continue
        if len(parts) not in (2, 3):
            raise ValidationError(
                f"Tier {number}: write '<up to> <unit price> [<flat fee>]', e.g. '100 0.20' "
                "(the last tier '* 0.10').",
                field="tiers",
            )
        tier: dict[str, Any] = {
            "up_to": None if parts[0] in ("*", "-", "inf") else parts[0],
            "unit_price": parts[1],
        }
        if len(parts) == 3:
            tier["flat_fee"] = parts[2]
        tiers.append(tier)
    return tiers


def plan_fields(values: Mapping[str, str]) -> dict[str, Any]:
    """The keyword arguments of ``create_plan`` from the form's text values."""
    trial = values.get("trial_days") or "0"
    if not trial.isdigit():
        raise ValidationError(
            f"Trial days must be a whole number of days, 0 or more; '{trial}' is not.",
            field="trial_days",
        )
    fields: dict[str, Any] = {
        "name": values.get("name", ""),
        "currency": values.get("currency", "").upper(),
        "period": values.get("period", ""),
        "fixed_fee": values.get("fixed_fee") or "0",
        "minimum_charge": values.get("minimum_charge") or "0",
        "trial_days": int(trial),
        "components": [],
    }
    if values.get("meter"):
        component: dict[str, Any] = {"meter": values["meter"], "model": values.get("model", "")}
        for key in (
            "unit_price",
            "included_units",
            "package_size",
            "package_price",
            "flat_amount",
        ):
            if values.get(key):
                component[key] = values[key]
        if values.get("tiers"):
            component["tiers"] = _tiers(values["tiers"])
        fields["components"] = [component]
    return fields


def field_for(error: OctaneError) -> tuple[str, str]:
    """``(form field, message)`` for an error of ``create_plan``."""
    field = error.field or "name"
    tier = re.match(r"components\[0\]\.tiers\[(\d+)\]", field)
    if tier:
        return "tiers", f"Tier {int(tier[1]) + 1}: {error.message}"
    field = field.removeprefix("components[0].")
    return (field if field in PLAN_FIELDS else "name"), error.message


def plan_values(plan: Mapping[str, Any]) -> dict[str, str]:
    """The form's text values for a stored plan with at most one metered component."""
    values = {
        "name": str(plan["name"]),
        "currency": str(plan["currency"]),
        "period": str(plan["period"]),
        "fixed_fee": str(plan["fixed_fee"]),
        "minimum_charge": str(plan["minimum_charge"]),
        "trial_days": str(plan["trial_days"]),
    }
    for component in plan["components"][:1]:
        values["meter"] = str(component["meter"])
        values["model"] = str(component["model"])
        for key in ("unit_price", "included_units", "package_size", "package_price", "flat_amount"):
            if component.get(key) not in (None, "", "0") or key == "unit_price":
                values[key] = "" if component.get(key) is None else str(component[key])
        values["tiers"] = "\n".join(
            " ".join(
                [
                    "*" if tier.get("up_to") is None else str(tier["up_to"]),
                    str(tier.get("unit_price", "0")),
                    *([str(tier["flat_fee"])] if tier.get("flat_fee") not in (None, "0") else []),
                ]
            )
            for tier in component.get("tiers") or []
        )
    return values
