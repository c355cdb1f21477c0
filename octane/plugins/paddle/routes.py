"""The Paddle plugin's HTTP endpoints.

* ``PUT /api/v1/paddle/connection``: the vendor's API key, webhook secret and
  environment (stored encrypted; the answer shows them masked).
* ``GET /api/v1/paddle/connection``: the connection, masked, with the webhook URL to
  give Paddle's notification destination.
* ``POST /api/v1/paddle/connection/test``: a harmless authenticated call to Paddle;
  Paddle's own error message when it fails.
* ``DELETE /api/v1/paddle/connection``: forget the credentials.
* ``POST /webhooks/paddle/{vendor}``: Paddle's notifications for one vendor.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, delete, get, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody

from octane.core.clocks import SYSTEM_CLOCK
from octane.core.provider_accounts import find_account
from octane.web.api.schemas import ERROR_RESPONSES

__all__ = ["PaddleApiController", "PaddlePublicController"]


class ConnectionIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    api_key: Annotated[str, msgspec.Meta(min_length=8, max_length=300)]
    """The vendor's Paddle API key (Paddle > Developer tools > Authentication)."""
    webhook_secret: Annotated[str, msgspec.Meta(min_length=8, max_length=300)]
    """The secret key of the notification destination pointing at Octane's webhook URL."""
    environment: Annotated[str, msgspec.Meta(pattern="^(sandbox|live)$")] = "sandbox"
    """``sandbox`` or ``live``: which Paddle the key belongs to."""


class ConnectionOut(msgspec.Struct, kw_only=True):
    connected: bool
    environment: str | None
    api_key: str | None
    """Masked: never shown again in full."""
    webhook_secret: str | None
    """Masked: never shown again in full."""
    webhook_url: str
    """Give this to Paddle as the notification destination's URL."""
    connected_at: datetime | None


class CheckoutLinkOut(msgspec.Struct, kw_only=True):
    url: str
    """Paddle Checkout's page where the customer pays the invoice's amount due."""


class TestOut(msgspec.Struct, kw_only=True):
    ok: bool
    message: str


def _context(request: Request[Any, Any, Any]) -> Any:
    return request.app.state.octane.plugins.context("paddle")


def _webhook_url(request: Request[Any, Any, Any], vendor_id: str) -> str:
    configured = request.app.state.octane.config.web.public_url
    base = (configured or str(request.base_url)).rstrip("/")
    return f"{base}/webhooks/paddle/{vendor_id}"


async def _out(request: Request[Any, Any, Any], vendor_id: str) -> ConnectionOut:
    found = await find_account(vendor_id, "paddle")
    connected = bool(found and found["status"] == "connected")
    details = (found["details"] or {}) if found and connected else {}
    return ConnectionOut(
        connected=connected,
        environment=details.get("environment"),
        api_key=details.get("api_key"),
        webhook_secret=details.get("webhook_secret"),
        webhook_url=_webhook_url(request, vendor_id),
        connected_at=found["connected_at"] if found and connected else None,
    )


class PaddleApiController(Controller):
    path = "/api/v1/paddle"
    tags = ["paddle"]

    @get(
        "/connection", summary="The vendor's Paddle connection (masked)", responses=ERROR_RESPONSES
    )
    async def connection(
        self, request: Request[Any, Any, Any], vendor_id: NamedDependency[str]
    ) -> ConnectionOut:
        return await _out(request, vendor_id)

    @put(
        "/connection",
        summary="Connect Paddle: API key, webhook secret, environment",
        responses=ERROR_RESPONSES,
    )
    async def set_connection(
        self,
        request: Request[Any, Any, Any],
        vendor_id: NamedDependency[str],
        data: JSONBody[ConnectionIn],
    ) -> ConnectionOut:
        from octane.plugins.paddle.connection import check_credentials, save_connection

        check_credentials(data.api_key, data.webhook_secret, data.environment)
        await save_connection(
            _context(request),
            vendor_id,
            api_key=data.api_key,
            webhook_secret=data.webhook_secret,
            environment=data.environment,
            at=SYSTEM_CLOCK.now(),
        )
        return await _out(request, vendor_id)

    @post(
        "/connection/test",
        summary="Make a harmless authenticated call to Paddle",
        status_code=200,
        responses=ERROR_RESPONSES,
    )
    async def test_connection(
        self, request: Request[Any, Any, Any], vendor_id: NamedDependency[str]
    ) -> TestOut:
        from octane.plugins.paddle.connection import test_connection

        ok, message = await test_connection(_context(request), vendor_id)
        return TestOut(ok=ok, message=message)

    @delete(
        "/connection",
        summary="Forget the vendor's Paddle credentials",
        status_code=200,
        responses=ERROR_RESPONSES,
    )
    async def disconnect(
        self, request: Request[Any, Any, Any], vendor_id: NamedDependency[str]
    ) -> ConnectionOut:
        from octane.plugins.paddle.connection import forget_connection

        await forget_connection(vendor_id, at=SYSTEM_CLOCK.now())
        return await _out(request, vendor_id)

    @post(
        "/invoices/{invoice_id:str}/checkout-link",
        summary="A Paddle Checkout link paying the invoice (customers without a subscription)",
        status_code=200,
        responses=ERROR_RESPONSES,
    )
    async def checkout_link(
        self,
        request: Request[Any, Any, Any],
        vendor_id: NamedDependency[str],
        invoice_id: FromPath[str],
    ) -> CheckoutLinkOut:
        from octane.plugins.paddle.checkout import checkout_link

        return CheckoutLinkOut(url=await checkout_link(_context(request), vendor_id, invoice_id))


class PaddlePublicController(Controller):
    """Reached by Paddle, not with an API key: verified by signature."""

    path = "/webhooks/paddle"
    tags = ["paddle"]

    @post(
        "/{vendor:str}",
        summary="Paddle notifications for one vendor",
        status_code=200,
        responses=ERROR_RESPONSES,
    )
    async def webhook(
        self, request: Request[Any, Any, Any], vendor: FromPath[str]
    ) -> dict[str, Any]:
        from octane.plugins.paddle.events import receive

        payload = await request.body()
        signature = request.headers.get("paddle-signature", "")
        runtime = request.app.state.octane
        return await receive(
            runtime.plugins, vendor, payload, signature, runtime.state.get("queue")
        )
