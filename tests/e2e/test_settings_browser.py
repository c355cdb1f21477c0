"""In a real browser: log in, change the invoice grace period in place, see bad input refused."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.async_api import expect

from octane.core.vendor_settings import get_invoice_settings
from tests.e2e.helpers import assert_not_reloaded, logged_in, mark_page

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_login_shows_the_dashboard(page: Any, e2e_db: Any) -> None:
    await logged_in(page, name="Globex")
    await expect(page.locator(".vendor-name")).to_have_text("Globex")
    await expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()


async def test_wrong_password_is_said_inline(page: Any, e2e_db: Any) -> None:
    await page.goto("/portal/login")
    await page.get_by_label("Email").fill("nobody@example.com")
    await page.get_by_label("Password").fill("wrong password")
    await page.get_by_role("button", name="Log in").click()
    await expect(page.locator("#login-error")).to_have_text("The email or password is not correct.")


async def test_grace_period_saves_in_place(page: Any, e2e_db: Any) -> None:
    vendor = await logged_in(page)
    await page.get_by_role("link", name="Invoice settings").click()
    await page.wait_for_url("**/portal/settings/invoicing")
    await mark_page(page)
    await page.get_by_label("Invoice Grace Period", exact=True).fill("3")
    await page.get_by_role("button", name="Save settings").click()
    await expect(page.locator("#settings-saved")).to_have_text("Saved")
    await assert_not_reloaded(page)
    assert (await get_invoice_settings(vendor))["invoice_grace_period"] == "P3D"
    await page.reload()
    await expect(page.get_by_label("Invoice Grace Period", exact=True)).to_have_value("3")


async def test_a_negative_grace_period_shows_an_inline_error(page: Any, e2e_db: Any) -> None:
    vendor = await logged_in(page)
    await page.goto("/portal/settings/invoicing")
    await mark_page(page)
    field = page.get_by_label("Invoice Grace Period", exact=True)
    await field.fill("-5")
    await page.get_by_role("button", name="Save settings").click()
    error = page.locator("#invoice_grace_period-error")
    await expect(error).to_contain_text("Invoice grace period must be a whole number of days")
    await expect(page.get_by_label("Invoice Grace Period", exact=True)).to_have_attribute(
        "aria-invalid", "true"
    )
    await expect(page.get_by_label("Invoice Grace Period", exact=True)).to_have_value("-5")
    await assert_not_reloaded(page)
    assert (await get_invoice_settings(vendor))["invoice_grace_period"] == "P1D"
