"""Settings -> API keys: create (the key is shown once), list and revoke."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Template

from octane.core.errors import ValidationError
from octane.core.vendors import create_api_key, list_api_keys, revoke_api_key
from octane.web.portal.forms import FormErrors, form_text
from octane.web.portal.render import render
from octane.web.portal.session import Portal

__all__ = ["ApiKeyPages"]


class ApiKeyPages(Controller):
    path = "/settings/api-keys"

    async def _page(
        self,
        request: Request[Any, Any, Any],
        portal: Portal,
        *,
        created: Any = None,
        errors: FormErrors | None = None,
        status_code: int = 200,
    ) -> Template:
        return render(
            request,
            portal,
            "portal/settings/api_keys.html",
            {
                "section": "settings",
                "keys": await list_api_keys(portal.vendor_id),
                "created": created,
                "errors": errors or FormErrors(),
            },
            partial="portal/settings/_api_keys.html",
            status_code=status_code,
        )

    @get(include_in_schema=False)
    async def index(
        self, request: Request[Any, Any, Any], portal: NamedDependency[Portal]
    ) -> Template:
        return await self._page(request, portal)

    @post(include_in_schema=False, status_code=200)
    async def create(
        self, request: Request[Any, Any, Any], portal: NamedDependency[Portal]
    ) -> Template:
        name = form_text(await request.form(), "name")
        if not 1 <= len(name) <= 200:
            errors = FormErrors()
            errors.add_error(
                ValidationError(
                    "Name the key (1 to 200 characters), e.g. production.", field="name"
                )
            )
            return await self._page(request, portal, errors=errors, status_code=422)
        created = await create_api_key(portal.vendor_id, clock=portal.clock, name=name)
        return await self._page(request, portal, created=created)

    @post("/{key_id:str}/revoke", include_in_schema=False, status_code=200)
    async def revoke(
        self,
        request: Request[Any, Any, Any],
        portal: NamedDependency[Portal],
        key_id: FromPath[str],
    ) -> Template:
        await revoke_api_key(portal.vendor_id, key_id, clock=portal.clock)
        return await self._page(request, portal)
