"""Grace-period review: verify a cycle's usage, correct it, and finalize when satisfied.

During the invoice grace period the draft invoice is recomputed from the usage on
every read, so each correction (stored by
:func:`~octane.core.metering.correct_measurement`, as ``POST
/api/v1/measurements/{id}/correct`` does) shows its effect on the draft at once.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Redirect, Template

from octane.core.clock import as_utc
from octane.core.dashboard import drafts_in_grace
from octane.core.errors import OctaneError, StateError
from octane.core.finalization import finalize_invoice
from octane.core.invoices import get_invoice, get_invoice_row
from octane.core.measurement_views import effective_measurements
from octane.core.metering import correct_measurement
from octane.web.portal.forms import FormErrors, form_text
from octane.web.portal.render import is_htmx, render
from octane.web.portal.session import Portal, runtime_of

__all__ = ["ReviewPages"]


class ReviewPages(Controller):
    path = "/review"

    @get(include_in_schema=False)
    async def index(
        self, request: Request[Any, Any, Any], portal: NamedDependency[Portal]
    ) -> Template:
        drafts = await drafts_in_grace(portal.vendor_id, portal.clock.now(), limit=200)
        return render(
            request, portal, "portal/review/index.html", {"section": "review", "drafts": drafts}
        )

    @get("/{invoice_id:str}", include_in_schema=False)
    async def show(
        self,
        request: Request[Any, Any, Any],
        portal: NamedDependency[Portal],
        invoice_id: FromPath[str],
    ) -> Template:
        return await self._page(request, portal, invoice_id)

    async def _page(
        self,
        request: Request[Any, Any, Any],
        portal: Portal,
        invoice_id: str,
        *,
        errors: FormErrors | None = None,
        failed_key: str = "",
        values: dict[str, str] | None = None,
        notice: str = "",
        status_code: int = 200,
    ) -> Template:
        invoice = await get_invoice(runtime_of(request).plugins, portal.vendor_id, invoice_id)
        row = await get_invoice_row(portal.vendor_id, invoice_id)
        measurements, more = await effective_measurements(
            portal.vendor_id,
            row["customer"],
            as_utc(row["period_start"]),
            as_utc(row["period_end"]),
        )
        grace_ends = invoice["cycle"]["grace_ends_at"]
        time_left = None
        if grace_ends is not None:
            time_left = max(as_utc(grace_ends) - portal.clock.now(), timedelta(0))
        return render(
            request,
            portal,
            "portal/review/show.html",
            {
                "section": "review",
                "invoice": invoice,
                "usage_lines": [line for line in invoice["lines"] if line["meter"]],
                "measurements": measurements,
                "more_measurements": more,
                "errors": errors or FormErrors(),
                "failed_key": failed_key,
                "values": values or {},
                "notice": notice,
                "grace_ends_at": grace_ends,
                "time_left": time_left,
            },
            partial="portal/review/_panel.html",
            status_code=status_code,
        )

    @post("/{invoice_id:str}/correct", include_in_schema=False, status_code=200)
    async def correct(
        self,
        request: Request[Any, Any, Any],
        portal: NamedDependency[Portal],
        invoice_id: FromPath[str],
    ) -> Template:
        row = await get_invoice_row(portal.vendor_id, invoice_id)  # another vendor's: 404
        form = await request.form()
        values = {name: form_text(form, name) for name in ("key", "value", "reason", "action")}
        errors = FormErrors()
        try:
            if row["status"] != "draft":
                raise StateError(
                    "This invoice is finalized: its usage can no longer be corrected.",
                    field="value",
                )
            void = values["action"] == "void"
            await correct_measurement(
                portal.vendor_id,
                values["key"],
                value=None if void else values["value"],
                void=void,
                reason=values["reason"],
                actor=portal.actor,
                clock=portal.clock,
            )
        except OctaneError as exc:
            errors.add_error(exc, "value")
            return await self._page(
                request,
                portal,
                invoice_id,
                errors=errors,
                failed_key=values["key"],
                values=values,
                status_code=422,
            )
        what = "voided" if values["action"] == "void" else f"set to {values['value']}"
        return await self._page(
            request, portal, invoice_id, notice=f"Measurement {values['key']} {what}."
        )

    @post("/{invoice_id:str}/finalize", include_in_schema=False, status_code=303)
    async def finalize(
        self,
        request: Request[Any, Any, Any],
        portal: NamedDependency[Portal],
        invoice_id: FromPath[str],
    ) -> Response[Any]:
        row = await get_invoice_row(portal.vendor_id, invoice_id)
        if row["status"] == "void":
            raise StateError(f"The invoice {invoice_id} is void.", field="id")
        await finalize_invoice(
            runtime_of(request).plugins,
            portal.vendor_id,
            invoice_id,
            clock=portal.clock,
            early=True,
        )
        target = f"/portal/invoices/{invoice_id}"
        if is_htmx(request):
            return Response(content="", status_code=200, headers={"HX-Redirect": target})
        return Redirect(target, status_code=303)
