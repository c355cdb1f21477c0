"""The Stripe panel in the portal (Settings > Payment provider), behind the portal's guard.

"Connect with Stripe" sends the browser to Stripe's OAuth page with a state bound to
this portal session; the panel shows the connected account, disconnects it, and
switches Stripe Tax for invoices sent via Stripe.
"""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Redirect, Template

from octane.core.customers import get_customer_row
from octane.core.errors import OctaneError
from octane.core.provider_accounts import find_account, set_account_details
from octane.core.views import customer_view_by_id
from octane.core.webhooks import last_event
from octane.web.portal.forms import FormErrors
from octane.web.portal.render import is_htmx, render
from octane.web.portal.session import Portal, runtime_of

__all__ = ["StripePortalController"]


class StripePortalController(Controller):
    path = "/portal/plugins/stripe"
    include_in_schema = False

    async def _panel(
        self,
        request: Request[Any, Any, Any],
        portal: Portal,
        *,
        errors: FormErrors | None = None,
        notice: str = "",
        status_code: int = 200,
    ) -> Template:
        from octane.plugins.stripe.routes import base_url

        account = await find_account(portal.vendor_id, "stripe")
        connected = bool(account and account["status"] == "connected")
        return render(
            request,
            portal,
            "stripe/_panel_body.html",
            {
                "account": account,
                "connected": connected,
                "automatic_tax": bool(account and (account["details"] or {}).get("automatic_tax")),
                "errors": errors or FormErrors(),
                "notice": notice,
                "last_event": await last_event(portal.vendor_id, "stripe"),
                "webhook_url": f"{base_url(request)}/webhooks/stripe",
            },
            status_code=status_code,
        )

    @get("/panel")
    async def panel(
        self, request: Request[Any, Any, Any], portal: NamedDependency[Portal]
    ) -> Template:
        return await self._panel(request, portal)

    @post("/connect", status_code=200)
    async def connect(
        self, request: Request[Any, Any, Any], portal: NamedDependency[Portal]
    ) -> Response[Any] | Template:
        from octane.plugins.stripe.connect import authorize_url, session_binding
        from octane.plugins.stripe.routes import base_url

        context = runtime_of(request).plugins.context("stripe")
        try:
            url = authorize_url(
                context,
                portal.vendor_id,
                f"{base_url(request)}/stripe/oauth/callback",
                _real_now(),
                session_binding(portal.session.csrf_token),
            )
        except OctaneError as exc:
            errors = FormErrors()
            errors.add("connect", exc.message)
            return await self._panel(request, portal, errors=errors, status_code=422)
        if is_htmx(request):
            return Response(content=b"", status_code=200, headers={"HX-Redirect": url})
        return Redirect(url, status_code=303)

    @post("/disconnect", status_code=200)
    async def disconnect(
        self, request: Request[Any, Any, Any], portal: NamedDependency[Portal]
    ) -> Template:
        from octane.plugins.stripe.connect import disconnect

        context = runtime_of(request).plugins.context("stripe")
        await disconnect(context, portal.vendor_id, _real_now())
        return await self._panel(request, portal, notice="Stripe is disconnected.")

    @post("/settings", status_code=200)
    async def settings(
        self, request: Request[Any, Any, Any], portal: NamedDependency[Portal]
    ) -> Template:
        form = await request.form()
        account = await find_account(portal.vendor_id, "stripe")
        if account is None or account["status"] != "connected":
            errors = FormErrors()
            errors.add("automatic_tax", "Connect a Stripe account first.")
            return await self._panel(request, portal, errors=errors, status_code=422)
        enabled = form.get("automatic_tax") == "on"
        await set_account_details(portal.vendor_id, "stripe", {"automatic_tax": enabled})
        notice = "Stripe Tax is on." if enabled else "Stripe Tax is off."
        return await self._panel(request, portal, notice=notice)

    @post("/customers/{name:str}/card-link", status_code=200)
    async def card_link(
        self,
        request: Request[Any, Any, Any],
        portal: NamedDependency[Portal],
        name: FromPath[str],
    ) -> Template:
        from octane.plugins.stripe.cards import card_setup_link
        from octane.plugins.stripe.routes import base_url

        row = await get_customer_row(portal.vendor_id, name)  # another vendor's: 404
        customer, _ = await customer_view_by_id(str(row["id"]))
        link, error = "", ""
        try:
            made = await card_setup_link(
                runtime_of(request).plugins.context("stripe"),
                portal.vendor_id,
                customer,
                return_url=f"{base_url(request)}/portal/customers/{name}",
            )
            link = str(made["url"])
        except OctaneError as exc:
            error = exc.message
        return render(
            request,
            portal,
            "stripe/_customer_payment.html",
            {"customer": customer, "card_link": link, "card_link_error": error},
            status_code=200 if link else 409,
        )


def _real_now() -> Any:
    """OAuth states expire in real time, whatever a vendor's test clock says."""
    from octane.core.clocks import SYSTEM_CLOCK

    return SYSTEM_CLOCK.now()
