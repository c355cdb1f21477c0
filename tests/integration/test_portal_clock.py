"""Portal: the test clock page, its presets, advancing and what it reports."""

from __future__ import annotations

from pathlib import Path

from octane.core.clocks import vendor_clock
from tests.portal import billing_vendor, login, page_csrf, portal_client, vendor_user


async def test_presets_and_advance(db_url: str, tmp_path: Path) -> None:
    async with portal_client(db_url, tmp_path) as client:
        vendor, email = await billing_vendor()
        await login(client, email)
        page = await client.get("/portal/clock")
        assert "2026-01-20 00:00 UTC" in page.text
        assert "End of cycle" in page.text and "2026-02-01 00:00 UTC" in page.text
        assert "End of grace period" in page.text and "2026-02-02 00:00 UTC" in page.text
        csrf = await page_csrf(client, "/portal/clock")
        htmx = {"HX-Request": "true", "X-CSRF-Token": csrf}
        moved = await client.post(
            "/portal/clock/advance", headers=htmx, data={"to": "2026-02-05T00:00"}
        )
        assert moved.status_code == 200 and 'id="advance-summary"' in moved.text
        assert "<strong>1</strong> cycles closed" in moved.text
        assert "<strong>1</strong> payments attempted" in moved.text
        assert (await vendor_clock(vendor)).now().isoformat().startswith("2026-02-05T00:00")
        back = await client.post(
            "/portal/clock/advance", headers=htmx, data={"to": "2026-01-01T00:00"}
        )
        assert back.status_code == 422 and 'id="to-error"' in back.text
        assert "only moves forward" in back.text
        junk = await client.post("/portal/clock/advance", headers=htmx, data={"to": "soon"})
        assert junk.status_code == 422 and "is not a time" in junk.text


async def test_a_real_clock_vendor_cannot_travel(db_url: str, tmp_path: Path) -> None:
    async with portal_client(db_url, tmp_path) as client:
        _, email = await vendor_user()
        await login(client, email)
        assert "runs on the real clock" in (await client.get("/portal/clock")).text
        csrf = await page_csrf(client, "/portal/clock")
        refused = await client.post(
            "/portal/clock/advance",
            data={"to": "2030-01-01T00:00", "csrf_token": csrf},
        )
        assert refused.status_code == 422 and "real clock" in refused.text
