"""Meters, price plans and coupons: the lists, and creating each with inline validation.

Meters and plans are created through :func:`~octane.core.catalog.create_meter` and
:func:`~octane.core.catalog.create_plan`, the functions behind ``POST /api/v1/meters``
and ``POST /api/v1/price-plans``. The portal's plan form prices at most one meter;
plans with several metered components are created through the API.
"""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Template

from octane.core.catalog import (
    AGGREGATIONS,
    create_meter,
    create_plan,
    get_plan,
    list_meters,
    list_plans,
    update_plan,
)
from octane.core.coupons import DURATIONS, create_coupon, list_coupons
from octane.core.cycles import PERIODS
from octane.core.errors import OctaneError, ValidationError
from octane.core.pricing import MODELS
from octane.core.store.tables import Subscription
from octane.web.portal.forms import FormErrors, form_text
from octane.web.portal.plan_form import PLAN_FIELDS, field_for, plan_fields, plan_values
from octane.web.portal.render import is_htmx, render
from octane.web.portal.session import Portal

__all__ = ["CatalogPages"]


class CatalogPages(Controller):
    path = "/catalog"

    async def _page(
        self,
        request: Request[Any, Any, Any],
        portal: Portal,
        *,
        errors: FormErrors | None = None,
        values: dict[str, str] | None = None,
        created: str = "",
        plan_errors: FormErrors | None = None,
        plan_values: dict[str, str] | None = None,
        plan_created: str = "",
        coupon_errors: FormErrors | None = None,
        coupon_values: dict[str, str] | None = None,
        coupon_created: str = "",
        status_code: int = 200,
    ) -> Template:
        partial = "portal/_meters.html"
        if plan_values is not None:
            partial = "portal/_plans.html"
        if coupon_values is not None:
            partial = "portal/_coupons.html"
        return render(
            request,
            portal,
            "portal/catalog.html",
            {
                "section": "catalog",
                "meters": await list_meters(portal.vendor_id),
                "plans": await list_plans(portal.vendor_id),
                "aggregations": AGGREGATIONS,
                "errors": errors or FormErrors(),
                "values": values or {},
                "created": created,
                "periods": PERIODS,
                "models": MODELS,
                "plan_errors": plan_errors or FormErrors(),
                "plan_values": plan_values if plan_values is not None else {"currency": "USD"},
                "plan_created": plan_created,
                "coupons": await list_coupons(portal.vendor_id),
                "durations": DURATIONS,
                "coupon_errors": coupon_errors or FormErrors(),
                "coupon_values": coupon_values or {},
                "coupon_created": coupon_created,
                # A new meter also refreshes the plan form's meter list (out of band).
                "plans_oob": bool(created) and is_htmx(request),
            },
            partial=partial,
            status_code=status_code,
        )

    @get(include_in_schema=False)
    async def index(
        self, request: Request[Any, Any, Any], portal: NamedDependency[Portal]
    ) -> Template:
        return await self._page(request, portal)

    @post("/meters", include_in_schema=False, status_code=200)
    async def add_meter(
        self, request: Request[Any, Any, Any], portal: NamedDependency[Portal]
    ) -> Template:
        form = await request.form()
        values = {k: form_text(form, k) for k in ("name", "aggregation", "unit", "unique_label")}
        try:
            await create_meter(
                portal.vendor_id,
                name=values["name"],
                aggregation=values["aggregation"],
                unit=values["unit"],
                unique_label=values["unique_label"] or None,
                clock=portal.clock,
            )
        except OctaneError as exc:
            errors = FormErrors()
            errors.add_error(exc, "name")
            return await self._page(request, portal, errors=errors, values=values, status_code=422)
        return await self._page(request, portal, created=values["name"])

    @post("/plans", include_in_schema=False, status_code=200)
    async def add_plan(
        self, request: Request[Any, Any, Any], portal: NamedDependency[Portal]
    ) -> Template:
        form = await request.form()
        values = {key: form_text(form, key) for key in PLAN_FIELDS}
        values["tiers"] = str(form.get("tiers") or "").strip()
        try:
            await create_plan(portal.vendor_id, clock=portal.clock, **plan_fields(values))
        except OctaneError as exc:
            errors = FormErrors()
            errors.add(*field_for(exc))
            return await self._page(
                request, portal, plan_errors=errors, plan_values=values, status_code=422
            )
        return await self._page(
            request,
            portal,
            plan_values={"currency": values["currency"]},
            plan_created=values["name"],
        )

    @post("/coupons", include_in_schema=False, status_code=200)
    async def add_coupon(
        self, request: Request[Any, Any, Any], portal: NamedDependency[Portal]
    ) -> Template:
        form = await request.form()
        fields = ("code", "kind", "value", "currency", "duration", "duration_cycles")
        values = {key: form_text(form, key) for key in fields}
        errors = FormErrors()
        try:
            cycles = values["duration_cycles"]
            if cycles and not cycles.isdigit():
                raise ValidationError(
                    "Cycles is a whole number of billing cycles.", field="duration_cycles"
                )
            percent = values["kind"] != "amount"
            await create_coupon(
                portal.vendor_id,
                code=values["code"],
                percent_off=values["value"] if percent else None,
                amount_off=None if percent else values["value"],
                currency=None if percent else values["currency"] or None,
                duration=values["duration"] or "once",
                duration_cycles=int(cycles) if cycles else None,
                clock=portal.clock,
            )
        except OctaneError as exc:
            errors.add_error(exc, "code")
            for api_name in ("percent_off", "amount_off"):
                if api_name in errors:
                    errors["value"] = errors.pop(api_name)
            return await self._page(
                request, portal, coupon_errors=errors, coupon_values=values, status_code=422
            )
        return await self._page(request, portal, coupon_values={}, coupon_created=values["code"])

    async def _edit_page(
        self,
        request: Request[Any, Any, Any],
        portal: Portal,
        values: dict[str, str],
        *,
        errors: FormErrors | None = None,
        saved: bool = False,
        status_code: int = 200,
    ) -> Template:
        plan = await get_plan(portal.vendor_id, values["name"], field="name")
        users = await Subscription.count().where(Subscription.plan == plan["id"])
        in_use = (
            f"{users} subscription{'s' if users != 1 else ''} use this plan: it can no longer "
            "change. Create a new plan and move the subscriptions to it."
            if users
            else ""
        )
        return render(
            request,
            portal,
            "portal/plan_edit.html",
            {
                "section": "catalog",
                "meters": await list_meters(portal.vendor_id),
                "periods": PERIODS,
                "models": MODELS,
                "plan_values": values,
                "plan_errors": errors or FormErrors(),
                "plan_saved": saved,
                "in_use": in_use,
            },
            partial="portal/_plan_edit.html",
            status_code=status_code,
        )

    @get("/plans/{name:str}", include_in_schema=False)
    async def edit_plan(
        self, request: Request[Any, Any, Any], portal: NamedDependency[Portal], name: FromPath[str]
    ) -> Template:
        plan = await get_plan(portal.vendor_id, name, field="name")  # another vendor's: 404
        return await self._edit_page(request, portal, plan_values(plan))

    @post("/plans/{name:str}", include_in_schema=False, status_code=200)
    async def save_plan(
        self, request: Request[Any, Any, Any], portal: NamedDependency[Portal], name: FromPath[str]
    ) -> Template:
        await get_plan(portal.vendor_id, name, field="name")
        form = await request.form()
        values = {key: form_text(form, key) for key in PLAN_FIELDS}
        values["tiers"] = str(form.get("tiers") or "").strip()
        values["name"] = name
        try:
            fields = plan_fields(values)
            fields.pop("name")
            await update_plan(portal.vendor_id, name, **fields)
        except OctaneError as exc:
            errors = FormErrors()
            if exc.code == "plan_in_use":
                errors.add("form", exc.message)
            else:
                errors.add(*field_for(exc))
            return await self._edit_page(
                request,
                portal,
                values,
                errors=errors,
                status_code=422 if exc.code != "plan_in_use" else 409,
            )
        return await self._edit_page(request, portal, values, saved=True)
