"""In a real browser: search customers as you type; grant credit on a customer's page."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.async_api import expect

from octane.core.clock import utc
from tests.e2e.helpers import assert_not_reloaded, log_in_as, mark_page
from tests.portal import advance, billing_vendor

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_search_as_you_type_then_grant_credit(page: Any, e2e_db: Any) -> None:
    vendor, email = await billing_vendor(customers={"acme": {}, "globex": {}, "initech": {}})
    await advance(vendor, utc(2026, 2, 10))
    await log_in_as(page, email)
    await page.get_by_role("link", name="Customers").click()
    await mark_page(page)
    rows = page.locator("#customer-results tbody tr")
    await expect(rows).to_have_count(3)
    await page.get_by_label("Search").press_sequentially("glo", delay=30)
    await expect(rows).to_have_count(1)
    await expect(rows.first).to_contain_text("globex")
    await assert_not_reloaded(page)
    await rows.first.get_by_role("link", name="globex").click()
    await page.wait_for_url("**/portal/customers/globex")
    await mark_page(page)
    await page.get_by_label("Amount (USD)").fill("oops")
    await page.get_by_role("button", name="Grant credit").click()
    await expect(page.locator("#amount-error")).to_be_visible()
    await page.get_by_label("Amount (USD)").fill("12.50")
    await page.get_by_role("button", name="Grant credit").click()
    await expect(page.locator("#credit-notice")).to_contain_text("$12.50")
    await assert_not_reloaded(page)
