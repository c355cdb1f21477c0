"""The admin portal: Litestar controllers rendering Jinja2 templates, htmx for live updates.

:func:`portal_routes` returns everything the app mounts under ``/portal``: the static
files (htmx and the stylesheet, served from the package), the login page, and the
pages behind the session guard.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from litestar import Router
from litestar.datastructures import ResponseHeader
from litestar.di import Provide
from litestar.static_files import create_static_files_router

from octane.web.portal.api_keys import ApiKeyPages
from octane.web.portal.auth import login_form, login_submit, logout
from octane.web.portal.catalog import CatalogPages
from octane.web.portal.clock import ClockPage
from octane.web.portal.customer_settings import CustomerSettingsPage
from octane.web.portal.customers import CustomerPages
from octane.web.portal.dashboard import dashboard
from octane.web.portal.errors import PORTAL_EXCEPTION_HANDLERS
from octane.web.portal.invoices import InvoicePages
from octane.web.portal.plugins_page import panel_section_page, plugins_page, settings_index
from octane.web.portal.render import configure_templates
from octane.web.portal.review import ReviewPages
from octane.web.portal.session import portal_context, require_session
from octane.web.portal.settings import InvoiceSettingsPage

__all__ = ["STATIC_DIR", "configure_templates", "portal_routes", "split_plugin_routes"]

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"

#: Every page behind the session guard (the security tests walk all of the app's routes).
PROTECTED_HANDLERS: list[Any] = [
    dashboard,
    logout,
    InvoiceSettingsPage,
    InvoicePages,
    CustomerPages,
    CustomerSettingsPage,
    ClockPage,
    ReviewPages,
    plugins_page,
    panel_section_page,
    settings_index,
    ApiKeyPages,
    CatalogPages,
]


#: Sent with every portal page: no framing (clickjacking), scripts only from the package
#: (htmx needs no eval), no sniffing, no referrer to other sites.
SECURITY_HEADERS = [
    ResponseHeader(
        name="Content-Security-Policy",
        value=(
            "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
            "img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
        ),
    ),
    ResponseHeader(name="X-Frame-Options", value="DENY"),
    ResponseHeader(name="X-Content-Type-Options", value="nosniff"),
    ResponseHeader(name="Referrer-Policy", value="same-origin"),
]
PRIVATE_HEADERS = [*SECURITY_HEADERS, ResponseHeader(name="Cache-Control", value="no-store")]


def _paths(handler: Any) -> set[str]:
    paths = getattr(handler, "paths", None)
    if paths is None:
        path = getattr(handler, "path", None)
        paths = {path} if isinstance(path, str) else set()
    return set(paths)


def split_plugin_routes(routes: list[Any]) -> tuple[list[Any], list[Any]]:
    """``(portal pages, other routes)``: a plugin's handlers under ``/portal/`` go behind
    the session guard like the portal's own; webhooks and callbacks stay public."""
    portal: list[Any] = []
    other: list[Any] = []
    for route in routes:
        paths = _paths(route)
        inside = bool(paths) and all(p.startswith("/portal/") for p in paths)
        (portal if inside else other).append(route)
    return portal, other


def portal_routes(plugin_pages: list[Any] | None = None) -> list[Any]:
    static = create_static_files_router(
        path="/portal/static",
        directories=[STATIC_DIR],
        include_in_schema=False,
        cache_control=None,
    )
    public = Router(
        path="/portal",
        route_handlers=[login_form, login_submit],
        exception_handlers=PORTAL_EXCEPTION_HANDLERS,
        response_headers=PRIVATE_HEADERS,
        include_in_schema=False,
    )
    protected = Router(
        path="/portal",
        route_handlers=PROTECTED_HANDLERS,
        guards=[require_session],
        dependencies={"portal": Provide(portal_context)},
        exception_handlers=PORTAL_EXCEPTION_HANDLERS,
        response_headers=PRIVATE_HEADERS,
        include_in_schema=False,
    )
    routers: list[Any] = [static, public, protected]
    if plugin_pages:
        routers.append(
            Router(
                path="/",
                route_handlers=plugin_pages,
                guards=[require_session],
                dependencies={"portal": Provide(portal_context)},
                exception_handlers=PORTAL_EXCEPTION_HANDLERS,
                response_headers=PRIVATE_HEADERS,
                include_in_schema=False,
            )
        )
    return routers
