"""Portal: the Stripe panel (Settings > Payment provider) against the local fake Stripe:
Connect with Stripe through OAuth, bound to the portal session; Stripe Tax; disconnect."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from octane.core.provider_accounts import find_account
from octane.testing.fake_stripe import FakeStripe
from tests.portal import login, page_csrf, portal_client, vendor_user

PANEL = "/portal/plugins/stripe"


@pytest.fixture
def fake() -> Iterator[FakeStripe]:
    server = FakeStripe()
    server.start()
    yield server
    server.stop()


def _client(db_url: str, tmp_path: Path, fake: FakeStripe, **overrides: Any) -> Any:
    block = {
        "secret_key": fake.secret_key,
        "connect_client_id": fake.client_id,
        "webhook_secret": fake.webhook_secret,
        "api_base": fake.url,
        **overrides,
    }
    return portal_client(db_url, tmp_path, enabled=["stripe"], blocks={"stripe": block})


async def test_connect_with_stripe_from_the_portal(
    db_url: str, tmp_path: Path, fake: FakeStripe
) -> None:
    async with _client(db_url, tmp_path, fake) as client:
        vendor, email = await vendor_user()
        await login(client, email)
        page = await client.get("/portal/settings/payment-provider")
        assert f'hx-get="{PANEL}/panel"' in page.text
        panel = await client.get(f"{PANEL}/panel", headers={"HX-Request": "true"})
        assert "Connect with Stripe" in panel.text
        csrf = await page_csrf(client, "/portal/settings/payment-provider")
        post = {"HX-Request": "true", "X-CSRF-Token": csrf}

        started = await client.post(f"{PANEL}/connect", headers=post)
        assert started.status_code == 200
        authorize = started.headers["HX-Redirect"]
        assert authorize.startswith(f"{fake.url}/oauth/authorize?")
        async with httpx.AsyncClient() as browser:
            approved = await browser.get(authorize)
        back = urlsplit(approved.headers["location"])
        callback = f"{back.path}?{back.query}"

        async with _client(db_url, tmp_path / "other", fake) as stranger:
            refused = await stranger.get(callback, follow_redirects=False)
            assert refused.status_code == 403
            assert refused.json()["error"]["code"] == "state_session_mismatch"
        assert await find_account(vendor, "stripe") is None

        done = await client.get(callback, follow_redirects=False)
        assert done.status_code == 302 and done.headers["location"] == (
            "/portal/settings?stripe=connected"
        )
        landed = await client.get(done.headers["location"])
        assert "Stripe is connected." in landed.text
        account = await find_account(vendor, "stripe")
        assert account is not None and account["account_id"] in fake.accounts
        panel = await client.get(f"{PANEL}/panel", headers={"HX-Request": "true"})
        assert account["account_id"] in panel.text and "Disconnect Stripe" in panel.text
        assert "No event received from Stripe yet" in panel.text
        event = fake.event("customer.updated", {"id": "cus_x"}, account=account["account_id"])
        payload, signature = fake.signed(event)
        await client.post(
            "/webhooks/stripe", content=payload, headers={"Stripe-Signature": signature}
        )
        panel = await client.get(f"{PANEL}/panel", headers={"HX-Request": "true"})
        assert "Last event from Stripe: <strong>customer.updated</strong>" in panel.text

        tax = await client.post(f"{PANEL}/settings", data={"automatic_tax": "on"}, headers=post)
        assert tax.status_code == 200 and "Stripe Tax is on." in tax.text
        account = await find_account(vendor, "stripe")
        assert account is not None and account["details"] == {"automatic_tax": True}

        gone = await client.post(f"{PANEL}/disconnect", headers=post)
        assert gone.status_code == 200 and "Stripe is disconnected." in gone.text
        assert 'id="stripe-disconnected"' in gone.text and "Connect with Stripe" in gone.text
        refused_tax = await client.post(
            f"{PANEL}/settings", data={"automatic_tax": "on"}, headers=post
        )
        assert refused_tax.status_code == 422 and 'id="automatic_tax-error"' in refused_tax.text


async def test_a_missing_platform_setting_shows_inline(
    db_url: str, tmp_path: Path, fake: FakeStripe
) -> None:
    async with _client(db_url, tmp_path, fake, connect_client_id=None) as client:
        _, email = await vendor_user()
        await login(client, email)
        csrf = await page_csrf(client, "/portal/settings/payment-provider")
        response = await client.post(
            f"{PANEL}/connect", headers={"HX-Request": "true", "X-CSRF-Token": csrf}
        )
        assert response.status_code == 422 and 'id="connect-error"' in response.text
        assert "connect_client_id is not set" in response.text


async def test_a_card_link_from_the_customer_page(
    db_url: str, tmp_path: Path, fake: FakeStripe
) -> None:
    from octane.core.clock import utc
    from octane.core.provider_accounts import connect_account
    from tests.portal import billing_vendor

    async with _client(db_url, tmp_path, fake) as client:
        vendor, email = await billing_vendor()
        await login(client, email)
        page = await client.get("/portal/customers/acme")
        assert "Card link (Stripe)" in page.text
        csrf = await page_csrf(client, "/portal/customers/acme")
        post = {"HX-Request": "true", "X-CSRF-Token": csrf}
        refused = await client.post(f"{PANEL}/customers/acme/card-link", headers=post)
        assert refused.status_code == 409 and 'id="card-link-error"' in refused.text
        await connect_account(
            vendor, "stripe", account_id=fake.connect_account(), at=utc(2026, 1, 1)
        )
        made = await client.post(f"{PANEL}/customers/acme/card-link", headers=post)
        assert made.status_code == 200 and f"{fake.url}/c/setup/cs_test_" in made.text
        missing = await client.post(f"{PANEL}/customers/nobody/card-link", headers=post)
        assert missing.status_code == 404
