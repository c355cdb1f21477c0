"""Logging in and out of the portal.

The login form is protected against login CSRF by a double-submitted token: a
random value in a short-lived cookie that the form must repeat. A successful login
always starts a new session (a new cookie value), ending the one the browser had.
"""

from __future__ import annotations

import hmac
import secrets
from typing import Any
from urllib.parse import urlencode

from litestar import Request, get, post
from litestar.datastructures import Cookie
from litestar.di import NamedDependency
from litestar.response import Redirect, Template

from octane.core.errors import AuthError, RateLimitedError
from octane.core.portal_sessions import end_session, log_in
from octane.web.portal.render import render
from octane.web.portal.session import (
    CSRF_FIELD,
    SESSION_COOKIE,
    CsrfRejected,
    Portal,
    runtime_of,
    session_cookie,
    session_policy,
)

__all__ = ["login_form", "login_submit", "logout", "safe_next"]

LOGIN_CSRF_COOKIE = "octane_login_csrf"


def safe_next(value: object) -> str:
    """Where to go after login: a portal path only (never another site)."""
    if isinstance(value, str) and value.startswith("/portal/") and "//" not in value:
        return value
    return "/portal/"


def _login_cookie(request: Request[Any, Any, Any], token: str) -> Cookie:
    return Cookie(
        key=LOGIN_CSRF_COOKIE,
        value=token,
        path="/portal/login",
        httponly=True,
        samesite="strict",
        secure=runtime_of(request).config.web.cookie_secure,
        max_age=3600,
    )


def _page(
    request: Request[Any, Any, Any],
    *,
    email: str = "",
    error: str = "",
    next_url: str = "/portal/",
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> Template:
    token = request.cookies.get(LOGIN_CSRF_COOKIE) or secrets.token_urlsafe(32)
    response = render(
        request,
        None,
        "portal/login.html",
        {"email": email, "error": error, "next": next_url, "login_csrf": token},
        status_code=status_code,
        headers=headers,
    )
    response.cookies.append(_login_cookie(request, token))
    return response


@get("/login", include_in_schema=False)
async def login_form(request: Request[Any, Any, Any]) -> Template:
    return _page(request, next_url=safe_next(request.query_params.get("next")))


@post("/login", include_in_schema=False, status_code=303)
async def login_submit(request: Request[Any, Any, Any]) -> Redirect | Template:
    form = await request.form()
    expected = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    sent = str(form.get(CSRF_FIELD, ""))
    if not (expected and sent and hmac.compare_digest(expected.encode(), sent.encode())):
        raise CsrfRejected()
    email = str(form.get("email", "")).strip()
    password = str(form.get("password", ""))
    next_url = safe_next(form.get("next"))
    runtime = runtime_of(request)
    if not email or not password:
        return _page(
            request,
            email=email,
            error="Enter your email and password.",
            next_url=next_url,
            status_code=422,
        )
    try:
        token = await log_in(
            email,
            password,
            ip=request.client.host if request.client else "",
            policy=session_policy(runtime),
            clock=runtime.clock,
            previous_token=request.cookies.get(SESSION_COOKIE),
        )
    except RateLimitedError as exc:
        return _page(
            request,
            email=email,
            error=exc.message,
            next_url=next_url,
            status_code=429,
            headers={"Retry-After": str(exc.retry_after)},
        )
    except AuthError as exc:
        return _page(request, email=email, error=exc.message, next_url=next_url, status_code=401)
    return Redirect(next_url, status_code=303, cookies=[session_cookie(runtime, token)])


@post("/logout", include_in_schema=False, status_code=303)
async def logout(request: Request[Any, Any, Any], portal: NamedDependency[Portal]) -> Redirect:
    runtime = runtime_of(request)
    await end_session(request.cookies.get(SESSION_COOKIE, ""), policy=session_policy(runtime))
    target = "/portal/login?" + urlencode({"next": "/portal/"})
    return Redirect(target, status_code=303, cookies=[session_cookie(runtime, "")])
