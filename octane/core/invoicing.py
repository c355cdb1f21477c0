"""Computing an invoice draft through the plugin hooks.

1. ``compute_charges`` on every active plugin; all lines are combined. Each line
   is checked (a ChargeLine, an integer amount, never negative) and attributed to
   its plugin. The core's own pricing lines come first, then other plugins' lines
   by plugin name, so the order never depends on how plugins were registered.
2. ``apply_adjustments`` once per stage, in the fixed order trial, discount, tax,
   credit. Every plugin called for a stage sees the same draft (charges plus the
   adjustments of earlier stages). A stage whose lines would take the total below
   zero is refused, naming the plugins.

Nothing here writes to the database: the same input gives the same draft, so a
draft can be recomputed as often as corrections arrive.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, TypeVar

import msgspec

from octane.core.contracts import (
    AdjustmentLine,
    AdjustmentStage,
    ChargeLine,
    CustomerView,
    CycleView,
    DraftInvoice,
    PlanView,
    UsageTotal,
    VendorView,
)
from octane.core.errors import PluginError
from octane.core.plugins import ESSENTIAL_PLUGINS, PluginHost

__all__ = ["compute_draft"]

Line = TypeVar("Line", ChargeLine, AdjustmentLine)


def _checked(returned: Any, expected: type[Line], plugin: str, hook: str) -> Iterable[Line]:
    if not isinstance(returned, list | tuple):
        raise PluginError(
            f"Plugin '{plugin}' returned {type(returned).__name__} from {hook}; expected a "
            f"list of {expected.__name__}."
        )
    for line in returned:
        if not isinstance(line, expected):
            raise PluginError(
                f"Plugin '{plugin}' returned {type(line).__name__} in {hook}; expected "
                f"{expected.__name__}."
            )
        if isinstance(line.amount, bool) or not isinstance(line.amount, int):
            raise PluginError(
                f"Plugin '{plugin}' returned a {hook} line with amount {line.amount!r}; "
                "amounts are integers in the currency's minor unit."
            )
        if expected is ChargeLine and line.amount < 0:
            raise PluginError(
                f"Plugin '{plugin}' returned a negative charge ({line.description!r}); "
                "reductions belong in apply_adjustments."
            )
        yield msgspec.structs.replace(line, source=plugin)


async def compute_draft(
    plugins: PluginHost,
    *,
    vendor: VendorView,
    customer: CustomerView,
    plan: PlanView,
    cycle: CycleView,
    usage: Sequence[UsageTotal],
) -> DraftInvoice:
    """The draft invoice of one cycle: combined charges, then the adjustment chain."""
    results = await plugins.call_each(
        "compute_charges", vendor=vendor, customer=customer, plan=plan, cycle=cycle, usage=usage
    )
    results.sort(key=lambda item: (item[0] not in ESSENTIAL_PLUGINS, item[0]))
    charges = [
        line
        for plugin, returned in results
        for line in _checked(returned, ChargeLine, plugin, "compute_charges")
    ]
    draft = DraftInvoice(
        vendor=vendor,
        customer=customer,
        cycle=cycle,
        currency=plan.currency,
        charges=tuple(charges),
    )
    for stage in AdjustmentStage:
        returned_by = await plugins.call_each(
            "apply_adjustments", stage=stage, draft=draft, vendor=vendor, customer=customer
        )
        added = [
            msgspec.structs.replace(line, stage=stage.value)
            for plugin, returned in returned_by
            for line in _checked(returned, AdjustmentLine, plugin, "apply_adjustments")
        ]
        if not added:  # the common case: nothing changes, nothing to check
            continue
        after = msgspec.structs.replace(draft, adjustments=(*draft.adjustments, *added))
        if after.total < 0:
            names = ", ".join(sorted({line.source for line in added}))
            raise PluginError(
                f"The {stage.value} adjustments of {names} would take the invoice total "
                f"below zero ({after.total}); an adjustment may reduce it to zero at most."
            )
        draft = after
    return draft
