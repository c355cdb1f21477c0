"""API authentication: ``Authorization: Bearer <api key>`` resolves to one vendor."""

from __future__ import annotations

from typing import Any

from litestar import Request

from octane.core.errors import AuthError
from octane.core.vendors import authenticate

__all__ = ["api_vendor_id"]


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
    vendor_id, key_id = await authenticate(token.strip())
    request.state.api_key_id = key_id
    return vendor_id
