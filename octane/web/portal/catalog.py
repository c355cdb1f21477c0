"""Meters and price plans: the lists, and creating a meter with inline validation.

Meters are created through :func:`~octane.core.catalog.create_meter`, the function
behind ``POST /api/v1/meters``. Price plans are listed here; they are created through
``POST /api/v1/price-plans`` for now.
"""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.response import Template

from octane.core.catalog import AGGREGATIONS, create_meter, list_meters, list_plans
from octane.core.errors import OctaneError
from octane.web.portal.forms import FormErrors, form_text
from octane.web.portal.render import render
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
        status_code: int = 200,
    ) -> Template:
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
            },
            partial="portal/_meters.html",
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
