"""An invoice's lines from its draft: charges first, then adjustments in stage order.

The one mapping from a computed draft to the stored ``invoice_line`` rows, used when
an invoice is finalized and when a draft is shown (so a draft looks exactly like the
invoice it will become).
"""

from __future__ import annotations

from typing import Any

from octane.core.contracts import DraftInvoice

__all__ = ["line_records"]


def line_records(draft: DraftInvoice) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = [
        {
            "section": "charge",
            "kind": line.kind,
            "description": line.description,
            "meter": line.meter,
            "quantity": None if line.quantity is None else str(line.quantity),
            "unit_price": None if line.unit_price is None else str(line.unit_price),
            "amount": line.amount,
            "details": line.details,
            "source": line.source,
            "reference": None,
        }
        for line in draft.charges
    ]
    records += [
        {
            "section": "adjustment",
            "kind": line.stage or line.kind,
            "description": line.description,
            "meter": None,
            "quantity": None,
            "unit_price": None,
            "amount": line.amount,
            "details": {**line.details, "kind": line.kind},
            "source": line.source,
            "reference": line.reference,
        }
        for line in draft.adjustments
    ]
    for position, record in enumerate(records, start=1):
        record["position"] = position
    return records
