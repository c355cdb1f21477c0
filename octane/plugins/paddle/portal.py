"""The Paddle panel in the portal (Settings > Payment provider), behind the portal's guard:
connect with an API key and the notification secret, test the key, disconnect."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.response import Template

from octane.core.clocks import SYSTEM_CLOCK
from octane.core.errors import NotFoundError, OctaneError
from octane.core.provider_accounts import find_account
from octane.core.webhooks import last_event
from octane.web.portal.forms import FormErrors, form_text
from octane.web.portal.render import render
from octane.web.portal.session import Portal, runtime_of

__all__ = ["PaddleCustomerActions", "PaddlePortalController"]


class PaddlePortalController(Controller):
    path = "/portal/plugins/paddle"
    include_in_schema = False

    async def _panel(
        self,
        request: Request[Any, Any, Any],
        portal: Portal,
        *,
        errors: FormErrors | None = None,
        notice: str = "",
        test: tuple[bool, str] | None = None,
        status_code: int = 200,
    ) -> Template:
        from octane.plugins.paddle.routes import _webhook_url

        account = await find_account(portal.vendor_id, "paddle")
        connected = bool(account and account["status"] == "connected")
        return render(
            request,
            portal,
            "paddle/_panel_body.html",
            {
                "connected": connected,
                "details": (account["details"] or {}) if account and connected else {},
                "account": account,
                "webhook_url": _webhook_url(request, portal.vendor_id),
                "last_event": await last_event(portal.vendor_id, "paddle"),
                "errors": errors or FormErrors(),
                "notice": notice,
                "test": test,
            },
            status_code=status_code,
        )

    @get("/panel")
    async def panel(
        self, request: Request[Any, Any, Any], portal: NamedDependency[Portal]
    ) -> Template:
        return await self._panel(request, portal)

    @post("/connection", status_code=200)
    async def connect(
        self, request: Request[Any, Any, Any], portal: NamedDependency[Portal]
    ) -> Template:
        from octane.plugins.paddle.connection import check_credentials, save_connection

        form = await request.form()
        api_key, secret = form_text(form, "api_key"), form_text(form, "webhook_secret")
        environment = form_text(form, "environment") or "sandbox"
        try:
            check_credentials(api_key, secret, environment)
            await save_connection(
                runtime_of(request).plugins.context("paddle"),
                portal.vendor_id,
                api_key=api_key,
                webhook_secret=secret,
                environment=environment,
                at=SYSTEM_CLOCK.now(),
            )
        except OctaneError as exc:
            errors = FormErrors()
            errors.add_error(exc)
            return await self._panel(request, portal, errors=errors, status_code=422)
        return await self._panel(request, portal, notice="Paddle is connected.")

    @post("/connection/test", status_code=200)
    async def test(
        self, request: Request[Any, Any, Any], portal: NamedDependency[Portal]
    ) -> Template:
        from octane.plugins.paddle.connection import test_connection

        try:
            result = await test_connection(
                runtime_of(request).plugins.context("paddle"), portal.vendor_id
            )
        except OctaneError as exc:
            result = (False, exc.message)
        return await self._panel(
            request, portal, test=result, status_code=200 if result[0] else 422
        )

    @post("/disconnect", status_code=200)
    async def disconnect(
        self, request: Request[Any, Any, Any], portal: NamedDependency[Portal]
    ) -> Template:
        from octane.plugins.paddle.connection import forget_connection

        await forget_connection(portal.vendor_id, at=SYSTEM_CLOCK.now())
        return await self._panel(request, portal, notice="Paddle is disconnected.")


class PaddleCustomerActions(Controller):
    """The checkout link on a customer's page (customers without a Paddle subscription)."""

    path = "/portal/plugins/paddle/checkout-link"
    include_in_schema = False

    @post("/", status_code=200)
    async def checkout_link(
        self, request: Request[Any, Any, Any], portal: NamedDependency[Portal]
    ) -> Template:
        from octane.plugins.paddle.checkout import checkout_link

        form = await request.form()
        invoice_id = form_text(form, "invoice_id")
        link, error = "", ""
        try:
            link = await checkout_link(
                runtime_of(request).plugins.context("paddle"), portal.vendor_id, invoice_id
            )
        except NotFoundError:
            raise
        except OctaneError as exc:
            error = exc.message
        return render(
            request,
            portal,
            "paddle/_checkout_result.html",
            {"checkout_link": link, "checkout_error": error},
            status_code=200 if link else 409,
        )
