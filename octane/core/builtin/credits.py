"""Prepaid credits, applied last (the ``credit`` stage): drawn against the total
including tax, soonest-expiring grant first, never below zero."""

from __future__ import annotations

from collections.abc import Awaitable

from octane import hookimpl
from octane.core.contracts import AdjustmentLine, AdjustmentStage, DraftInvoice
from octane.core.credit_grants import grants_with_remaining
from octane.core.credits import draw_credits

__all__ = ["apply_adjustments"]


@hookimpl
def apply_adjustments(
    stage: AdjustmentStage, draft: DraftInvoice
) -> Awaitable[list[AdjustmentLine] | None] | None:
    # Synchronous for the other stages: no coroutine for the common case of a billing run.
    if stage is not AdjustmentStage.CREDIT or draft.total <= 0:
        return None
    return _credit_lines(draft)


async def _credit_lines(draft: DraftInvoice) -> list[AdjustmentLine] | None:
    states = {
        s.grant.id: s
        for s in await grants_with_remaining(
            draft.vendor.id, draft.customer.id, currency=draft.currency
        )
    }
    # A credit counts if it has not expired at the end of the billed period.
    drawn = draw_credits([s.grant for s in states.values()], draft.total, at=draft.cycle.period_end)
    return [
        AdjustmentLine(
            kind="credit",
            description=states[grant.id].description or "Prepaid credit",
            amount=-amount,
            reference=grant.id,
            details={"remaining_after": grant.remaining - amount},
        )
        for grant, amount in drawn
    ]
