"""In a real browser: filter invoices as you type, retry a failed payment in place."""

from __future__ import annotations

import os
import re
from typing import Any

import pytest
from playwright.async_api import expect

from octane.core.clock import utc
from tests.e2e.helpers import assert_not_reloaded, log_in_as, mark_page
from tests.portal import advance, billing_vendor

pytestmark = pytest.mark.asyncio(loop_scope="session")

DECLINING = {"payment_config": {"sandbox": {"outcomes": ["fail:card_declined"]}}}


async def test_filter_then_retry_a_failed_payment(page: Any, e2e_db: Any) -> None:
    vendor, email = await billing_vendor(customers={"acme": {}, "globex": DECLINING})
    await advance(vendor, utc(2026, 2, 5))
    await log_in_as(page, email)
    await page.get_by_role("link", name="Invoices").click()
    await mark_page(page)
    rows = page.locator("#invoice-results tbody tr")
    await expect(rows).to_have_count(2)
    await page.get_by_label("Status").select_option("failed")
    await expect(rows).to_have_count(1)
    await expect(rows.first).to_contain_text("globex")
    await expect(rows.first).to_contain_text("failed")
    await assert_not_reloaded(page)
    assert "status=failed" in page.url  # the filter is in the address, for sharing
    await page.get_by_label("Customer").fill("nob")
    await expect(page.locator("#customer-error")).to_contain_text("nob")
    await page.get_by_label("Customer").fill("globex")
    await page.wait_for_url(re.compile("customer=globex"))
    await expect(rows).to_have_count(1)
    await rows.first.get_by_role("link").first.click()
    await expect(page.locator("#payment-attempts tbody tr")).to_have_count(1)
    await mark_page(page)
    if os.environ.get("OCTANE_TEST_SCREENSHOTS"):
        await page.screenshot(
            path=os.environ["OCTANE_TEST_SCREENSHOTS"] + "/invoice.png", full_page=True
        )
    await page.get_by_role("button", name="Retry payment").click()
    await expect(page.locator("#invoice-notice")).to_contain_text("Payment attempted.")
    await expect(page.locator("#payment-attempts tbody tr")).to_have_count(2)
    await assert_not_reloaded(page)
