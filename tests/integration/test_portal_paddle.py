"""Portal: the Paddle panel (Settings > Payment provider) against the local fake Paddle:
connect with a key and a secret (inline errors), test the key, disconnect."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from octane.core.provider_accounts import find_account
from octane.testing.fake_paddle import FakePaddle
from tests.portal import login, page_csrf, portal_client, vendor_user

PANEL = "/portal/plugins/paddle"


@pytest.fixture
def fake() -> Iterator[FakePaddle]:
    server = FakePaddle()
    server.start()
    yield server
    server.stop()


async def test_connect_test_and_disconnect_paddle(
    db_url: str, tmp_path: Path, fake: FakePaddle
) -> None:
    block = {"sandbox_api_base": fake.url, "live_api_base": fake.url}
    async with portal_client(
        db_url, tmp_path, enabled=["paddle"], blocks={"paddle": block}
    ) as client:
        vendor, email = await vendor_user()
        await login(client, email)
        page = await client.get("/portal/settings/payment-provider")
        assert f'hx-get="{PANEL}/panel"' in page.text
        csrf = await page_csrf(client, "/portal/settings/payment-provider")
        post = {"HX-Request": "true", "X-CSRF-Token": csrf}

        spaced = await client.post(
            f"{PANEL}/connection",
            data={"api_key": "pdl key with spaces", "webhook_secret": "pdl_ntf_x123456"},
            headers=post,
        )
        assert spaced.status_code == 422 and 'id="api_key-error"' in spaced.text
        assert "has spaces in it" in spaced.text
        missing = await client.post(
            f"{PANEL}/connection", data={"api_key": fake.api_key}, headers=post
        )
        assert missing.status_code == 422 and 'id="webhook_secret-error"' in missing.text
        assert await find_account(vendor, "paddle") is None

        saved = await client.post(
            f"{PANEL}/connection",
            data={"api_key": fake.api_key, "webhook_secret": fake.webhook_secret},
            headers=post,
        )
        assert saved.status_code == 200 and "Paddle is connected." in saved.text
        assert fake.api_key not in saved.text and fake.webhook_secret not in saved.text
        assert f"/webhooks/paddle/{vendor}" in saved.text
        tested = await client.post(f"{PANEL}/connection/test", headers=post)
        assert tested.status_code == 200 and "Paddle accepted the API key." in tested.text

        await client.post(
            f"{PANEL}/connection",
            data={"api_key": "pdl_sdbx_apikey_wrong_key_0000", "webhook_secret": "pdl_ntf_x1234"},
            headers=post,
        )
        refused = await client.post(f"{PANEL}/connection/test", headers=post)
        assert refused.status_code == 422 and "Paddle refused the key" in refused.text

        gone = await client.post(f"{PANEL}/disconnect", headers=post)
        assert gone.status_code == 200 and "Paddle is disconnected." in gone.text
        account = await find_account(vendor, "paddle")
        assert account is not None and account["status"] == "disconnected"
        assert account["secrets"] == ""


async def test_a_checkout_link_from_the_customer_page(
    db_url: str, tmp_path: Path, fake: FakePaddle
) -> None:
    from octane.core.clock import utc
    from tests.portal import advance, billing_vendor

    block = {"sandbox_api_base": fake.url, "live_api_base": fake.url}
    async with portal_client(
        db_url, tmp_path, enabled=["paddle"], blocks={"paddle": block}
    ) as client:
        vendor, email = await billing_vendor(settings={"auto_charge": False})
        await advance(vendor, utc(2026, 2, 3))  # January's invoice is finalized
        await login(client, email)
        csrf = await page_csrf(client, "/portal/settings/payment-provider")
        post = {"HX-Request": "true", "X-CSRF-Token": csrf}
        await client.post(
            f"{PANEL}/connection",
            data={"api_key": fake.api_key, "webhook_secret": fake.webhook_secret},
            headers=post,
        )
        page = await client.get("/portal/customers/acme")
        assert "Paddle checkout link for" in page.text
        invoice_id = page.text.split('name="invoice_id"><option value="')[1].split('"')[0]
        made = await client.post(
            f"{PANEL}/checkout-link", data={"invoice_id": invoice_id}, headers=post
        )
        assert made.status_code == 200 and f"{fake.url}/checkout?_ptxn=txn_" in made.text
        other = await client.post(
            f"{PANEL}/checkout-link", data={"invoice_id": "inv_nope"}, headers=post
        )
        assert other.status_code == 404
