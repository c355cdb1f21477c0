"""Invoices: the filtered list, and one invoice with its lines, timeline and actions.

Reads go through :mod:`octane.core.invoices` and actions through the same core
functions as ``/api/v1/invoices`` (finalize now, retry payment, mark paid, void), all
scoped by the session's vendor: another vendor's invoice id is a 404 here too.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Template

from octane.core.collection import collect
from octane.core.errors import OctaneError, StateError, ValidationError
from octane.core.finalization import finalize_invoice
from octane.core.invoice_actions import mark_paid, void_invoice
from octane.core.invoices import STATUSES, get_invoice, get_invoice_row, list_invoices
from octane.web.portal.forms import FormErrors, form_text
from octane.web.portal.render import render
from octane.web.portal.session import Portal, runtime_of

__all__ = ["InvoicePages"]

PAGE_SIZE = 25
_UNPAID = ("finalized", "delivered", "failed", "uncollectible")


def _date(value: str, field: str, *, end: bool = False) -> datetime | None:
    """A ``YYYY-MM-DD`` filter as a UTC time (``end``: the end of that day)."""
    if not value:
        return None
    try:
        day = datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        raise ValidationError(f"'{value}' is not a date (YYYY-MM-DD).", field=field) from None
    return day + timedelta(days=1) if end else day


def _filters(request: Request[Any, Any, Any]) -> dict[str, str]:
    query = request.query_params
    return {name: (query.get(name) or "").strip() for name in ("status", "customer", "from", "to")}


def _actions(invoice: dict[str, Any]) -> dict[str, bool]:
    status = invoice["status"]
    return {
        "finalize": status == "draft",
        "retry": status in ("finalized", "delivered", "failed", "uncollectible")
        and invoice["amount_due"] > invoice["amount_paid"],
        "mark_paid": status in _UNPAID,
        "void": status in _UNPAID,
    }


class InvoicePages(Controller):
    path = "/invoices"

    @get(include_in_schema=False)
    async def index(
        self, request: Request[Any, Any, Any], portal: NamedDependency[Portal]
    ) -> Template:
        filters = _filters(request)
        errors = FormErrors()
        rows: list[dict[str, Any]] = []
        more = False
        try:
            rows, more = await list_invoices(
                portal.vendor_id,
                status=filters["status"] or None,
                customer=filters["customer"] or None,
                period_from=_date(filters["from"], "from"),
                period_to=_date(filters["to"], "to", end=True),
                limit=PAGE_SIZE,
                starting_after=request.query_params.get("after") or None,
            )
        except OctaneError as exc:
            errors.add_error(exc)
        next_query = ""
        if more and rows:
            next_query = urlencode({**filters, "after": rows[-1]["id"]})
        return render(
            request,
            portal,
            "portal/invoices/index.html",
            {
                "section": "invoices",
                "invoices": rows,
                "filters": filters,
                "statuses": STATUSES,
                "errors": errors,
                "next_query": next_query,
                "after": request.query_params.get("after") or "",
            },
            partial="portal/invoices/_results.html",
        )

    @get("/{invoice_id:str}", include_in_schema=False)
    async def show(
        self,
        request: Request[Any, Any, Any],
        portal: NamedDependency[Portal],
        invoice_id: FromPath[str],
    ) -> Template:
        return await self._detail(request, portal, invoice_id)

    async def _detail(
        self,
        request: Request[Any, Any, Any],
        portal: Portal,
        invoice_id: str,
        *,
        notice: str = "",
        errors: FormErrors | None = None,
        values: dict[str, str] | None = None,
        status_code: int = 200,
    ) -> Template:
        plugins = runtime_of(request).plugins
        invoice = await get_invoice(plugins, portal.vendor_id, invoice_id)
        return render(
            request,
            portal,
            "portal/invoices/show.html",
            {
                "section": "invoices",
                "invoice": invoice,
                "actions": _actions(invoice),
                "notice": notice,
                "errors": errors or FormErrors(),
                "values": values or {},
            },
            partial="portal/invoices/_detail.html",
            status_code=status_code,
        )

    async def _act(
        self,
        request: Request[Any, Any, Any],
        portal: Portal,
        invoice_id: str,
        action: Any,
        notice: str,
    ) -> Template:
        await get_invoice_row(portal.vendor_id, invoice_id)  # another vendor's id: 404
        form = await request.form()
        values = {name: form_text(form, name) for name in ("reference", "reason")}
        try:
            await action(values)
        except OctaneError as exc:
            errors = FormErrors()
            errors.add_error(exc, "action")
            if errors.get("id"):
                errors["action"] = errors.pop("id")
            return await self._detail(
                request, portal, invoice_id, errors=errors, values=values, status_code=422
            )
        return await self._detail(request, portal, invoice_id, notice=notice)

    @post("/{invoice_id:str}/finalize", include_in_schema=False, status_code=200)
    async def finalize(
        self,
        request: Request[Any, Any, Any],
        portal: NamedDependency[Portal],
        invoice_id: FromPath[str],
    ) -> Template:
        plugins = runtime_of(request).plugins

        async def run(_: dict[str, str]) -> None:
            row = await get_invoice_row(portal.vendor_id, invoice_id)
            if row["status"] == "void":
                raise StateError(f"The invoice {invoice_id} is void.", field="id")
            await finalize_invoice(
                plugins, portal.vendor_id, invoice_id, clock=portal.clock, early=True
            )

        return await self._act(request, portal, invoice_id, run, "Finalized.")

    @post("/{invoice_id:str}/retry-payment", include_in_schema=False, status_code=200)
    async def retry_payment(
        self,
        request: Request[Any, Any, Any],
        portal: NamedDependency[Portal],
        invoice_id: FromPath[str],
    ) -> Template:
        plugins = runtime_of(request).plugins

        async def run(_: dict[str, str]) -> None:
            attempt = await collect(
                plugins,
                portal.vendor_id,
                invoice_id,
                clock=portal.clock,
                manual=True,
                actor=portal.actor,
            )
            if attempt is None:
                raise StateError(
                    "Another payment of this invoice started at the same time.", field="id"
                )

        return await self._act(request, portal, invoice_id, run, "Payment attempted.")

    @post("/{invoice_id:str}/mark-paid", include_in_schema=False, status_code=200)
    async def mark_paid(
        self,
        request: Request[Any, Any, Any],
        portal: NamedDependency[Portal],
        invoice_id: FromPath[str],
    ) -> Template:
        async def run(values: dict[str, str]) -> None:
            await mark_paid(
                portal.vendor_id,
                invoice_id,
                reference=values["reference"],
                actor=portal.actor,
                clock=portal.clock,
            )

        return await self._act(request, portal, invoice_id, run, "Marked as paid.")

    @post("/{invoice_id:str}/void", include_in_schema=False, status_code=200)
    async def void(
        self,
        request: Request[Any, Any, Any],
        portal: NamedDependency[Portal],
        invoice_id: FromPath[str],
    ) -> Template:
        async def run(values: dict[str, str]) -> None:
            await void_invoice(
                portal.vendor_id,
                invoice_id,
                reason=values["reason"],
                actor=portal.actor,
                clock=portal.clock,
            )

        return await self._act(request, portal, invoice_id, run, "Voided.")
