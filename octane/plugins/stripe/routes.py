"""The Stripe plugin's HTTP endpoints.

* ``POST /api/v1/stripe/connect``: the Connect OAuth URL to send the vendor to.
* ``GET /stripe/oauth/callback``: where Stripe sends the vendor back (no API key: the
  signed ``state`` says which vendor asked).
* ``GET /api/v1/stripe/account``, ``POST /api/v1/stripe/disconnect``,
  ``GET/PUT /api/v1/stripe/settings`` (``automatic_tax``: Stripe Tax on invoices).
* ``POST /api/v1/stripe/customers/{name}/card-link``: a page where the customer saves a
  card (it becomes their default when Stripe reports the session completed).
* ``POST /webhooks/stripe``: Connect events, verified by their signature.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec
from litestar import Controller, Request, get, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody
from litestar.response import Redirect

from octane.core.clock import Clock
from octane.core.clocks import SYSTEM_CLOCK
from octane.core.customers import get_customer_row
from octane.core.errors import ValidationError
from octane.core.provider_accounts import find_account, set_account_details
from octane.core.views import customer_view_by_id
from octane.plugins.stripe.client import connected_account
from octane.web.api.schemas import ERROR_RESPONSES

__all__ = ["StripeApiController", "StripePublicController"]


class StripeSettings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    automatic_tax: bool
    """Let Stripe Tax compute the tax of invoices sent via Stripe (set Stripe Tax up in
    the Stripe account first)."""


class CardLinkOut(msgspec.Struct, kw_only=True):
    url: str
    """Send this to the customer: Stripe's page where they save a card."""
    expires_at: int | None
    """Unix time after which the link no longer works (Stripe's rule: 24 hours)."""


class ConnectOut(msgspec.Struct, kw_only=True):
    authorize_url: str
    """Send the vendor's browser here; Stripe brings it back to /stripe/oauth/callback."""


class AccountOut(msgspec.Struct, kw_only=True):
    connected: bool
    account_id: str | None
    connected_at: datetime | None
    disconnected_at: datetime | None


def _context(request: Request[Any, Any, Any]) -> Any:
    return request.app.state.octane.plugins.context("stripe")


async def _portal_binding(request: Request[Any, Any, Any]) -> str | None:
    """The binding of the browser's portal session, if it has one."""
    from octane.core.portal_sessions import load_session
    from octane.plugins.stripe.connect import session_binding
    from octane.web.portal.session import SESSION_COOKIE, session_policy

    runtime = request.app.state.octane
    token = request.cookies.get(SESSION_COOKIE, "")
    if not token:
        return None
    info = await load_session(token, policy=session_policy(runtime), clock=runtime.clock)
    return session_binding(info.csrf_token) if info else None


def base_url(request: Request[Any, Any, Any]) -> str:
    configured = request.app.state.octane.config.web.public_url
    return (configured or str(request.base_url)).rstrip("/")


