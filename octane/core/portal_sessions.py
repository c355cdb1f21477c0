"""Portal sessions: started by a login, ended by logout or by an idle or absolute timeout.

Sessions live in the database (``portal_session``), so logging out or a timeout ends
them everywhere at once and any number of web processes share them. The browser
holds a random token; the row's id is the token's HMAC under the deployment's secret
key, so a stolen database holds no usable cookie. Each login creates a new token
(the session id is rotated), and the session carries its own CSRF token.

Failed logins are counted per (email, client address) and per email alone; after
:data:`MAX_FAILURES` for the pair, or :data:`MAX_FAILURES_PER_EMAIL` for the email
from any addresses, within :data:`FAILURE_WINDOW`, further attempts are refused
until the window has passed, even with the right password.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from octane.core.clock import Clock, as_utc
from octane.core.errors import AuthError, RateLimitedError
from octane.core.store.tables import PortalLoginFailure, PortalSession, PortalUser
from octane.core.vendors import verify_portal_login

__all__ = [
    "FAILURE_WINDOW",
    "MAX_FAILURES",
    "MAX_FAILURES_PER_EMAIL",
    "PortalSessionInfo",
    "SessionPolicy",
    "end_session",
    "load_session",
    "log_in",
]

MAX_FAILURES = 5
MAX_FAILURES_PER_EMAIL = 20
"""Guessing one account's password from many addresses is slowed down too."""
FAILURE_WINDOW = timedelta(minutes=15)
#: ``last_seen_at`` is written at most this often, not on every request.
_TOUCH_EVERY = timedelta(seconds=60)


@dataclass(frozen=True)
class SessionPolicy:
    """How sessions are signed and when they end (from ``[web]`` and ``secret_key``)."""

    secret_key: str
    idle: timedelta
    absolute: timedelta


@dataclass(frozen=True)
class PortalSessionInfo:
    """The person behind a request, and the vendor every query of theirs is scoped to."""

    user_id: str
    email: str
    vendor_id: str
    vendor_name: str
    test_clock_now: datetime | None
    """The vendor's test clock (None for a vendor on the real clock)."""
    csrf_token: str
    created_at: datetime


def _session_id(token: str, policy: SessionPolicy) -> str:
    return hmac.new(policy.secret_key.encode(), token.encode(), hashlib.sha256).hexdigest()


def _failure_key(email: str, ip: str | None) -> str:
    """The pair's key, or the email's alone (``ip`` None)."""
    scope = "*" if ip is None else f"ip:{ip}"
    return hashlib.sha256(f"{email.strip().lower()}\n{scope}".encode()).hexdigest()


async def _check_throttle(key: str, limit: int, now: datetime) -> None:
    since = now - FAILURE_WINDOW
    recent = await (
        PortalLoginFailure.select(PortalLoginFailure.at)
        .where((PortalLoginFailure.key == key) & (PortalLoginFailure.at > since))
        .order_by(PortalLoginFailure.at)
    )
    if len(recent) >= limit:
        oldest = as_utc(recent[-limit]["at"])
        wait = max(1, int((oldest + FAILURE_WINDOW - now).total_seconds()))
        error = RateLimitedError(
            f"Too many failed logins for this email; try again in {(wait + 59) // 60} minutes.",
            field="email",
        )
        error.retry_after = wait
        raise error


async def log_in(
    email: str,
    password: str,
    *,
    ip: str,
    policy: SessionPolicy,
    clock: Clock,
    previous_token: str | None = None,
) -> str:
    """Check the password and start a session; return the token for the cookie.

    A session the browser already had is ended, so the id always changes at login.
    Raises :class:`AuthError` for a wrong email or password and
    :class:`RateLimitedError` after too many failures.
    """
    now = clock.now()
    key, email_key = _failure_key(email, ip), _failure_key(email, None)
    await _check_throttle(key, MAX_FAILURES, now)
    await _check_throttle(email_key, MAX_FAILURES_PER_EMAIL, now)
    try:
        user = await verify_portal_login(email, password)
    except AuthError:
        # Failures older than the window no longer count: drop them as new ones arrive.
        await PortalLoginFailure.delete().where(
            PortalLoginFailure.key.is_in([key, email_key])
            & (PortalLoginFailure.at <= now - FAILURE_WINDOW)
        )
        await PortalLoginFailure.insert(
            PortalLoginFailure(key=key, at=now), PortalLoginFailure(key=email_key, at=now)
        )
        raise
    await PortalLoginFailure.delete().where(PortalLoginFailure.key == key)
    if previous_token:
        await end_session(previous_token, policy=policy)
    # Housekeeping at each login: every session past the absolute limit (abandoned ones
    # are never loaded again to be found expired), and this user's idle ones.
    await PortalSession.delete().where(PortalSession.created_at < now - policy.absolute)
    await PortalSession.delete().where(
        (PortalSession.user == user["id"]) & (PortalSession.last_seen_at < now - policy.idle)
    )
    token = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    await PortalSession.insert(
        PortalSession(
            id=_session_id(token, policy),
            vendor=user["vendor"],
            user=user["id"],
            csrf_token=csrf,
            created_at=now,
            last_seen_at=now,
            ip=ip[:64],
        )
    )
    await PortalUser.update({PortalUser.last_login_at: now}).where(PortalUser.id == user["id"])
    return token


async def load_session(
    token: str, *, policy: SessionPolicy, clock: Clock
) -> PortalSessionInfo | None:
    """The live session for a cookie token, or None (unknown, logged out or timed out).

    A timed-out session is deleted; a live one has its last activity recorded.
    """
    if not token or len(token) > 200:
        return None
    session_id = _session_id(token, policy)
    row: dict[str, Any] | None = await (
        PortalSession.select(
            *PortalSession.all_columns(),
            PortalSession.user.email.as_alias("email"),
            PortalSession.vendor.name.as_alias("vendor_name"),
            PortalSession.vendor.test_clock_now.as_alias("test_clock_now"),
        )
        .where(PortalSession.id == session_id)
        .first()
    )
    if row is None:
        return None
    now = clock.now()
    created, seen = as_utc(row["created_at"]), as_utc(row["last_seen_at"])
    if now >= created + policy.absolute or now >= seen + policy.idle:
        await PortalSession.delete().where(PortalSession.id == session_id)
        return None
    if now - seen >= _TOUCH_EVERY:
        await PortalSession.update({PortalSession.last_seen_at: now}).where(
            PortalSession.id == session_id
        )
    return PortalSessionInfo(
        user_id=str(row["user"]),
        email=str(row["email"]),
        vendor_id=str(row["vendor"]),
        vendor_name=str(row["vendor_name"]),
        test_clock_now=(
            as_utc(row["test_clock_now"]) if row["test_clock_now"] is not None else None
        ),
        csrf_token=str(row["csrf_token"]),
        created_at=created,
    )


async def end_session(token: str, *, policy: SessionPolicy) -> None:
    """Log out: the session stops working at once, in every process."""
    if token and len(token) <= 200:
        await PortalSession.delete().where(PortalSession.id == _session_id(token, policy))
