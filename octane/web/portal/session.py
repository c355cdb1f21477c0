"""Who is asking: the portal session guard, CSRF checks and the session cookie.

Every portal route except the login page and static files sits behind
:func:`require_session`, a router-level guard, so a page cannot forget it. The
guard loads the session (one query, with the vendor's name and test clock), then for
every state-changing method compares the CSRF token sent as the ``csrf_token`` form
field or the ``X-CSRF-Token`` header (htmx sends the header from ``hx-headers`` on
``<body>``) with the session's. Handlers read the result through the ``portal``
dependency; every query they make is scoped by ``portal.vendor_id``.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from litestar import Request
from litestar.connection import ASGIConnection
from litestar.datastructures import Cookie
from litestar.handlers.base import BaseRouteHandler

from octane.core.clock import Clock, SystemClock, TestClock
from octane.core.portal_sessions import PortalSessionInfo, SessionPolicy, load_session
from octane.core.runtime import Octane, ensure_secret_key

__all__ = [
    "CSRF_FIELD",
    "CSRF_HEADER",
    "SESSION_COOKIE",
    "CsrfRejected",
    "LoginRequired",
    "Portal",
    "check_csrf",
    "portal_context",
    "require_session",
    "runtime_of",
    "session_cookie",
    "session_policy",
]

SESSION_COOKIE = "octane_session"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_SYSTEM_CLOCK = SystemClock()


class LoginRequired(Exception):
    """No live session: the browser is sent to the login page."""


class CsrfRejected(Exception):
    """A state-changing request without the session's CSRF token (HTTP 403)."""


@dataclass(frozen=True)
class Portal:
    """The logged-in person's context, handed to every portal handler."""

    session: PortalSessionInfo
    clock: Clock
    """The vendor's clock: its test clock in test mode."""

    @property
    def vendor_id(self) -> str:
        return self.session.vendor_id

    @property
    def test_mode(self) -> bool:
        return isinstance(self.clock, TestClock)

    @property
    def actor(self) -> str:
        return f"portal:{self.session.email}"


def runtime_of(connection: ASGIConnection[Any, Any, Any, Any]) -> Octane:
    runtime: Octane = connection.app.state.octane
    return runtime


def session_policy(runtime: Octane) -> SessionPolicy:
    policy = runtime.state.get("portal_session_policy")
    if policy is None:
        web = runtime.config.web
        policy = runtime.state["portal_session_policy"] = SessionPolicy(
            secret_key=runtime.secret_key or ensure_secret_key(runtime.config),
            idle=timedelta(minutes=web.session_idle_minutes),
            absolute=timedelta(hours=web.session_absolute_hours),
        )
    assert isinstance(policy, SessionPolicy)
    return policy


def session_cookie(runtime: Octane, token: str) -> Cookie:
    """The session cookie: HttpOnly, SameSite=Lax, Secure unless configured off."""
    web = runtime.config.web
    return Cookie(
        key=SESSION_COOKIE,
        value=token,
        path="/",
        httponly=True,
        samesite="lax",
        secure=web.cookie_secure,
        max_age=web.session_absolute_hours * 3600 if token else 0,
    )


async def check_csrf(request: Request[Any, Any, Any], expected: str) -> None:
    """Refuse the request unless it carries ``expected`` as header or form field."""
    sent = request.headers.get(CSRF_HEADER, "")
    if not sent:
        form = await request.form()
        value = form.get(CSRF_FIELD, "")
        sent = value if isinstance(value, str) else ""
    if not (sent and expected and hmac.compare_digest(sent.encode(), expected.encode())):
        raise CsrfRejected()


async def require_session(
    connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler
) -> None:
    """Router guard: a live session, and the CSRF token on state-changing requests."""
    runtime = runtime_of(connection)
    token = connection.cookies.get(SESSION_COOKIE, "")
    info = await load_session(token, policy=session_policy(runtime), clock=runtime.clock)
    if info is None:
        raise LoginRequired()
    if isinstance(connection, Request) and connection.method not in SAFE_METHODS:
        await check_csrf(connection, info.csrf_token)
    frozen = info.test_clock_now
    clock: Clock = TestClock(frozen) if frozen is not None else _SYSTEM_CLOCK
    connection.state.portal = Portal(session=info, clock=clock)


async def portal_context(request: Request[Any, Any, Any]) -> Portal:
    """Dependency ``portal``: the context the guard established."""
    portal: Portal = request.state.portal
    return portal
