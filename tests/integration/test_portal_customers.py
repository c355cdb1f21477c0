"""Portal: customers searched as you type, paginated; a customer's billing; granting credit."""

from __future__ import annotations

from pathlib import Path

from octane.core.clock import SystemClock, utc
from octane.core.clocks import vendor_clock
from octane.core.credit_grants import credit_summary
from octane.core.customers import create_customer
from tests.portal import advance, billing_vendor, login, page_csrf, portal_client, vendor_user


async def test_search_and_pages(db_url: str, tmp_path: Path) -> None:
    async with portal_client(db_url, tmp_path) as client:
        vendor, email = await vendor_user()
        for n in range(30):
            await create_customer(
                vendor,
                {"name": f"cust-{n:02d}", "currency": "EUR", "display_name": f"Company {n}"},
                clock=SystemClock(),
            )
        await create_customer(
            vendor,
            {"name": "zeta", "currency": "EUR", "display_name": "Zeta GmbH"},
            clock=SystemClock(),
        )
        await login(client, email)
        first = await client.get("/portal/customers")
        assert "cust-00" in first.text and "cust-24" in first.text and "cust-25" not in first.text
        assert 'id="customers-next"' in first.text
        second = await client.get("/portal/customers?after=cust-24", headers={"HX-Request": "true"})
        assert "cust-25" in second.text and "zeta" in second.text and "cust-24" not in second.text
        found = await client.get("/portal/customers?q=gmbh", headers={"HX-Request": "true"})
        assert "zeta" in found.text and "cust-" not in found.text and "<html" not in found.text
        none = await client.get("/portal/customers?q=nothing-like-this")
        assert "No customer matches" in none.text


async def test_detail_and_granting_credit(db_url: str, tmp_path: Path) -> None:
    async with portal_client(db_url, tmp_path) as client:
        vendor, email = await billing_vendor()
        await advance(vendor, utc(2026, 2, 10))  # January invoiced and paid; February running
        await login(client, email)
        page = await client.get("/portal/customers/acme")
        assert page.status_code == 200
        for text in ("basic", "Usage this cycle", "INV-", "payment", "$20.00"):
            assert text in page.text, text
        csrf = await page_csrf(client, "/portal/customers/acme")
        htmx = {"HX-Request": "true", "X-CSRF-Token": csrf}
        bad = await client.post(
            "/portal/customers/acme/credits", headers=htmx, data={"amount": "-3"}
        )
        assert bad.status_code == 422 and 'id="amount-error"' in bad.text
        bad_date = await client.post(
            "/portal/customers/acme/credits",
            headers=htmx,
            data={"amount": "5", "expires_at": "soon"},
        )
        assert bad_date.status_code == 422 and 'id="expires_at-error"' in bad_date.text
        granted = await client.post(
            "/portal/customers/acme/credits",
            headers=htmx,
            data={"amount": "25.00", "description": "Goodwill"},
        )
        assert granted.status_code == 200 and "Goodwill" in granted.text
        assert 'id="customer-credits"' in granted.text and "<html" not in granted.text
        summary = await credit_summary(vendor, "acme", clock=await vendor_clock(vendor))
        assert summary["balance"] == 2500


async def test_another_vendors_customer_is_not_found(db_url: str, tmp_path: Path) -> None:
    async with portal_client(db_url, tmp_path) as client:
        await billing_vendor()
        _, intruder = await vendor_user("Intruder")
        await login(client, intruder)
        assert (await client.get("/portal/customers/acme")).status_code == 404
        assert "No customer matches" in (await client.get("/portal/customers?q=acme")).text
        csrf = await page_csrf(client, "/portal/customers")
        response = await client.post(
            "/portal/customers/acme/credits", data={"csrf_token": csrf, "amount": "5"}
        )
        assert response.status_code == 404


async def test_applying_a_coupon(db_url: str, tmp_path: Path) -> None:
    from octane.core.coupons import create_coupon

    async with portal_client(db_url, tmp_path) as client:
        vendor, email = await billing_vendor()
        clock = await vendor_clock(vendor)
        await create_coupon(vendor, clock=clock, code="LAUNCH20", percent_off="20", duration="once")
        await login(client, email)
        csrf = await page_csrf(client, "/portal/customers/acme")
        htmx = {"HX-Request": "true", "X-CSRF-Token": csrf}
        unknown = await client.post(
            "/portal/customers/acme/coupons", headers=htmx, data={"code": "NOPE"}
        )
        assert unknown.status_code == 422 and 'id="code-error"' in unknown.text
        applied = await client.post(
            "/portal/customers/acme/coupons", headers=htmx, data={"code": "LAUNCH20"}
        )
        assert applied.status_code == 200 and 'id="coupon-notice"' in applied.text
        assert "20% off" in applied.text
        again = await client.post(
            "/portal/customers/acme/coupons", headers=htmx, data={"code": "LAUNCH20"}
        )
        assert again.status_code == 422 and "already redeemed" in again.text


async def test_invoice_setting_overrides(db_url: str, tmp_path: Path) -> None:
    from octane.core.customers import get_customer

    async with portal_client(db_url, tmp_path) as client:
        vendor, email = await billing_vendor()
        await login(client, email)
        page = await client.get("/portal/customers/acme/settings")
        assert "As the vendor (1d)" in page.text or "as the vendor: 1d" in page.text
        csrf = await page_csrf(client, "/portal/customers/acme/settings")
        htmx = {"HX-Request": "true", "X-CSRF-Token": csrf}
        bad = await client.post(
            "/portal/customers/acme/settings",
            headers=htmx,
            data={"payment_grace_period_amount": "-2", "payment_grace_period_unit": "days"},
        )
        assert bad.status_code == 422 and 'id="payment_grace_period-error"' in bad.text
        assert (await get_customer(vendor, "acme"))["invoice_settings"] == {}
        saved = await client.post(
            "/portal/customers/acme/settings",
            headers=htmx,
            data={
                "payment_grace_period_amount": "7",
                "payment_grace_period_unit": "days",
                "auto_charge": "off",
                "payment_provider": "none",
            },
        )
        assert saved.status_code == 200 and 'id="overrides-saved"' in saved.text
        stored = (await get_customer(vendor, "acme"))["invoice_settings"]
        assert stored == {
            "payment_grace_period": "P7D",
            "auto_charge": False,
            "payment_provider": None,
        }
        cleared = await client.post("/portal/customers/acme/settings", headers=htmx, data={})
        assert cleared.status_code == 200
        assert (await get_customer(vendor, "acme"))["invoice_settings"] == {}
