"""Settings -> Invoice settings: every switch and period of the invoicing lifecycle.

Saving goes through :func:`~octane.core.vendor_settings.update_invoice_settings`, the
function behind ``PUT /api/v1/settings/invoicing``, so the portal and the API accept
and refuse exactly the same values. Only the settings that changed are sent.
"""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.response import Template

from octane.core.errors import OctaneError
from octane.core.plugins import PluginHost
from octane.core.vendor_settings import get_invoice_settings, update_invoice_settings
from octane.web.portal.forms import (
    FormErrors,
    duration_from_parts,
    duration_parts,
    duration_text,
    durations_from_text,
    form_text,
)
from octane.web.portal.render import render
from octane.web.portal.session import Portal, runtime_of

__all__ = ["InvoiceSettingsPage"]

_CHECKBOXES = ("invoice_delivery", "invoicing_via_provider", "auto_charge", "notifications")
_DURATIONS = {
    "invoice_grace_period": "Invoice grace period",
    "payment_grace_period": "Payment grace period",
}


def _form_values(settings: dict[str, Any]) -> dict[str, Any]:
    """The stored settings as the form shows them."""
    values = dict(settings)
    for name in _DURATIONS:
        values[f"{name}_amount"], values[f"{name}_unit"] = duration_parts(settings[name])
    values["payment_retry_schedule"] = ", ".join(
        duration_text(item) for item in settings["payment_retry_schedule"]
    )
    values["payment_provider"] = settings["payment_provider"] or ""
    return values


def _parse(form: Any, errors: FormErrors) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(settings as the core takes them, the raw values to show again)``."""
    raw: dict[str, Any] = {name: form_text(form, name) for name in form}
    parsed: dict[str, Any] = {name: name in form for name in _CHECKBOXES}
    for name in _CHECKBOXES:
        raw[name] = parsed[name]
    for name, label in _DURATIONS.items():
        try:
            parsed[name] = duration_from_parts(
                raw.get(f"{name}_amount"), raw.get(f"{name}_unit"), field=name, label=label
            )
        except OctaneError as exc:
            errors.add_error(exc)
    try:
        parsed["payment_retry_schedule"] = durations_from_text(
            raw.get("payment_retry_schedule"),
            field="payment_retry_schedule",
            label="Retry schedule",
        )
    except OctaneError as exc:
        errors.add_error(exc)
    parsed["payment_provider"] = raw.get("payment_provider") or None
    parsed["delivery_channel"] = raw.get("delivery_channel") or ""
    return parsed, raw


def _context(plugins: PluginHost, values: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "values": values,
        "providers": sorted(plugins.payment_providers.values(), key=lambda p: p.display_name),
        "channels": sorted(plugins.delivery_channels.values(), key=lambda c: c.display_name),
        "errors": FormErrors(),
        "saved": False,
        "section": "settings",
        **extra,
    }


class InvoiceSettingsPage(Controller):
    path = "/settings/invoicing"

    @get(include_in_schema=False)
    async def show(
        self, request: Request[Any, Any, Any], portal: NamedDependency[Portal]
    ) -> Template:
        settings = await get_invoice_settings(portal.vendor_id)
        plugins = runtime_of(request).plugins
        return render(
            request,
            portal,
            "portal/settings/invoicing.html",
            _context(plugins, _form_values(settings)),
        )

    @post(include_in_schema=False, status_code=200)
    async def save(
        self, request: Request[Any, Any, Any], portal: NamedDependency[Portal]
    ) -> Template:
        plugins = runtime_of(request).plugins
        errors = FormErrors()
        parsed, raw = _parse(await request.form(), errors)
        current = await get_invoice_settings(portal.vendor_id)
        if not errors:
            changes = {k: v for k, v in parsed.items() if current.get(k) != v}
            try:
                current = await update_invoice_settings(
                    portal.vendor_id,
                    changes,
                    providers=plugins.payment_providers,
                    channels=plugins.delivery_channels,
                )
            except OctaneError as exc:
                errors.add_error(exc)
        if errors:
            return render(
                request,
                portal,
                "portal/settings/invoicing.html",
                _context(plugins, {**_form_values(current), **raw}, errors=errors),
                partial="portal/settings/_invoicing_form.html",
                status_code=422,
            )
        return render(
            request,
            portal,
            "portal/settings/invoicing.html",
            _context(plugins, _form_values(current), saved=True),
            partial="portal/settings/_invoicing_form.html",
        )
