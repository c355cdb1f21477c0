"""What the portal answers when something goes wrong: pages, not JSON.

A navigation gets a full error page. An htmx request gets a short message swapped
into the page's ``#flash`` area (``HX-Retarget``), so the page the person is on
stays where it is. A request without a live session goes to the login page
(htmx follows an ``HX-Redirect`` header instead of a redirect it would not see).
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlencode, urlsplit

from litestar import Request, Response
from litestar.exceptions import HTTPException, NotFoundException
from litestar.response import Redirect, Template

from octane.core.errors import OctaneError
from octane.web.errors import status_for
from octane.web.portal.render import is_htmx
from octane.web.portal.session import CsrfRejected, LoginRequired

__all__ = ["PORTAL_EXCEPTION_HANDLERS", "error_page"]

log = logging.getLogger("octane.web")


def _login_url(request: Request[Any, Any, Any]) -> str:
    if is_htmx(request):
        current = urlsplit(request.headers.get("hx-current-url", "")).path
    else:
        current = request.url.path if request.method == "GET" else ""
    if current.startswith("/portal/") and current != "/portal/login":
        return "/portal/login?" + urlencode({"next": current})
    return "/portal/login"


def _login_required(request: Request[Any, Any, Any], _: LoginRequired) -> Response[Any]:
    target = _login_url(request)
    if request.headers.get("hx-request") == "true":
        return Response(content="", status_code=401, headers={"HX-Redirect": target})
    return Redirect(target, status_code=303)


def error_page(request: Request[Any, Any, Any], status: int, title: str, message: str) -> Template:
    portal = getattr(request.state, "portal", None)
    context = {
        "portal": portal,
        "session": portal.session if portal else None,
        "csrf_token": portal.session.csrf_token if portal else "",
        "path": request.url.path,
        "title": title,
        "message": message,
        "status": status,
    }
    if request.headers.get("hx-request") == "true":
        return Template(
            template_name="portal/_flash.html",
            context={**context, "kind": "error"},
            status_code=status,
            headers={"HX-Retarget": "#flash", "HX-Reswap": "innerHTML"},
        )
    return Template(template_name="portal/error.html", context=context, status_code=status)


def _csrf(request: Request[Any, Any, Any], _: CsrfRejected) -> Template:
    return error_page(
        request,
        403,
        "This form has expired",
        "The request did not carry this session's security token (it may come from another "
        "site, or the page is older than your session). Reload the page and try again.",
    )


def _not_found(request: Request[Any, Any, Any], _: Exception) -> Template:
    return error_page(request, 404, "Not found", "There is nothing at this address.")


def _octane(request: Request[Any, Any, Any], exc: OctaneError) -> Template:
    status = status_for(exc)
    if status == 404:
        return _not_found(request, exc)
    return error_page(request, status, "That did not work", exc.message)


def _http(request: Request[Any, Any, Any], exc: HTTPException) -> Template:
    return error_page(request, exc.status_code, "That did not work", str(exc.detail))


def _unexpected(request: Request[Any, Any, Any], exc: Exception) -> Template:
    log.exception("portal request failed", exc_info=exc)
    return error_page(
        request,
        500,
        "Something went wrong",
        "Something went wrong on our side; nothing was changed.",
    )


PORTAL_EXCEPTION_HANDLERS: dict[type[Exception] | int, Any] = {
    LoginRequired: _login_required,
    CsrfRejected: _csrf,
    NotFoundException: _not_found,
    OctaneError: _octane,
    HTTPException: _http,
    Exception: _unexpected,
}
