"""Portal safety: sessions, cookies, CSRF, throttling, and one vendor never seeing another's."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from octane.core.clock import TestClock, utc
from octane.core.errors import AuthError, RateLimitedError
from octane.core.portal_sessions import (
    MAX_FAILURES,
    MAX_FAILURES_PER_EMAIL,
    SessionPolicy,
    load_session,
    log_in,
)
from octane.core.store.tables import PortalSession
from tests.portal import PASSWORD, csrf_of, login, page_csrf, portal_client, vendor_user

SAFE = {"GET", "HEAD", "OPTIONS"}


def _portal_routes(client: AsyncTestClient[Any], *, safe: bool) -> list[tuple[str, str]]:
    """The portal's routes (GET ones, or state-changing ones), with path parameters filled in."""
    found = set()
    for route in client.app.routes:
        if not route.path.startswith("/portal") or route.path.startswith("/portal/static"):
            continue
        methods = getattr(route, "methods", set())
        for method in (methods & {"GET"}) if safe else (methods - SAFE):
            path = re.sub(r"\{[^}]+\}", "nonexistent", route.path)
            found.add((method, path))
    found.discard(("POST", "/portal/login"))  # protected by its own double-submit token
    found.discard(("GET", "/portal/login"))
    return sorted(found)


def _state_changing_routes(client: AsyncTestClient[Any]) -> list[tuple[str, str]]:
    return _portal_routes(client, safe=False)


def _session_cookie(response: Any) -> str:
    header = [h for h in response.headers.get_list("set-cookie") if h.startswith("octane_session=")]
    assert header, f"no session cookie in {response.headers}"
    return header[0]


async def test_pages_without_a_session_go_to_login(db_url: str, tmp_path: Path) -> None:
    async with portal_client(db_url, tmp_path) as client:
        response = await client.get("/portal/settings/invoicing", follow_redirects=False)
        assert response.status_code == 303
        assert response.headers["location"] == "/portal/login?next=%2Fportal%2Fsettings%2Finvoicing"
        htmx = await client.post("/portal/settings/invoicing", headers={"HX-Request": "true"})
        assert htmx.status_code == 401 and htmx.headers["HX-Redirect"].startswith("/portal/login")


BUNDLED = ["pdf_email", "stripe", "paddle"]
"""Plugins whose portal pages the walks below include."""


async def test_every_page_needs_a_session(db_url: str, tmp_path: Path) -> None:
    async with portal_client(db_url, tmp_path, enabled=BUNDLED) as client:
        pages = _portal_routes(client, safe=True)
        assert len(pages) >= 10
        for _, path in pages:
            response = await client.get(path, follow_redirects=False)
            assert response.status_code == 303, path
            assert response.headers["location"].startswith("/portal/login"), path


async def test_every_state_changing_route_needs_a_session_and_the_csrf_token(
    db_url: str, tmp_path: Path
) -> None:
    async with portal_client(db_url, tmp_path, enabled=BUNDLED) as client:
        routes = _state_changing_routes(client)
        assert ("POST", "/portal/plugins/pdf_email/settings/branding") in routes
        assert ("POST", "/portal/settings/invoicing") in routes and len(routes) >= 2
        for method, path in routes:
            response = await client.request(method, path, follow_redirects=False)
            assert response.status_code == 303, (method, path)
            assert response.headers["location"].startswith("/portal/login"), (method, path)
        _, email = await vendor_user()
        await login(client, email)
        for method, path in routes:
            missing = await client.request(method, path, data={"x": "1"})
            assert missing.status_code == 403, (method, path, missing.text)
            assert "This form has expired" in missing.text
            wrong = await client.request(
                method, path, headers={"X-CSRF-Token": "forged", "HX-Request": "true"}
            )
            assert wrong.status_code == 403, (method, path)


async def test_session_cookie_flags(db_url: str, tmp_path: Path) -> None:
    async with portal_client(db_url, tmp_path) as client:
        _, email = await vendor_user()
        cookie = _session_cookie(await login(client, email)).lower()
        assert "httponly" in cookie and "samesite=lax" in cookie and "secure" in cookie
        assert "path=/" in cookie
    async with portal_client(
        db_url, tmp_path, env={"OCTANE_WEB__COOKIE_SECURE": "false"}
    ) as client:
        cookie = _session_cookie(await login(client, email)).lower()
        assert "httponly" in cookie and "secure" not in cookie


async def test_the_session_id_changes_at_login_and_ends_at_logout(
    db_url: str, tmp_path: Path
) -> None:
    async with portal_client(db_url, tmp_path) as client:
        _, email = await vendor_user()
        await login(client, email)
        first = client.cookies["octane_session"]
        assert (await client.get("/portal/settings/invoicing")).status_code == 200
        await login(client, email)  # logging in again with a session already open
        second = client.cookies["octane_session"]
        assert second != first
        client.cookies.set("octane_session", first, domain="portal.test")
        stale = await client.get("/portal/", follow_redirects=False)
        assert stale.status_code == 303, "the previous session must be ended by the new login"
        client.cookies.set("octane_session", second, domain="portal.test")
        csrf = await page_csrf(client)
        out = await client.post("/portal/logout", data={"csrf_token": csrf}, follow_redirects=False)
        assert out.status_code == 303
        client.cookies.set("octane_session", second, domain="portal.test")
        assert (await client.get("/portal/", follow_redirects=False)).status_code == 303


