"""API authentication: ``Authorization: Bearer <api key>`` resolves to one vendor."""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.di import NamedDependency

from octane.core.clock import Clock
from octane.core.errors import AuthError
from octane.core.vendors import authenticate_with_clock

__all__ = ["api_vendor_clock", "api_vendor_id"]


async def api_vendor_id(request: Request[Any, Any, Any]) -> str:
    """Dependency: the id of the vendor whose API key made this request."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if not header:
        raise AuthError(
            "This endpoint needs an API key: send 'Authorization: Bearer <api key>'.",
            code="missing_api_key",
        )
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthError(
            "The Authorization header must be 'Bearer <api key>'.", code="invalid_api_key"
        )
    vendor_id, key_id, clock = await authenticate_with_clock(token.strip())
    request.state.api_key_id = key_id
    request.state.vendor_clock = clock
    return vendor_id


async def api_vendor_clock(
    request: Request[Any, Any, Any], vendor_id: NamedDependency[str]
) -> Clock:
    """Dependency: the clock of the authenticated vendor (its test clock in test mode)."""
    clock: Clock = request.state.vendor_clock
    return clock
