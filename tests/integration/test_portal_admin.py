"""Portal: Settings -> Plugins (with a plugin's settings panel) and API keys."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from litestar import post
from litestar.di import NamedDependency

from octane import hookimpl
from octane.core.clock import SystemClock
from octane.core.contracts import SettingsPanel
from octane.core.vendors import authenticate_api_key, create_api_key, list_api_keys
from octane.web.portal.session import Portal
from tests.portal import login, page_csrf, portal_client, vendor_user


@post("/portal/plugins/acmepay/connect", status_code=200)
async def acmepay_connect(portal: NamedDependency[Portal]) -> dict[str, str]:
    return {"connected": portal.vendor_id}


class PanelPlugin:
    def __init__(self, folder: Path) -> None:
        self.folder = folder

    @hookimpl
    def register_template_dirs(self) -> list[Path]:
        return [self.folder]

    @hookimpl
    def register_routes(self) -> list[Any]:
        return [acmepay_connect]

    @hookimpl
    def register_settings_panels(self) -> list[SettingsPanel]:
        return [
            SettingsPanel(
                name="connect",
                title="Connect Acmepay",
                template="acmepay/panel.html",
                section="payment_provider",
            )
        ]


async def test_plugins_and_their_panels(db_url: str, tmp_path: Path) -> None:
    folder = tmp_path / "templates"
    (folder / "acmepay").mkdir(parents=True)
    (folder / "acmepay" / "panel.html").write_text(
        '<p id="acmepay-panel">Connected for {{ session.vendor_name }}</p>'
    )
    async with portal_client(
        db_url, tmp_path, extra_plugins={"acmepay": PanelPlugin(folder)}
    ) as client:
        vendor, email = await vendor_user("Panel Co")
        await login(client, email)
        page = await client.get("/portal/settings/plugins")
        assert page.status_code == 200
        assert 'data-plugin="sandbox"' in page.text and 'data-plugin="acmepay"' in page.text
        assert "collect_payment" in page.text and "enabled" in page.text
        assert '<p id="acmepay-panel">Connected for Panel Co</p>' in page.text
        provider = await client.get("/portal/settings/payment-provider")
        assert '<p id="acmepay-panel">Connected for Panel Co</p>' in provider.text
        back = await client.get("/portal/settings?acmepay=connected", follow_redirects=False)
        assert back.headers["location"] == "/portal/settings/payment-provider?acmepay=connected"
        assert "Acmepay is connected." in (await client.get(back.headers["location"])).text
        delivery = await client.get("/portal/settings/delivery")
        assert "No enabled plugin shows a panel here yet" in delivery.text
        assert "Sandbox" in delivery.text  # the channels there are
        assert (await client.get("/portal/settings/nothing-here")).status_code == 404
        # A plugin's page under /portal/ sits behind the same session guard and CSRF check.
        refused = await client.post("/portal/plugins/acmepay/connect")
        assert refused.status_code == 403
        csrf = await page_csrf(client, "/portal/settings/plugins")
        ok = await client.post("/portal/plugins/acmepay/connect", headers={"X-CSRF-Token": csrf})
        assert ok.status_code == 200 and ok.json() == {"connected": vendor}
        client.cookies.clear()
        anonymous = await client.post("/portal/plugins/acmepay/connect", follow_redirects=False)
        assert anonymous.status_code == 303


async def test_api_keys_created_once_listed_and_revoked(db_url: str, tmp_path: Path) -> None:
    async with portal_client(db_url, tmp_path) as client:
        vendor, email = await vendor_user()
        await login(client, email)
        csrf = await page_csrf(client, "/portal/settings/api-keys")
        htmx = {"HX-Request": "true", "X-CSRF-Token": csrf}
        unnamed = await client.post("/portal/settings/api-keys", headers=htmx, data={"name": ""})
        assert unnamed.status_code == 422 and 'id="name-error"' in unnamed.text
        created = await client.post(
            "/portal/settings/api-keys", headers=htmx, data={"name": "production"}
        )
        key = created.text.split('id="new-key-value"', 1)[1].split(">", 1)[1].split("<", 1)[0]
        assert await authenticate_api_key(key) == vendor
        listed = await client.get("/portal/settings/api-keys")
        assert key not in listed.text and "production" in listed.text  # shown once
        (row,) = await list_api_keys(vendor)
        revoked = await client.post(f"/portal/settings/api-keys/{row['id']}/revoke", headers=htmx)
        assert "revoked" in revoked.text
        other, _ = await vendor_user("Other")
        theirs = await create_api_key(other, clock=SystemClock(), name="theirs")
        refused = await client.post(f"/portal/settings/api-keys/{theirs.id}/revoke", headers=htmx)
        assert refused.status_code == 404
        assert await authenticate_api_key(theirs.key) == other


async def test_meters_and_plans(db_url: str, tmp_path: Path) -> None:
    from tests.portal import billing_vendor

    async with portal_client(db_url, tmp_path) as client:
        _, email = await billing_vendor()
        await login(client, email)
        page = await client.get("/portal/catalog")
        assert (
            "<code>calls</code>" in page.text and "basic" in page.text and "per_unit" in page.text
        )
        csrf = await page_csrf(client, "/portal/catalog")
        htmx = {"HX-Request": "true", "X-CSRF-Token": csrf}
        duplicate = await client.post(
            "/portal/catalog/meters", headers=htmx, data={"name": "calls", "aggregation": "sum"}
        )
        assert duplicate.status_code == 422 and 'id="name-error"' in duplicate.text
        unlabeled = await client.post(
            "/portal/catalog/meters",
            headers=htmx,
            data={"name": "seats", "aggregation": "unique_count"},
        )
        assert unlabeled.status_code == 422 and 'id="unique_label-error"' in unlabeled.text
        created = await client.post(
            "/portal/catalog/meters",
            headers=htmx,
            data={"name": "gb_stored", "aggregation": "max", "unit": "GB"},
        )
        assert created.status_code == 200 and 'id="meter-created"' in created.text
        assert "<code>gb_stored</code>" in created.text
        assert 'id="plans" hx-swap-oob="true"' in created.text
        assert '<option value="gb_stored"' in created.text  # the plan form offers it at once


async def test_every_sidebar_link_opens_a_page(db_url: str, tmp_path: Path) -> None:
    import re

    from tests.portal import billing_vendor

    async with portal_client(db_url, tmp_path) as client:
        _, email = await billing_vendor()
        await login(client, email)
        home = await client.get("/portal/")
        nav = home.text.split("<nav>", 1)[1].split("</nav>", 1)[0]
        links = sorted(set(re.findall(r'href="(/portal/[^"]*)"', nav)))
        assert len(links) >= 9
        for link in links:
            response = await client.get(link)
            assert response.status_code == 200, link
        assert (await client.get("/portal/static/htmx.min.js")).status_code == 200
        assert (await client.get("/portal/static/portal.css")).status_code == 200


async def test_creating_a_price_plan_with_tiers(db_url: str, tmp_path: Path) -> None:
    from octane.core.catalog import get_plan
    from tests.portal import billing_vendor

    async with portal_client(db_url, tmp_path) as client:
        vendor, email = await billing_vendor()
        await login(client, email)
        csrf = await page_csrf(client, "/portal/catalog")
        htmx = {"HX-Request": "true", "X-CSRF-Token": csrf}
        plan = {
            "name": "growth",
            "currency": "usd",
            "period": "month",
            "fixed_fee": "49",
            "meter": "calls",
            "model": "graduated",
        }
        shape = await client.post(
            "/portal/catalog/plans", headers=htmx, data={**plan, "tiers": "100"}
        )
        assert shape.status_code == 422 and 'id="plan-tiers-error"' in shape.text
        order = await client.post(
            "/portal/catalog/plans",
            headers=htmx,
            data={**plan, "tiers": "1000 0.15\n100 0.20\n* 0.10"},
        )
        assert (
            order.status_code == 422 and "Tier 2: Tiers must have strictly increasing" in order.text
        )
        fee = await client.post(
            "/portal/catalog/plans",
            headers=htmx,
            data={**plan, "fixed_fee": "-1", "tiers": "100 0.20\n* 0.10"},
        )
        assert fee.status_code == 422 and 'id="plan-fixed_fee-error"' in fee.text
        created = await client.post(
            "/portal/catalog/plans",
            headers=htmx,
            data={**plan, "tiers": "100 0.20\n1000 0.15\n* 0.10"},
        )
        assert created.status_code == 200 and 'id="plan-created"' in created.text
        stored = await get_plan(vendor, "growth")
        assert stored["currency"] == "USD"
        assert [t["up_to"] for t in stored["components"][0]["tiers"]] == ["100", "1000", None]


async def test_coupons_are_created_in_the_catalog_with_inline_errors(
    db_url: str, tmp_path: Path
) -> None:
    from octane.core.coupons import list_coupons
    from tests.portal import billing_vendor

    async with portal_client(db_url, tmp_path) as client:
        vendor, email = await billing_vendor()
        await login(client, email)
        csrf = await page_csrf(client, "/portal/catalog")
        htmx = {"HX-Request": "true", "X-CSRF-Token": csrf}
        too_much = await client.post(
            "/portal/catalog/coupons",
            headers=htmx,
            data={"code": "HALF", "kind": "percent", "value": "150", "duration": "once"},
        )
        assert too_much.status_code == 422 and 'id="value-error"' in too_much.text
        assert "between 0 (excluded) and 100" in too_much.text
        no_cycles = await client.post(
            "/portal/catalog/coupons",
            headers=htmx,
            data={"code": "RPT", "kind": "percent", "value": "10", "duration": "repeating"},
        )
        assert no_cycles.status_code == 422 and 'id="duration_cycles-error"' in no_cycles.text
        made = await client.post(
            "/portal/catalog/coupons",
            headers=htmx,
            data={
                "code": "WELCOME",
                "kind": "amount",
                "value": "25.00",
                "currency": "USD",
                "duration": "repeating",
                "duration_cycles": "3",
            },
        )
        assert made.status_code == 200 and "Coupon “WELCOME” created." in made.text
        assert "$25.00" in made.text and "<html" not in made.text
        (coupon,) = await list_coupons(vendor)
        assert (coupon["amount_off"], coupon["duration_cycles"]) == (2500, 3)
        again = await client.post(
            "/portal/catalog/coupons",
            headers=htmx,
            data={"code": "WELCOME", "kind": "percent", "value": "5", "duration": "once"},
        )
        assert again.status_code == 422 and 'id="code-error"' in again.text


async def test_a_plan_is_edited_in_the_portal_until_it_is_used(db_url: str, tmp_path: Path) -> None:
    from octane.core.catalog import get_plan
    from tests.portal import billing_vendor

    async with portal_client(db_url, tmp_path) as client:
        vendor, email = await billing_vendor()  # plan "basic" is used by acme
        await login(client, email)
        csrf = await page_csrf(client, "/portal/catalog")
        htmx = {"HX-Request": "true", "X-CSRF-Token": csrf}
        created = await client.post(
            "/portal/catalog/plans",
            headers=htmx,
            data={
                "name": "pro",
                "currency": "USD",
                "period": "month",
                "fixed_fee": "20",
                "meter": "calls",
                "model": "graduated",
                "tiers": "100 0.20\n* 0.10",
            },
        )
        assert created.status_code == 200, created.text
        assert 'href="/portal/catalog/plans/pro"' in created.text
        page = await client.get("/portal/catalog/plans/pro")
        assert page.status_code == 200 and "100 0.20\n* 0.10" in page.text
        assert 'value="20"' in page.text
        bad = await client.post(
            "/portal/catalog/plans/pro",
            headers=htmx,
            data={
                "currency": "USD",
                "period": "month",
                "meter": "calls",
                "model": "graduated",
                "tiers": "100 0.20\n50 0.10\n* 0.05",
            },
        )
        assert bad.status_code == 422 and 'id="plan-tiers-error"' in bad.text
        saved = await client.post(
            "/portal/catalog/plans/pro",
            headers=htmx,
            data={
                "currency": "USD",
                "period": "month",
                "fixed_fee": "25",
                "meter": "calls",
                "model": "graduated",
                "tiers": "100 0.25\n* 0.10",
            },
        )
        assert saved.status_code == 200 and 'id="plan-saved"' in saved.text
        plan = await get_plan(vendor, "pro")
        assert (
            plan["fixed_fee"] == "25" and plan["components"][0]["tiers"][0]["unit_price"] == "0.25"
        )
        used = await client.get("/portal/catalog/plans/basic")
        assert 'id="plan-in-use"' in used.text
        refused = await client.post(
            "/portal/catalog/plans/basic",
            headers=htmx,
            data={"currency": "USD", "period": "month", "fixed_fee": "99"},
        )
        assert refused.status_code == 409 and "a plan in use cannot change" in refused.text
        assert (await get_plan(vendor, "basic"))["fixed_fee"] == "10"
