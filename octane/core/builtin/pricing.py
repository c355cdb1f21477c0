"""The default pricing, shipped as an ordinary (essential) plugin.

It turns a cycle's usage into charge lines with the pure pricing engine
(:mod:`octane.core.pricing`): one line per metered component, the fixed fee
(prorated for a partial cycle), and minimum true-ups. Other plugins may add
lines of their own (seats, support fees...); the core combines them.
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction

from octane import hookimpl
from octane.core.contracts import ChargeLine, CycleView, PlanView, UsageTotal
from octane.core.money import get_currency
from octane.core.pricing import PricedLine, price_plan

__all__ = ["compute_charges", "priced_to_charge"]


def priced_to_charge(line: PricedLine) -> ChargeLine:
    details: dict[str, object] = {}
    if line.tiers:
        details["tiers"] = [
            {
                "up_to": None if t.up_to is None else str(t.up_to),
                "quantity": str(t.quantity),
                "unit_price": str(t.unit_price),
                "flat_fee": str(t.flat_fee),
                "amount": str(t.amount),
            }
            for t in line.tiers
        ]
    return ChargeLine(
        kind=line.kind,
        description=line.description,
        amount=line.amount,
        quantity=line.quantity,
        unit_price=line.unit_price,
        meter=line.meter,
        details=details,
    )


@hookimpl
def compute_charges(
    plan: PlanView, cycle: CycleView, usage: Sequence[UsageTotal]
) -> list[ChargeLine]:
    quantities = {u.meter: u.quantity for u in usage}
    units = {u.meter: u.unit for u in usage}
    share = Fraction(cycle.fixed_fee_share) if cycle.fixed_fee_share is not None else Fraction(1)
    priced = price_plan(
        plan, quantities, get_currency(plan.currency), fixed_fee_share=share, units=units
    )
    return [priced_to_charge(line) for line in priced.lines]
