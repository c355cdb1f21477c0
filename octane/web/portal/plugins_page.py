"""Settings -> Plugins: installed and enabled plugins, versions, hooks, problems, and the
settings panels plugins contribute (``register_settings_panels``)."""

from __future__ import annotations

from typing import Any

from litestar import Request, get
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Redirect, Template

from octane.core.errors import NotFoundError
from octane.core.plugins import PluginRecord, describe_plugins
from octane.core.runtime import Octane
from octane.web.portal.render import render
from octane.web.portal.session import Portal, runtime_of

__all__ = ["PANEL_SECTIONS", "panel_section_page", "plugins_page", "settings_index"]

#: Settings pages made of plugins' panels: URL part -> (panel section, title, empty state).
PANEL_SECTIONS = {
    "payment-provider": (
        "payment_provider",
        "Payment provider",
        "No enabled plugin shows a panel here yet. Provider plugins (stripe, paddle) are "
        "enabled in octane.toml ([plugins] enabled) and add their connect panels here.",
    ),
    "delivery": (
        "delivery",
        "Email & branding",
        "No enabled plugin shows a panel here yet. The pdf_email plugin's SMTP server and "
        "branding are set in octane.toml ([plugins.pdf_email]) and through the API.",
    ),
}


def _installed(runtime: Octane) -> list[PluginRecord]:
    """Every installed plugin (computed once: plugins do not change while running)."""
    cached = runtime.state.get("portal_installed_plugins")
    if cached is None:
        active = runtime.plugins.records
        cached = describe_plugins(list(active), use_entry_points=True)
        known = {record.name for record in cached}
        cached += [record for name, record in active.items() if name not in known]
        for record in cached:
            record.enabled = record.name in active
        cached.sort(key=lambda r: (not r.enabled, r.name))
        runtime.state["portal_installed_plugins"] = cached
    return list(cached)


def _panels(runtime: Octane, section: str | None = None) -> list[tuple[str, Any]]:
    return sorted(
        (
            (name, panel)
            for name, panel in runtime.plugins.call_registration("register_settings_panels")
            if section is None or panel.section == section
        ),
        key=lambda item: (item[1].section, item[1].order, item[1].title),
    )


@get("/settings", include_in_schema=False, status_code=303)
async def settings_index(request: Request[Any, Any, Any]) -> Redirect:
    """``/portal/settings`` (where provider plugins send the browser back after connecting,
    e.g. ``?stripe=connected``): the payment provider page, query kept."""
    query = request.url.query
    return Redirect(
        "/portal/settings/payment-provider" + (f"?{query}" if query else ""), status_code=303
    )


@get("/settings/{part:str}", include_in_schema=False)
async def panel_section_page(
    request: Request[Any, Any, Any], portal: NamedDependency[Portal], part: FromPath[str]
) -> Template:
    if part not in PANEL_SECTIONS:
        raise NotFoundError("There is no such settings page.", field="path")
    section, title, empty = PANEL_SECTIONS[part]
    runtime = runtime_of(request)
    connected = [
        name
        for name, value in request.query_params.items()
        if value == "connected" and name in runtime.plugins.records
    ]
    return render(
        request,
        portal,
        "portal/settings/panels.html",
        {
            "section": "settings",
            "title": title,
            "empty": empty,
            "panels": _panels(runtime, section),
            "connected": connected,
            "providers": runtime.plugins.payment_providers,
            "channels": runtime.plugins.delivery_channels,
            "part": part,
        },
    )


@get("/settings/plugins", include_in_schema=False)
async def plugins_page(
    request: Request[Any, Any, Any], portal: NamedDependency[Portal]
) -> Template:
    runtime = runtime_of(request)
    panels = _panels(runtime)
    return render(
        request,
        portal,
        "portal/settings/plugins.html",
        {
            "section": "settings",
            "plugins": _installed(runtime),
            "providers": runtime.plugins.payment_providers,
            "channels": runtime.plugins.delivery_channels,
            "panels": panels,
        },
    )
