"""Steps shared by the browser tests."""

from __future__ import annotations

from typing import Any

from tests.portal import PASSWORD, vendor_user


async def logged_in(page: Any, *, test_clock: Any = None, name: str = "Acme Inc") -> str:
    """A new vendor with a portal user, logged in through the login form; the vendor id."""
    vendor_id, email = await vendor_user(name, test_clock=test_clock)
    await page.goto("/portal/")
    assert "/portal/login" in page.url, page.url
    await page.get_by_label("Email").fill(email)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Log in").click()
    await page.wait_for_url("**/portal/")
    return vendor_id


async def mark_page(page: Any) -> None:
    """Set a marker that a full page load would wipe out."""
    await page.evaluate("window.__no_reload = 'still here'")


async def assert_not_reloaded(page: Any) -> None:
    assert await page.evaluate("window.__no_reload") == "still here", "the page reloaded"


async def log_in_as(page: Any, email: str) -> None:
    """Log in through the form as an existing user."""
    await page.goto("/portal/login")
    await page.get_by_label("Email").fill(email)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Log in").click()
    await page.wait_for_url("**/portal/")
