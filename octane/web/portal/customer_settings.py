"""A customer's invoice-setting overrides: each setting follows the vendor's, or is set
for this customer only (``PATCH /api/v1/customers/{name}`` with ``invoice_settings``)."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Template

from octane.core.customers import get_customer, update_customer
from octane.core.errors import OctaneError
from octane.core.vendor_settings import check_channel, check_provider, get_invoice_settings
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

__all__ = ["CustomerSettingsPage"]

_SWITCHES = {
    "invoice_delivery": "Invoice Delivery",
    "invoicing_via_provider": "Invoicing via Payment Provider",
    "auto_charge": "Charge automatically",
    "notifications": "Payment notifications",
}
_DURATIONS = {
    "invoice_grace_period": "Invoice grace period",
    "payment_grace_period": "Payment grace period",
}


def _shown(overrides: dict[str, Any]) -> dict[str, str]:
    """The overrides as the form shows them; an empty value means "as the vendor"."""
    values: dict[str, str] = {}
    for name in _SWITCHES:
        if name in overrides:
            values[name] = "on" if overrides[name] else "off"
    for name in _DURATIONS:
        if name in overrides:
            values[f"{name}_amount"], values[f"{name}_unit"] = duration_parts(overrides[name])
    if "payment_retry_schedule" in overrides:
        values["payment_retry_schedule"] = ", ".join(
            duration_text(item) for item in overrides["payment_retry_schedule"]
        )
    if "payment_provider" in overrides:
        values["payment_provider"] = overrides["payment_provider"] or "none"
    if "delivery_channel" in overrides:
        values["delivery_channel"] = overrides["delivery_channel"]
    return values


def _parse(values: dict[str, str], errors: FormErrors) -> dict[str, Any]:
    overrides: dict[str, Any] = {}
    for name in _SWITCHES:
        if values.get(name) in ("on", "off"):
            overrides[name] = values[name] == "on"
    for name, label in _DURATIONS.items():
        if values.get(f"{name}_amount"):
            try:
                overrides[name] = duration_from_parts(
                    values[f"{name}_amount"], values.get(f"{name}_unit"), field=name, label=label
                )
            except OctaneError as exc:
                errors.add_error(exc)
    if values.get("payment_retry_schedule"):
        try:
            overrides["payment_retry_schedule"] = durations_from_text(
                values["payment_retry_schedule"],
                field="payment_retry_schedule",
                label="Retry schedule",
            )
        except OctaneError as exc:
            errors.add_error(exc)
    if values.get("payment_provider"):
        provider = values["payment_provider"]
        overrides["payment_provider"] = None if provider == "none" else provider
    if values.get("delivery_channel"):
        overrides["delivery_channel"] = values["delivery_channel"]
    return overrides


class CustomerSettingsPage(Controller):
    path = "/customers/{name:str}/settings"

    async def _page(
        self,
        request: Request[Any, Any, Any],
        portal: Portal,
        name: str,
        *,
        values: dict[str, str] | None = None,
        errors: FormErrors | None = None,
        saved: bool = False,
        status_code: int = 200,
    ) -> Template:
        customer = await get_customer(portal.vendor_id, name)
        plugins = runtime_of(request).plugins
        vendor_settings = await get_invoice_settings(portal.vendor_id)
        return render(
            request,
            portal,
            "portal/customers/settings.html",
            {
                "section": "customers",
                "customer": customer,
                "values": values if values is not None else _shown(customer["invoice_settings"]),
                "vendor": vendor_settings,
                "vendor_text": {
                    **{k: "on" if vendor_settings[k] else "off" for k in _SWITCHES},
                    **{k: duration_text(vendor_settings[k]) for k in _DURATIONS},
                    "payment_retry_schedule": ", ".join(
                        duration_text(d) for d in vendor_settings["payment_retry_schedule"]
                    ),
                },
                "switches": _SWITCHES,
                "durations": _DURATIONS,
                "providers": sorted(plugins.payment_providers.values(), key=lambda p: p.name),
                "channels": sorted(plugins.delivery_channels.values(), key=lambda c: c.name),
                "errors": errors or FormErrors(),
                "saved": saved,
            },
            partial="portal/customers/_settings_form.html",
            status_code=status_code,
        )

    @get(include_in_schema=False)
    async def show(
        self,
        request: Request[Any, Any, Any],
        portal: NamedDependency[Portal],
        name: FromPath[str],
    ) -> Template:
        return await self._page(request, portal, name)

    @post(include_in_schema=False, status_code=200)
    async def save(
        self,
        request: Request[Any, Any, Any],
        portal: NamedDependency[Portal],
        name: FromPath[str],
    ) -> Template:
        await get_customer(portal.vendor_id, name)  # another vendor's: 404
        form = await request.form()
        values = {key: form_text(form, key) for key in form}
        errors = FormErrors()
        overrides = _parse(values, errors)
        plugins = runtime_of(request).plugins
        if not errors:
            try:
                if "payment_provider" in overrides:
                    check_provider(
                        overrides["payment_provider"],
                        plugins.payment_providers,
                        field="payment_provider",
                    )
                if "delivery_channel" in overrides:
                    check_channel(
                        overrides["delivery_channel"],
                        plugins.delivery_channels,
                        field="delivery_channel",
                    )
                await update_customer(portal.vendor_id, name, {"invoice_settings": overrides})
            except OctaneError as exc:
                errors.add_error(exc)
        if errors:
            return await self._page(
                request, portal, name, values=values, errors=errors, status_code=422
            )
        return await self._page(request, portal, name, saved=True)
