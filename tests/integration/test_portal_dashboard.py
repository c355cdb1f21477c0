"""Portal: the dashboard's figures, and that its query count does not grow with the data."""

from __future__ import annotations

from pathlib import Path

from octane.core.clock import utc
from tests.portal import advance, billing_vendor, login, portal_client

DECLINING = {"payment_config": {"sandbox": {"outcomes": ["fail:card_declined"]}}}


async def test_dashboard_shows_grace_failures_and_accrual(db_url: str, tmp_path: Path) -> None:
    async with portal_client(db_url, tmp_path) as client:
        vendor, email = await billing_vendor(
            customers={"acme": {}, "globex": DECLINING},
            settings={"invoice_grace_period": "P3D"},
        )
        await advance(vendor, utc(2026, 2, 1, 12))  # both January cycles in grace
        await login(client, email)
        page = await client.get("/portal/")
        assert page.status_code == 200
        assert 'id="in-grace"' in page.text and "2d 12h" in page.text
        assert "No failed payments" in page.text
        await advance(vendor, utc(2026, 2, 7, 12))  # finalized Feb 4, charged Feb 7
        page = await client.get("/portal/")
        assert 'id="needing-attention"' in page.text and "globex" in page.text
        assert '<rect class="bar"' in page.text  # accrual entries were written
