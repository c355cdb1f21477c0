"""Every error leaves the API as ``{"error": {"code", "message", "field"}}`` with a 4xx/5xx."""

from __future__ import annotations

import logging
import re
from typing import Any

from litestar import MediaType, Request, Response
from litestar.exceptions import HTTPException, NotFoundException, ValidationException
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR

from octane.core.errors import (
    AuthError,
    BadRequestError,
    ConflictError,
    NotFoundError,
    OctaneError,
    PermissionDeniedError,
    RateLimitedError,
    ValidationError,
)

__all__ = ["EXCEPTION_HANDLERS", "error_body", "status_for"]

log = logging.getLogger("octane.web")

_STATUS: tuple[tuple[type[OctaneError], int], ...] = (
    (ValidationError, 422),
    (BadRequestError, 400),
    (NotFoundError, 404),
    (ConflictError, 409),
    (AuthError, 401),
    (PermissionDeniedError, 403),
    (RateLimitedError, 429),
)


def status_for(error: OctaneError) -> int:
    for cls, status in _STATUS:
        if isinstance(error, cls):
            return status
    return 500 if type(error) is not OctaneError else 400


def error_body(code: str, message: str, field: str | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "field": field}}


def _json(
    status: int, body: dict[str, Any], headers: dict[str, str] | None = None
) -> Response[Any]:
    return Response(content=body, status_code=status, media_type=MediaType.JSON, headers=headers)


def _octane_error(_: Request[Any, Any, Any], exc: OctaneError) -> Response[Any]:
    status = status_for(exc)
    if status >= 500:
        log.error("request failed: %s", exc.message)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return _json(status, error_body(exc.code, exc.message, exc.field), headers)


def _field_from_key(key: str | None) -> str | None:
    if not key:
        return None
    return key.removeprefix("$.").removeprefix("$") or None


_NAMED = re.compile(r"(missing required|contains unknown) field `(?P<name>[^`]+)`")


def _field_from_message(message: str) -> tuple[str | None, str]:
    """msgspec says where in its message: "... - at `$.components[0].unit_price`"."""
    location = ""
    if " - at `$" in message:
        message, _, where = message.rpartition(" - at `$")
        location = where.rstrip("`").lstrip(".")
    named = _NAMED.search(message)
    if named:
        location = f"{location}.{named['name']}" if location else named["name"]
    return location or None, message


def _validation(_: Request[Any, Any, Any], exc: ValidationException) -> Response[Any]:
    # Litestar reports body/parameter problems as a list of {message, key, source}.
    details = exc.extra if isinstance(exc.extra, list) else []
    first = details[0] if details and isinstance(details[0], dict) else {}
    message = str(first.get("message") or exc.detail)
    key = first.get("key")
    field = None if key in (None, "data") else _field_from_key(key)
    if field is None:
        field, message = _field_from_message(message)
    code = "validation_error"
    if "got `float`" in message:
        # A JSON number with a fraction where a decimal is expected: say why it is refused.
        code = "float_not_allowed"
        message = (
            'Must be a decimal string such as "12.50" or an integer, not a JSON number '
            "with a fraction (floats cannot represent money exactly)."
        )
    return _json(422, error_body(code, message, field))


def _not_found(_: Request[Any, Any, Any], exc: NotFoundException) -> Response[Any]:
    return _json(404, error_body("not_found", "There is nothing at this address."))


def _http(_: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    code = {
        400: "bad_request",
        401: "unauthorized",
        403: "forbidden",
        405: "method_not_allowed",
        413: "payload_too_large",
        415: "unsupported_media_type",
        429: "too_many_requests",
    }.get(exc.status_code, "http_error")
    return _json(exc.status_code, error_body(code, str(exc.detail)), exc.headers)


def _unexpected(_: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    log.exception("unhandled error", exc_info=exc)
    return _json(
        HTTP_500_INTERNAL_SERVER_ERROR,
        error_body("internal_error", "Something went wrong on our side; nothing was changed."),
    )


EXCEPTION_HANDLERS: dict[type[Exception] | int, Any] = {
    OctaneError: _octane_error,
    ValidationException: _validation,
    NotFoundException: _not_found,
    HTTPException: _http,
    Exception: _unexpected,
}