async def test_a_planted_cookie_is_never_adopted(db_url: str, tmp_path: Path) -> None:
    async with portal_client(db_url, tmp_path) as client:
        _, email = await vendor_user()
        client.cookies.set("octane_session", "chosen-by-attacker", domain="portal.test")
        await login(client, email)
        assert client.cookies["octane_session"] != "chosen-by-attacker"


async def test_login_form_needs_its_token_and_redirects_only_inside_the_portal(
    db_url: str, tmp_path: Path
) -> None:
    async with portal_client(db_url, tmp_path) as client:
        _, email = await vendor_user()
        forged = await client.post("/portal/login", data={"email": email, "password": PASSWORD})
        assert forged.status_code == 403
        page = await client.get("/portal/login?next=//evil.example/")
        response = await client.post(
            "/portal/login",
            data={
                "email": email,
                "password": PASSWORD,
                "csrf_token": csrf_of(page.text),
                "next": "//evil.example/",
            },
            follow_redirects=False,
        )
        assert response.headers["location"] == "/portal/"


async def test_wrong_password_then_throttling(db_url: str, tmp_path: Path) -> None:
    async with portal_client(db_url, tmp_path) as client:
        _, email = await vendor_user()
        wrong = await login(client, email, "not the password")
        assert wrong.status_code == 401 and "email or password is not correct" in wrong.text
        for _ in range(MAX_FAILURES - 1):
            await login(client, email, "not the password")
        blocked = await login(client, email)  # even the right password, for a while
        assert blocked.status_code == 429 and "Too many failed logins" in blocked.text
        assert int(blocked.headers["Retry-After"]) > 0
        assert "octane_session" not in client.cookies


async def test_idle_and_absolute_timeouts(db: Any) -> None:
    _, email = await vendor_user()
    policy = SessionPolicy(
        secret_key="k" * 32, idle=timedelta(minutes=30), absolute=timedelta(hours=2)
    )
    clock = TestClock(utc(2026, 3, 1, 9))
    token = await log_in(email, PASSWORD, ip="10.0.0.1", policy=policy, clock=clock)
    for _ in range(4):  # active every 25 minutes: the idle limit never bites...
        clock.advance_to(clock.now() + timedelta(minutes=25))
        assert await load_session(token, policy=policy, clock=clock) is not None
    clock.advance_to(
        clock.now() + timedelta(minutes=25)
    )  # ...but 2 h 05 after login the absolute one does
    assert await load_session(token, policy=policy, clock=clock) is None
    token = await log_in(email, PASSWORD, ip="10.0.0.1", policy=policy, clock=clock)
    clock.advance_to(clock.now() + timedelta(minutes=31))
    assert await load_session(token, policy=policy, clock=clock) is None
    # Abandoned sessions are cleared at a later login, whoever logs in.
    await log_in(email, PASSWORD, ip="10.0.0.1", policy=policy, clock=clock)
    clock.advance_to(clock.now() + timedelta(hours=3))
    _, other = await vendor_user("Other")
    await log_in(other, PASSWORD, ip="10.0.0.9", policy=policy, clock=clock)
    assert await PortalSession.count() == 1


async def test_throttling_is_per_email_and_address_and_expires(db: Any) -> None:
    _, email = await vendor_user()
    policy = SessionPolicy(
        secret_key="k" * 32, idle=timedelta(minutes=30), absolute=timedelta(hours=2)
    )
    clock = TestClock(utc(2026, 3, 1, 9))
    for _ in range(MAX_FAILURES):
        with pytest.raises(AuthError):
            await log_in(email, "wrong", ip="10.0.0.1", policy=policy, clock=clock)
    with pytest.raises(RateLimitedError):
        await log_in(email, PASSWORD, ip="10.0.0.1", policy=policy, clock=clock)
    assert await log_in(email, PASSWORD, ip="10.0.0.2", policy=policy, clock=clock)
    clock.advance_to(clock.now() + timedelta(minutes=16))
    assert await log_in(email, PASSWORD, ip="10.0.0.1", policy=policy, clock=clock)


async def test_pages_forbid_framing_and_caching(db_url: str, tmp_path: Path) -> None:
    async with portal_client(db_url, tmp_path) as client:
        _, email = await vendor_user()
        login_page = await client.get("/portal/login")
        assert "frame-ancestors 'none'" in login_page.headers["content-security-policy"]
        await login(client, email)
        page = await client.get("/portal/settings/invoicing")
        assert page.headers["x-frame-options"] == "DENY"
        assert page.headers["cache-control"] == "no-store"
        assert "script-src 'self'" in page.headers["content-security-policy"]


async def test_guessing_from_many_addresses_is_throttled_too(db: Any) -> None:
    _, email = await vendor_user()
    policy = SessionPolicy(
        secret_key="k" * 32, idle=timedelta(minutes=30), absolute=timedelta(hours=2)
    )
    clock = TestClock(utc(2026, 3, 1, 9))
    for n in range(MAX_FAILURES_PER_EMAIL):
        with pytest.raises(AuthError):
            await log_in(email, "wrong", ip=f"10.0.1.{n}", policy=policy, clock=clock)
    with pytest.raises(RateLimitedError):
        await log_in(email, PASSWORD, ip="10.0.2.1", policy=policy, clock=clock)