class StripeApiController(Controller):
    path = "/api/v1/stripe"
    tags = ["stripe"]

    @post(
        "/connect",
        summary="Start Stripe Connect: the OAuth URL",
        status_code=200,
        responses=ERROR_RESPONSES,
    )
    async def connect(
        self,
        request: Request[Any, Any, Any],
        vendor_id: NamedDependency[str],
        clock: NamedDependency[Clock],
    ) -> ConnectOut:
        from octane.plugins.stripe.connect import authorize_url

        redirect = f"{base_url(request)}/stripe/oauth/callback"
        return ConnectOut(
            authorize_url=authorize_url(_context(request), vendor_id, redirect, SYSTEM_CLOCK.now())
        )

    @get("/account", summary="The vendor's connected Stripe account", responses=ERROR_RESPONSES)
    async def account(self, vendor_id: NamedDependency[str]) -> AccountOut:
        found = await find_account(vendor_id, "stripe")
        connected = bool(found and found["status"] == "connected")
        return AccountOut(
            connected=connected,
            account_id=found["account_id"] if found else None,
            connected_at=found["connected_at"] if found else None,
            disconnected_at=found["disconnected_at"] if found else None,
        )

    @post(
        "/customers/{name:str}/card-link",
        summary="A link where the customer saves a card (Stripe Checkout, setup mode)",
        status_code=200,
        responses=ERROR_RESPONSES,
    )
    async def card_link(
        self,
        request: Request[Any, Any, Any],
        vendor_id: NamedDependency[str],
        name: FromPath[str],
    ) -> CardLinkOut:
        from octane.plugins.stripe.cards import card_setup_link

        customer, _ = await customer_view_by_id(
            str((await get_customer_row(vendor_id, name))["id"])
        )
        link = await card_setup_link(
            _context(request),
            vendor_id,
            customer,
            return_url=f"{base_url(request)}/portal/customers/{name}",
        )
        return CardLinkOut(url=link["url"], expires_at=link["expires_at"])

    @get("/settings", summary="The vendor's Stripe options", responses=ERROR_RESPONSES)
    async def settings(self, vendor_id: NamedDependency[str]) -> StripeSettings:
        from octane.plugins.stripe.invoicing import automatic_tax_enabled

        return StripeSettings(automatic_tax=await automatic_tax_enabled(vendor_id))

    @put("/settings", summary="Change the vendor's Stripe options", responses=ERROR_RESPONSES)
    async def set_settings(
        self, vendor_id: NamedDependency[str], data: JSONBody[StripeSettings]
    ) -> StripeSettings:
        await connected_account(vendor_id)  # a clear 409 before there is an account
        await set_account_details(vendor_id, "stripe", {"automatic_tax": data.automatic_tax})
        return data

    @post(
        "/disconnect",
        summary="Disconnect the vendor's Stripe account",
        status_code=200,
        responses=ERROR_RESPONSES,
    )
    async def disconnect(
        self, request: Request[Any, Any, Any], vendor_id: NamedDependency[str]
    ) -> AccountOut:
        from octane.plugins.stripe.connect import disconnect

        await disconnect(_context(request), vendor_id, SYSTEM_CLOCK.now())
        return await self.account.fn(self, vendor_id)  # type: ignore[no-any-return]


class StripePublicController(Controller):
    """Reached by Stripe and by the vendor's browser, not with an API key."""

    path = "/"
    tags = ["stripe"]

    @get(
        "/stripe/oauth/callback",
        summary="Stripe Connect's OAuth callback",
        responses=ERROR_RESPONSES,
    )
    async def callback(self, request: Request[Any, Any, Any]) -> Redirect:
        """Query: ``code`` and ``state``, or ``error`` and ``error_description``."""
        from octane.plugins.stripe.connect import complete, read_state

        # ``state`` is a reserved parameter name in Litestar: read the query directly.
        query = request.query_params
        state, code = query.get("state", ""), query.get("code", "")
        error, error_description = query.get("error", ""), query.get("error_description", "")
        context = _context(request)
        if error:
            read_state(context.secret_key, state, SYSTEM_CLOCK.now())  # not a forged request
            raise ValidationError(
                f"Stripe did not connect the account: {error_description or error}.",
                code="stripe_connect_refused",
                field="error",
            )
        if not code:
            raise ValidationError("The callback has no 'code'.", field="code")
        await complete(context, code, state, SYSTEM_CLOCK.now(), await _portal_binding(request))
        return Redirect("/portal/settings?stripe=connected")

    @post(
        "/webhooks/stripe",
        summary="Stripe events (Connect webhook endpoint)",
        status_code=200,
        responses=ERROR_RESPONSES,
    )
    async def webhook(self, request: Request[Any, Any, Any]) -> dict[str, Any]:
        from octane.plugins.stripe.events import receive

        payload = await request.body()
        signature = request.headers.get("stripe-signature", "")
        runtime = request.app.state.octane
        return await receive(runtime.plugins, payload, signature, runtime.state.get("queue"))
