"""In a real browser: advance a test clock with a preset, create and revoke an API key."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.async_api import expect

from tests.e2e.helpers import assert_not_reloaded, log_in_as, mark_page
from tests.portal import billing_vendor

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_advance_to_the_end_of_the_grace_period(page: Any, e2e_db: Any) -> None:
    _, email = await billing_vendor()
    await log_in_as(page, email)
    await page.get_by_role("link", name="Test clock", exact=True).click()
    await page.wait_for_url("**/portal/clock")
    await mark_page(page)
    await expect(page.locator("#clock-now")).to_have_text("2026-01-20 00:00 UTC")
    await page.get_by_role("button", name="End of grace period").click()
    await expect(page.locator("#clock-now")).to_have_text("2026-02-02 00:00 UTC")
    summary = page.locator("#advance-summary")
    await expect(summary).to_contain_text("1 cycles closed")
    await expect(summary).to_contain_text("1 invoices finalized")
    await assert_not_reloaded(page)
    await page.get_by_label("Time (UTC)").fill("2026-01-01T00:00")
    await page.get_by_role("button", name="Advance", exact=True).click()
    await expect(page.locator("#to-error")).to_contain_text("only moves forward")


async def test_api_key_is_shown_once(page: Any, e2e_db: Any) -> None:
    _, email = await billing_vendor()
    await log_in_as(page, email)
    await page.get_by_role("link", name="API keys").click()
    await mark_page(page)
    await page.get_by_role("button", name="Create key").click()
    await expect(page.locator("#name-error")).to_be_visible()
    await page.get_by_label("New key name").fill("production")
    await page.get_by_role("button", name="Create key").click()
    await expect(page.locator("#new-key-value")).to_contain_text("octk_")
    page.once("dialog", lambda dialog: dialog.accept())
    await page.get_by_role("button", name="Revoke").click()
    await expect(page.locator("#key-list")).to_contain_text("revoked")
    await expect(page.locator("#new-key-value")).to_have_count(0)
    await assert_not_reloaded(page)
