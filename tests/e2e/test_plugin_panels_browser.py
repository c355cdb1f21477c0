"""In a real browser: the panels plugins contribute to Settings render, save in place and
show their validation errors inline; Connect with Stripe goes through OAuth and back."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.async_api import expect

from octane.core.branding import get_branding
from octane.core.clock import utc
from octane.core.provider_accounts import disconnect_account, find_account
from tests.e2e.helpers import assert_not_reloaded, logged_in, mark_page

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_email_and_branding_panel(page: Any, e2e_db: Any) -> None:
    vendor = await logged_in(page)
    await page.goto("/portal/settings/delivery")
    await mark_page(page)
    colour = page.get_by_label("Accent colour")
    await colour.fill("blue")
    await page.get_by_role("button", name="Save branding").click()
    await expect(page.locator("#accent_color-error")).to_contain_text("#rrggbb")
    await page.get_by_label("Accent colour").fill("#0f766e")
    await page.get_by_label("Company name").fill("Acme Cloud GmbH")
    await page.get_by_role("button", name="Save branding").click()
    await expect(page.get_by_role("status")).to_have_text("Branding saved.")
    await assert_not_reloaded(page)
    branding = await get_branding(vendor)
    assert (branding.accent_color, branding.company_name) == ("#0f766e", "Acme Cloud GmbH")
    await page.get_by_label("Send a test email to").fill("me@acme.test")
    await page.get_by_role("button", name="Send test email").click()
    await expect(page.locator("#test-email-result")).to_have_text(
        "Test email sent to me@acme.test."
    )


async def test_stripe_panel_connects_through_oauth(page: Any, e2e_db: Any) -> None:
    vendor = await logged_in(page)
    await page.goto("/portal/settings/payment-provider")
    await expect(page.locator("#stripe-connect")).to_be_visible()
    await page.locator("#stripe-connect").click()  # to Stripe's page, which approves, and back
    await page.wait_for_url("**/portal/settings/payment-provider?stripe=connected")
    await expect(page.get_by_text("Stripe is connected.")).to_be_visible()
    account = await find_account(vendor, "stripe")
    assert account is not None
    await expect(page.locator("#stripe-account")).to_have_text(account["account_id"])
    await mark_page(page)
    await page.get_by_label("Stripe Tax on invoices sent via Stripe").check()
    await page.get_by_role("button", name="Save", exact=True).click()
    await expect(page.get_by_text("Stripe Tax is on.")).to_be_visible()
    await assert_not_reloaded(page)
    # Stripe revoked access meanwhile: saving again is refused inline, in place.
    await disconnect_account(vendor, "stripe", at=utc(2026, 12, 1))
    await page.get_by_role("button", name="Save", exact=True).click()
    await expect(page.locator("#automatic_tax-error")).to_have_text(
        "Connect a Stripe account first."
    )
    await expect(page.locator("#stripe-connect")).to_be_visible()
    await assert_not_reloaded(page)


async def test_paddle_panel_shows_its_validation_errors_inline(page: Any, e2e_db: Any) -> None:
    vendor = await logged_in(page)
    await page.goto("/portal/settings/payment-provider")
    await mark_page(page)
    await page.get_by_label("API key").fill("pdl key with spaces")
    await page.get_by_label("Notification secret").fill("pdl_ntf_x123456")
    await page.get_by_role("button", name="Save Paddle connection").click()
    await expect(page.locator("#api_key-error")).to_have_text(
        "The API key has spaces in it; paste it exactly."
    )
    await assert_not_reloaded(page)
    assert await find_account(vendor, "paddle") is None
