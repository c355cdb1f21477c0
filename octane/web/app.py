"""The Litestar application: the JSON API, the portal, and the routes plugins contribute."""

from __future__ import annotations

from os import PathLike
from pathlib import Path
from typing import Any

from litestar import Litestar, MediaType, Request, get
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.response import Redirect
from litestar.template import TemplateConfig

import octane
from octane.core.runtime import Octane
from octane.web.api.catalog import MeterController, PlanController
from octane.web.api.clock import ClockController
from octane.web.api.coupons import CouponController, RedemptionController
from octane.web.api.customers import CustomerController
from octane.web.api.invoices import InvoiceController
from octane.web.api.measurements import MeasurementController
from octane.web.api.settings import SettingsController
from octane.web.api.vendor import VendorController
from octane.web.auth import api_vendor_clock, api_vendor_id
from octane.web.errors import EXCEPTION_HANDLERS
from octane.web.portal import configure_templates, portal_routes, split_plugin_routes
from octane.web.templates import template_dirs

__all__ = ["create_app"]

MAX_BODY_BYTES = 20 * 1024 * 1024


@get("/healthz", media_type=MediaType.JSON, summary="Liveness and database check", tags=["ops"])
async def healthz(request: Request[Any, Any, Any]) -> dict[str, str]:
    runtime: Octane = request.app.state.octane
    await runtime.engine.run_ddl("SELECT 1")
    return {"status": "ok", "version": octane.__version__}


@get("/", include_in_schema=False)
async def root() -> Redirect:
    return Redirect("/portal/")


def create_app(runtime: Octane, *, debug: bool = False) -> Litestar:
    """Build the web app around an already started Octane runtime."""
    plugin_pages, plugin_routes = split_plugin_routes(
        [route for _, route in runtime.plugins.call_registration("register_routes")]
    )
    plugin_templates = [
        path for _, path in runtime.plugins.call_registration("register_template_dirs")
    ]
    vendor_templates = runtime.config.data_path() / "templates"
    directories: list[Path | PathLike[Any] | str] = [
        *template_dirs(vendor_templates, plugin_templates)
    ]
    app = Litestar(
        route_handlers=[
            healthz,
            root,
            *portal_routes(plugin_pages),
            VendorController,
            CustomerController,
            MeterController,
            PlanController,
            MeasurementController,
            SettingsController,
            CouponController,
            RedemptionController,
            InvoiceController,
            ClockController,
            *plugin_routes,
        ],
        dependencies={
            "vendor_id": Provide(api_vendor_id),
            "clock": Provide(api_vendor_clock),
        },
        exception_handlers=EXCEPTION_HANDLERS,
        openapi_config=OpenAPIConfig(
            title="Octane API",
            version=octane.__version__,
            description=(
                "Usage-based billing: customers, meters, price plans, subscriptions, "
                "measurements and invoices. Authenticate with 'Authorization: Bearer <api key>'."
            ),
            path="/schema",
        ),
        template_config=TemplateConfig(
            directory=directories,
            engine=JinjaTemplateEngine,
            engine_callback=configure_templates,
        ),
        request_max_body_size=MAX_BODY_BYTES,
        debug=debug,
    )
    app.state.octane = runtime
    return app
