"""Portal: grace-period review, where corrections change the draft and "finalize now" ends it."""

from __future__ import annotations

import re
from pathlib import Path

from octane.core.clock import utc
from octane.core.invoices import list_invoices
from tests.portal import advance, billing_vendor, login, page_csrf, portal_client, vendor_user


async def _draft(vendor: str) -> str:
    rows, _ = await list_invoices(vendor, status="draft")
    return str(rows[0]["id"])


async def test_correct_void_and_finalize(db_url: str, tmp_path: Path) -> None:
    async with portal_client(db_url, tmp_path) as client:
        vendor, email = await billing_vendor(settings={"invoice_grace_period": "P3D"})
        await advance(vendor, utc(2026, 2, 1, 6))
        await login(client, email)
        listed = await client.get("/portal/review")
        invoice = await _draft(vendor)
        assert f"/portal/review/{invoice}" in listed.text and "2d 18h left" in listed.text
        page = await client.get(f"/portal/review/{invoice}")
        assert 'id="draft-total">$20.00<' in page.text
        key = re.search(r'name="key" value="([^"]+)"', page.text)
        assert key
        csrf = await page_csrf(client, f"/portal/review/{invoice}")
        htmx = {"HX-Request": "true", "X-CSRF-Token": csrf}
        bad = await client.post(
            f"/portal/review/{invoice}/correct",
            headers=htmx,
            data={"key": key[1], "value": "-4", "action": "set"},
        )
        assert bad.status_code == 422 and 'id="correction-error"' in bad.text
        assert 'id="draft-total">$20.00<' in bad.text
        fixed = await client.post(
            f"/portal/review/{invoice}/correct",
            headers=htmx,
            data={"key": key[1], "value": "400", "reason": "double count", "action": "set"},
        )
        assert fixed.status_code == 200 and 'id="draft-total">$14.00<' in fixed.text
        assert "double count" in fixed.text
        voided = await client.post(
            f"/portal/review/{invoice}/correct",
            headers=htmx,
            data={"key": key[1], "action": "void"},
        )
        assert 'id="draft-total">$10.00<' in voided.text and "voided" in voided.text
        done = await client.post(f"/portal/review/{invoice}/finalize", headers=htmx)
        assert done.headers["HX-Redirect"] == f"/portal/invoices/{invoice}"
        finalized = await client.get(f"/portal/review/{invoice}")
        assert "can no longer be corrected" in finalized.text
        late = await client.post(
            f"/portal/review/{invoice}/correct",
            headers=htmx,
            data={"key": key[1], "value": "1", "action": "set"},
        )
        assert late.status_code == 422


async def test_another_vendors_review_is_not_found(db_url: str, tmp_path: Path) -> None:
    async with portal_client(db_url, tmp_path) as client:
        vendor, _ = await billing_vendor(settings={"invoice_grace_period": "P3D"})
        await advance(vendor, utc(2026, 2, 1, 6))
        invoice = await _draft(vendor)
        _, intruder = await vendor_user("Intruder")
        await login(client, intruder)
        assert invoice not in (await client.get("/portal/review")).text
        assert (await client.get(f"/portal/review/{invoice}")).status_code == 404
        csrf = await page_csrf(client, "/portal/review")
        for action in ("correct", "finalize"):
            response = await client.post(
                f"/portal/review/{invoice}/{action}",
                data={"csrf_token": csrf, "key": "x", "value": "1"},
            )
            assert response.status_code == 404, action
        assert (await list_invoices(vendor, status="draft"))[0]
