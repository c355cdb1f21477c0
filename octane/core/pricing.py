"""Pricing: pure functions from usage to invoice lines. No I/O, no floats.

Models for one metered component, applied to the billable quantity (the cycle's
aggregate minus ``included_units``, never below zero):

* ``flat``: ``flat_amount`` whatever the usage.
* ``per_unit``: ``billable * unit_price``.
* ``graduated``: each unit priced in its own tier; a tier covers
  ``(previous up_to, up_to]``, so a quantity exactly at ``up_to`` is in that
  tier; a tier's ``flat_fee`` is added once some quantity falls into it (zero
  usage reaches no tier and costs nothing).
* ``volume``: every unit at the price of the tier the total reaches, plus that
  tier's ``flat_fee``; zero usage costs nothing.
* ``package``: ``ceil(billable / package_size) * package_price``.

Every line's exact Decimal amount is rounded **once**, half-up, to the currency's
minor unit; totals are sums of rounded lines. Minimums are true-up lines: a
component's ``minimum_charge`` tops up that component, and the plan's
``minimum_charge`` tops up the whole invoice before adjustments.
"""

from __future__ import annotations

import decimal
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction

from octane.core.contracts import ComponentView, PlanView, Tier
from octane.core.errors import ValidationError
from octane.core.money import Currency, round_to_minor

__all__ = [
    "MODELS",
    "PricedLine",
    "PricedPlan",
    "TierUse",
    "component_amount",
    "price_plan",
    "validate_component",
]

MODELS = ("flat", "per_unit", "graduated", "volume", "package")
_EXACT = decimal.Context(prec=60, rounding=decimal.ROUND_HALF_UP)


@dataclass(frozen=True)
class TierUse:
    """How much of one tier a graduated or volume price used."""

    up_to: Decimal | None
    quantity: Decimal
    unit_price: Decimal
    flat_fee: Decimal
    amount: Decimal


@dataclass(frozen=True)
class PricedLine:
    kind: str
    """``usage``, ``fixed_fee``, ``minimum`` (a component's) or ``plan_minimum``."""
    description: str
    amount: int
    amount_exact: Decimal
    meter: str | None = None
    quantity: Decimal | None = None
    unit_price: Decimal | None = None
    tiers: tuple[TierUse, ...] = ()


@dataclass(frozen=True)
class PricedPlan:
    currency: Currency
    lines: tuple[PricedLine, ...] = field(default_factory=tuple)

    @property
    def total(self) -> int:
        return sum(line.amount for line in self.lines)


def _billable(component: ComponentView, quantity: Decimal) -> Decimal:
    return max(quantity - component.included_units, Decimal(0))


def _graduated(tiers: tuple[Tier, ...], quantity: Decimal) -> tuple[Decimal, list[TierUse]]:
    total, used, lower = Decimal(0), [], Decimal(0)
    for tier in tiers:
        if quantity <= lower:
            break
        upper = quantity if tier.up_to is None else min(quantity, tier.up_to)
        in_tier = _EXACT.subtract(upper, lower)
        amount = _EXACT.add(_EXACT.multiply(in_tier, tier.unit_price), tier.flat_fee)
        used.append(TierUse(tier.up_to, in_tier, tier.unit_price, tier.flat_fee, amount))
        total = _EXACT.add(total, amount)
        if tier.up_to is None:
            break
        lower = tier.up_to
    return total, used


def _volume(tiers: tuple[Tier, ...], quantity: Decimal) -> tuple[Decimal, list[TierUse]]:
    if quantity <= 0:
        return Decimal(0), []
    for tier in tiers:
        if tier.up_to is None or quantity <= tier.up_to:
            amount = _EXACT.add(_EXACT.multiply(quantity, tier.unit_price), tier.flat_fee)
            return amount, [TierUse(tier.up_to, quantity, tier.unit_price, tier.flat_fee, amount)]
    raise ValueError("volume tiers must end with an unbounded tier")  # validated earlier


def component_amount(
    component: ComponentView, quantity: Decimal
) -> tuple[Decimal, tuple[TierUse, ...]]:
    """The exact (unrounded) amount of one component for ``quantity``, with tier detail."""
    billable = _billable(component, quantity)
    model = component.model
    if model == "flat":
        return component.flat_amount or Decimal(0), ()
    if model == "per_unit":
        return _EXACT.multiply(billable, component.unit_price), ()
    if model == "graduated":
        amount, used = _graduated(component.tiers, billable)
        return amount, tuple(used)
    if model == "volume":
        amount, used = _volume(component.tiers, billable)
        return amount, tuple(used)
    if model == "package":
        size = component.package_size or Decimal(1)
        packages = _EXACT.divide(billable, size).to_integral_value(rounding=decimal.ROUND_CEILING)
        return _EXACT.multiply(packages, component.package_price or Decimal(0)), ()
    raise ValidationError(f"Unknown pricing model '{model}'.", field="model")


