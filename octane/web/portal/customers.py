"""Customers: a list searched as you type, and one customer's billing at a glance.

The detail shows the subscription and plan, this cycle's live usage and estimated
invoice, the revenue ledger, prepaid credit (granted from here), invoices and the
invoice-setting overrides, all read through the core functions the API uses.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Template

from octane.core.coupons import customer_coupons, redeem_coupon
from octane.core.credit_grants import credit_summary, grant_credit
from octane.core.customers import get_customer, get_customer_row, list_customers
from octane.core.errors import NotFoundError, OctaneError, ValidationError
from octane.core.invoices import list_invoices
from octane.core.ledger import entries_for_customer
from octane.core.subscriptions import get_subscription
from octane.core.usage import cycle_usage
from octane.web.portal.forms import FormErrors, form_text
from octane.web.portal.render import render
from octane.web.portal.session import Portal, runtime_of

__all__ = ["CustomerPages"]

PAGE_SIZE = 25


class CustomerPages(Controller):
    path = "/customers"

    @get(include_in_schema=False)
    async def index(
        self, request: Request[Any, Any, Any], portal: NamedDependency[Portal]
    ) -> Template:
        search = (request.query_params.get("q") or "").strip()[:100]
        after = request.query_params.get("after") or None
        rows, more = await list_customers(
            portal.vendor_id, limit=PAGE_SIZE, starting_after=after, search=search
        )
        next_query = urlencode({"q": search, "after": rows[-1]["name"]}) if more and rows else ""
        return render(
            request,
            portal,
            "portal/customers/index.html",
            {
                "section": "customers",
                "customers": rows,
                "q": search,
                "after": after or "",
                "next_query": next_query,
            },
            partial="portal/customers/_results.html",
        )

    @get("/{name:str}", include_in_schema=False)
    async def show(
        self,
        request: Request[Any, Any, Any],
        portal: NamedDependency[Portal],
        name: FromPath[str],
    ) -> Template:
        return await self._page(request, portal, name)

    async def _page(
        self,
        request: Request[Any, Any, Any],
        portal: Portal,
        name: str,
        *,
        credit_errors: FormErrors | None = None,
        credit_values: dict[str, str] | None = None,
        notice: str = "",
        coupon_errors: FormErrors | None = None,
        coupon_values: dict[str, str] | None = None,
        coupon_notice: str = "",
        status_code: int = 200,
    ) -> Template:
        vendor = portal.vendor_id
        customer = await get_customer(vendor, name)
        subscription = usage = None
        try:
            subscription = await get_subscription(vendor, name, clock=portal.clock)
            usage = await cycle_usage(
                runtime_of(request).plugins, vendor, name, cycle_id=None, clock=portal.clock
            )
        except NotFoundError:
            pass  # no subscription (or no cycle now): the page says so
        entries, totals = await entries_for_customer(vendor, customer["id"], limit=20)
        invoices, more_invoices = await list_invoices(vendor, customer=name, limit=10)
        credits = await credit_summary(vendor, name, clock=portal.clock)
        coupons = await customer_coupons(vendor, customer["id"])
        partial = None
        if credit_values is not None:
            partial = "portal/customers/_credits.html"
        elif coupon_values is not None:
            partial = "portal/customers/_coupons.html"
        return render(
            request,
            portal,
            "portal/customers/show.html",
            {
                "section": "customers",
                "customer": customer,
                "subscription": subscription,
                "usage": usage,
                "ledger": entries,
                "ledger_totals": totals,
                "invoices": invoices,
                "more_invoices": more_invoices,
                "credits": credits,
                "credit_errors": credit_errors or FormErrors(),
                "credit_values": credit_values or {},
                "notice": notice,
                "coupons": coupons,
                "coupon_errors": coupon_errors or FormErrors(),
                "coupon_values": coupon_values or {},
                "coupon_notice": coupon_notice,
                "active_plugins": runtime_of(request).plugins.active,
            },
            partial=partial,
            status_code=status_code,
        )

    @post("/{name:str}/credits", include_in_schema=False, status_code=200)
    async def grant(
        self,
        request: Request[Any, Any, Any],
        portal: NamedDependency[Portal],
        name: FromPath[str],
    ) -> Template:
        customer = await get_customer_row(portal.vendor_id, name)  # another vendor's: 404
        form = await request.form()
        values = {key: form_text(form, key) for key in ("amount", "description", "expires_at")}
        errors = FormErrors()
        try:
            await grant_credit(
                portal.vendor_id,
                name,
                amount=values["amount"],
                currency=customer["currency"],
                expires_at=_expiry(values["expires_at"]),
                description=values["description"],
                clock=portal.clock,
            )
        except OctaneError as exc:
            errors.add_error(exc, "amount")
            return await self._page(
                request,
                portal,
                name,
                credit_errors=errors,
                credit_values=values,
                status_code=422,
            )
        return await self._page(
            request, portal, name, credit_values={}, notice=f"Granted {values['amount']}."
        )

    @post("/{name:str}/coupons", include_in_schema=False, status_code=200)
    async def apply_coupon(
        self,
        request: Request[Any, Any, Any],
        portal: NamedDependency[Portal],
        name: FromPath[str],
    ) -> Template:
        await get_customer_row(portal.vendor_id, name)  # another vendor's: 404
        code = form_text(await request.form(), "code")
        try:
            await redeem_coupon(portal.vendor_id, name, code, clock=portal.clock)
        except OctaneError as exc:
            errors = FormErrors()
            errors.add_error(exc, "code")
            return await self._page(
                request,
                portal,
                name,
                coupon_errors=errors,
                coupon_values={"code": code},
                status_code=422,
            )
        return await self._page(
            request, portal, name, coupon_values={}, coupon_notice=f"Coupon {code} applied."
        )


def _expiry(value: str) -> datetime | None:
    """A ``YYYY-MM-DD`` expiry date: the credit expires at the start of that day, UTC."""
    if not value:
        return None
    try:
        return datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        raise ValidationError(
            f"'{value}' is not a date (YYYY-MM-DD).", field="expires_at"
        ) from None
