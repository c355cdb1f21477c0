"""Portal: Settings -> Invoice settings, through the same validation as the API."""

from __future__ import annotations

from pathlib import Path

from octane.core.vendor_settings import get_invoice_settings
from tests.portal import login, page_csrf, portal_client, vendor_user

FORM = {
    "invoice_delivery": "on",
    "invoice_grace_period_amount": "2",
    "invoice_grace_period_unit": "days",
    "payment_grace_period_amount": "12",
    "payment_grace_period_unit": "hours",
    "auto_charge": "on",
    "payment_provider": "sandbox",
    "payment_retry_schedule": "1d, 3d, 12h",
    "delivery_channel": "sandbox",
}


async def test_saving_settings(db_url: str, tmp_path: Path) -> None:
    async with portal_client(db_url, tmp_path) as client:
        vendor, email = await vendor_user()
        assert (await login(client, email)).status_code == 303
        csrf = await page_csrf(client)
        response = await client.post(
            "/portal/settings/invoicing",
            data={**FORM, "csrf_token": csrf},
            headers={"HX-Request": "true"},
        )
        assert response.status_code == 200, response.text
        assert "Saved" in response.text and "<html" not in response.text
        stored = await get_invoice_settings(vendor)
        assert stored["invoice_grace_period"] == "P2D"
        assert stored["payment_grace_period"] == "PT12H"
        assert stored["payment_retry_schedule"] == ["P1D", "P3D", "PT12H"]
        assert stored["notifications"] is False


async def test_a_negative_grace_period_is_refused_inline(db_url: str, tmp_path: Path) -> None:
    async with portal_client(db_url, tmp_path) as client:
        vendor, email = await vendor_user()
        await login(client, email)
        csrf = await page_csrf(client)
        response = await client.post(
            "/portal/settings/invoicing",
            data={**FORM, "invoice_grace_period_amount": "-5", "csrf_token": csrf},
            headers={"HX-Request": "true"},
        )
        assert response.status_code == 422
        assert 'id="invoice_grace_period-error"' in response.text
        assert "Invoice grace period must be a whole number of days" in response.text
        assert (await get_invoice_settings(vendor))["invoice_grace_period"] == "P1D"


async def test_too_long_a_period_is_refused_by_the_core(db_url: str, tmp_path: Path) -> None:
    async with portal_client(db_url, tmp_path) as client:
        vendor, email = await vendor_user()
        await login(client, email)
        csrf = await page_csrf(client)
        response = await client.post(
            "/portal/settings/invoicing",
            data={
                **FORM,
                "payment_grace_period_amount": "400",
                "payment_grace_period_unit": "days",
                "csrf_token": csrf,
            },
        )
        assert response.status_code == 422
        assert "longer than the maximum of 366 days" in response.text
        assert "<html" in response.text  # without htmx, the whole page
        assert (await get_invoice_settings(vendor))["payment_grace_period"] == "P3D"
