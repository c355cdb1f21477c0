"""Finalizing one invoice (its grace period over, or "finalize now"), and its lines.

``finalize_invoice``: DRAFT -> FINALIZED (and the cycle GRACE -> INVOICED) in one
transaction, through the same code as a billing run's batches
(:mod:`octane.core.billing_run`): the guarded update of the cycle comes first, so on
PostgreSQL the cycle row is locked before usage is read, and ingestion (which reads
the cycle's state in its own write) cannot slip a measurement in between. Then the
draft is computed through the hooks, a gapless number is taken, and the invoice, its
lines and its ledger entries are written. A second call, a retried job or a racing
"finalize now" finds the cycle no longer in grace and returns the stored invoice:
nothing is ever finalized twice.
"""

from __future__ import annotations

from typing import Any

from octane.core.billing_run import finalize_many
from octane.core.clock import Clock
from octane.core.errors import StateError
from octane.core.invoices import get_invoice_row
from octane.core.plugins import PluginHost
from octane.core.store.tables import BillingCycle

__all__ = ["finalize_invoice"]


async def finalize_invoice(
    plugins: PluginHost,
    vendor_id: str,
    invoice_id: str,
    *,
    clock: Clock,
    early: bool = False,
) -> dict[str, Any]:
    """Finalize a draft invoice (``early``: before its grace period ends, "finalize now").

    Returns the invoice row; an invoice finalized already is returned unchanged.
    """
    invoice = await get_invoice_row(vendor_id, invoice_id)
    if invoice["status"] != "draft":
        return invoice
    cycle = await BillingCycle.select().where(BillingCycle.id == invoice["cycle"]).first()
    assert cycle is not None  # a foreign key
    now = clock.now()
    if not early and cycle["grace_ends_at"] is not None and cycle["grace_ends_at"] > now:
        raise StateError(
            f"The invoice grace period of {invoice_id} ends at "
            f"{cycle['grace_ends_at'].isoformat()}; use finalize now to finalize it earlier.",
            field="invoice",
            code="grace_period_running",
        )
    await finalize_many(plugins, vendor_id, [invoice_id], clock=clock, skip_locked=False)
    return await get_invoice_row(vendor_id, invoice_id)