def _describe(component: ComponentView, quantity: Decimal, unit: str) -> str:
    amount = f"{quantity.normalize():f}" if quantity else "0"
    return f"{component.meter}: {amount} {unit}".rstrip()


def price_plan(
    plan: PlanView,
    usage: Mapping[str, Decimal],
    currency: Currency,
    *,
    fixed_fee_share: Fraction | Decimal = Fraction(1),
    units: Mapping[str, str] | None = None,
) -> PricedPlan:
    """Price a cycle: usage lines, fixed fee (times ``fixed_fee_share`` for a partial
    cycle), component minimums and the plan minimum, each rounded once."""
    lines: list[PricedLine] = []
    for component in plan.components:
        quantity = usage.get(component.meter, Decimal(0))
        exact, tiers = component_amount(component, quantity)
        unit_price = component.unit_price if component.model == "per_unit" else None
        description = _describe(component, quantity, (units or {}).get(component.meter, ""))
        line = PricedLine(
            kind="usage",
            description=description,
            amount=round_to_minor(exact, currency),
            amount_exact=exact,
            meter=component.meter,
            quantity=quantity,
            unit_price=unit_price,
            tiers=tiers,
        )
        lines.append(line)
        minimum = component.minimum_charge
        if minimum is not None and minimum > 0:
            floor = round_to_minor(minimum, currency)
            if line.amount < floor:
                lines.append(
                    PricedLine(
                        kind="minimum",
                        description=f"{component.meter}: minimum charge",
                        amount=floor - line.amount,
                        amount_exact=_EXACT.subtract(minimum, exact),
                        meter=component.meter,
                    )
                )
    if plan.fixed_fee > 0:
        share = Fraction(fixed_fee_share)
        exact_fee = _EXACT.divide(
            _EXACT.multiply(plan.fixed_fee, Decimal(share.numerator)), Decimal(share.denominator)
        )
        label = "Fixed fee" if share == 1 else "Fixed fee (prorated)"
        amount = round_to_minor(exact_fee, currency)
        if amount:
            lines.append(
                PricedLine(
                    kind="fixed_fee", description=label, amount=amount, amount_exact=exact_fee
                )
            )
    if plan.minimum_charge > 0:
        floor = round_to_minor(plan.minimum_charge, currency)
        subtotal = sum(line.amount for line in lines)
        if subtotal < floor:
            lines.append(
                PricedLine(
                    kind="plan_minimum",
                    description="Minimum charge true-up",
                    amount=floor - subtotal,
                    amount_exact=Decimal(floor - subtotal).scaleb(-currency.exponent),
                )
            )
    return PricedPlan(currency=currency, lines=tuple(lines))


def _error(message: str, field: str) -> ValidationError:
    return ValidationError(message, field=field, code="invalid_price")


def validate_component(component: ComponentView, *, field_prefix: str = "") -> None:
    """Refuse a component that cannot be priced, naming the offending field."""
    p = f"{field_prefix}." if field_prefix else ""
    if component.model not in MODELS:
        raise _error(
            f"'{component.model}' is not a pricing model; use one of {', '.join(MODELS)}.",
            f"{p}model",
        )
    for name in ("unit_price", "included_units", "package_price", "flat_amount", "minimum_charge"):
        value = getattr(component, name)
        if value is not None and value < 0:
            raise _error(f"{name} must not be negative.", f"{p}{name}")
    if component.model == "flat" and component.flat_amount is None:
        raise _error("A flat component needs flat_amount.", f"{p}flat_amount")
    if component.model == "package":
        if component.package_size is None or component.package_size <= 0:
            raise _error("package_size must be greater than zero.", f"{p}package_size")
        if component.package_price is None:
            raise _error("A package component needs package_price.", f"{p}package_price")
    if component.model in ("graduated", "volume"):
        if not component.tiers:
            raise _error(f"A {component.model} component needs tiers.", f"{p}tiers")
        previous = Decimal(0)
        for index, tier in enumerate(component.tiers):
            here = f"{p}tiers[{index}]"
            last = index == len(component.tiers) - 1
            if tier.up_to is None and not last:
                raise _error("Only the last tier may have up_to null.", f"{here}.up_to")
            if tier.up_to is not None and last:
                raise _error(
                    "The last tier must have up_to null (no upper bound).", f"{here}.up_to"
                )
            if tier.up_to is not None and tier.up_to <= previous:
                raise _error("Tiers must have strictly increasing up_to values.", f"{here}.up_to")
            if tier.unit_price < 0 or tier.flat_fee < 0:
                raise _error("Tier prices must not be negative.", f"{here}.unit_price")
            previous = tier.up_to if tier.up_to is not None else previous
