"""In a real browser: correct a measurement during the grace period, watch the draft total
change, then finalize now. With ``OCTANE_TEST_SCREENSHOTS=<folder>`` it also saves the
screenshots shown in the README (dashboard, grace-period review, invoice detail)."""

from __future__ import annotations

import io
import os
import re
from typing import Any

import pytest
from playwright.async_api import expect
from pypdf import PdfReader

from octane.core.clock import utc
from tests.e2e.helpers import assert_not_reloaded, log_in_as, mark_page
from tests.portal import advance, billing_vendor

pytestmark = pytest.mark.asyncio(loop_scope="session")

SHOTS = os.environ.get("OCTANE_TEST_SCREENSHOTS", "")
DECLINING = {"payment_config": {"sandbox": {"outcomes": ["fail:card_declined"]}}}


async def _shot(page: Any, name: str) -> None:
    if SHOTS:
        await page.set_viewport_size({"width": 1280, "height": 900})
        await page.screenshot(path=os.path.join(SHOTS, name), full_page=True)


async def test_correct_usage_then_finalize_now(page: Any, e2e_db: Any) -> None:
    vendor, email = await billing_vendor(
        customers={"acme": {}, "globex": DECLINING, "initech": {}},
        settings={"invoice_grace_period": "P3D", "payment_grace_period": "P1D"},
        name="Demo Cloud Inc.",
    )
    await advance(vendor, utc(2026, 2, 1, 6))
    if SHOTS:
        await page.goto("/portal/login")
        await _shot(page, "login.png")
    await log_in_as(page, email)
    await _shot(page, "dashboard.png")
    await page.get_by_role("link", name="Grace-period review").click()
    await page.locator("#review-list tr", has_text="acme").get_by_role("link").click()
    await page.wait_for_url("**/portal/review/inv_*")
    await mark_page(page)
    total = page.locator("#draft-total")
    await expect(total).to_have_text("$20.00")
    row = page.locator("#measurements tbody tr").first
    await row.get_by_label("New value for").fill("250")
    await row.get_by_label("Reason for").fill("duplicate upload")
    await row.get_by_role("button", name="Correct").click()
    await expect(total).to_have_text("$12.50")
    await expect(page.locator("#review-notice")).to_be_visible()
    await assert_not_reloaded(page)
    await _shot(page, "grace-review.png")
    # The DRAFT PDF preview, opened with the browser's own session: the corrected figures.
    link = page.locator("#draft-pdf-link")
    await expect(link).to_have_text("Preview the DRAFT PDF")
    preview = await page.request.get(await link.get_attribute("href"))
    assert preview.status == 200 and preview.headers["content-type"] == "application/pdf"
    text = " ".join(
        page_.extract_text() for page_ in PdfReader(io.BytesIO(await preview.body())).pages
    )
    assert "DRAFT" in text and "$12.50" in text
    page.once("dialog", lambda dialog: dialog.accept())
    await page.get_by_role("button", name="Finalize now").click()
    await page.wait_for_url("**/portal/invoices/inv_*")
    await expect(page.locator("#invoice-status")).to_have_text(re.compile("finalized|delivered"))
    await expect(page.locator("#invoice-total")).to_have_text("$12.50")
    if SHOTS:
        await advance(vendor, utc(2026, 2, 6))
        await page.goto("/portal/invoices?customer=globex")
        await page.locator("#invoice-results tbody tr").first.get_by_role("link").first.click()
        await expect(page.locator("#payment-attempts")).to_be_visible()
        await _shot(page, "invoice-detail.png")
        for path, name in (
            ("/portal/customers/acme", "customer.png"),
            ("/portal/settings/invoicing", "invoice-settings.png"),
            ("/portal/catalog", "catalog.png"),
            ("/portal/clock", "clock.png"),
            ("/portal/invoices", "invoices.png"),
        ):
            await page.goto(path)
            await _shot(page, name)
