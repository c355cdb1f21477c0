"""A third-party plugin, installed as its own distribution, is found, shown and used like a
bundled one: the example ``examplepay`` (examples/octane-example-provider, which ``make
install`` installs with ``pip install -e``) appears in ``octane plugins`` and the portal's
Plugins page with its origin and hooks, is loaded through its entry point when enabled,
and a whole billing cycle is charged through it on a test clock."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from octane.core.plugins import load_plugins
from octane.testing.world import CHARGED, FINALIZED, IN_GRACE, bill, open_world
from tests.integration.test_cli import octane
from tests.portal import login, portal_client, vendor_user

example = pytest.importorskip(
    "octane_example_provider",
    reason="the example plugin is not installed: pip install -e examples/octane-example-provider",
)
from octane_example_provider.fake import FakeExamplePay  # noqa: E402

ORIGIN = "entry point (octane-example-provider)"
HOOKS = {
    "check_compatibility",
    "collect_payment",
    "plugin_config_schema",
    "reconcile_payment",
    "register_jobs",
    "register_payment_providers",
    "register_routes",
    "register_settings_panels",
    "register_template_dirs",
}
CONFIG = """
[plugins]
enabled = ["sandbox", "examplepay"]

[plugins.examplepay]
api_base = "http://127.0.0.1:9"
api_key = { "$env" = "EXAMPLEPAY_API_KEY" }
webhook_secret = { "$env" = "EXAMPLEPAY_WEBHOOK_SECRET" }
timeout_seconds = 5
"""
SECRETS = {"EXAMPLEPAY_API_KEY": "ek_live_secret", "EXAMPLEPAY_WEBHOOK_SECRET": "ewhsec_secret"}


@pytest.fixture
def fake() -> Iterator[FakeExamplePay]:
    server = FakeExamplePay()
    server.start()
    yield server
    server.stop()


def test_octane_plugins_lists_it_with_its_origin_and_hooks(tmp_path: Path) -> None:
    (tmp_path / "octane.toml").write_text(CONFIG)
    listed = octane("plugins", "--json", cwd=tmp_path, env=SECRETS)
    assert listed.returncode == 0, listed.stderr
    (record,) = [r for r in json.loads(listed.stdout) if r["name"] == "examplepay"]
    assert record["origin"] == ORIGIN and record["enabled"] is True
    assert record["version"] == "0.1.0" and record["errors"] == []
    assert set(record["hooks"]) == HOOKS
    text = octane("plugins", cwd=tmp_path, env=SECRETS).stdout
    assert f"examplepay 0.1.0  [enabled]  {ORIGIN}" in text
    checked = octane("check-config", cwd=tmp_path, env=SECRETS)
    assert checked.returncode == 0, checked.stderr  # its block validates against its schema
    assert "ek_live_secret" not in checked.stdout


def test_a_bad_block_for_it_stops_the_cli_naming_the_key(tmp_path: Path) -> None:
    (tmp_path / "octane.toml").write_text(CONFIG.replace("timeout_seconds = 5", "timeout = 5"))
    checked = octane("check-config", cwd=tmp_path, env=SECRETS)
    assert checked.returncode == 2
    assert "plugins.examplepay.timeout: unknown key" in checked.stderr
    assert "Traceback" not in checked.stderr


def test_installed_is_not_enabled(tmp_path: Path) -> None:
    listed = octane("plugins", "--json", cwd=tmp_path)
    (record,) = [r for r in json.loads(listed.stdout) if r["name"] == "examplepay"]
    assert record["origin"] == ORIGIN and record["enabled"] is False


async def test_the_portal_plugins_page_shows_it(db_url: str, tmp_path: Path) -> None:
    async with portal_client(
        db_url,
        tmp_path,
        enabled=["examplepay"],
        blocks={"examplepay": {"api_key": "ek", "webhook_secret": "ewhsec"}},
        entry_points=True,
    ) as client:
        _, email = await vendor_user("Plugin Co")
        await login(client, email)
        page = await client.get("/portal/settings/plugins")
        assert page.status_code == 200
        row = page.text.split('data-plugin="examplepay"', 1)[1].split("</tr>", 1)[0]
        assert ORIGIN in row and "0.1.0" in row and "enabled" in row
        assert "collect_payment" in row and "reconcile_payment" in row
        assert "<strong>ExamplePay</strong>" in page.text  # among the payment providers
        provider = await client.get("/portal/settings/payment-provider")
        assert 'id="examplepay-panel"' in provider.text  # its settings panel


async def test_loaded_through_its_entry_point_and_charges_a_whole_cycle(
    db_url: str, tmp_path: Path, fake: FakeExamplePay
) -> None:
    host = load_plugins(["examplepay"], blocks={"examplepay": fake.block()})
    record = host.records["examplepay"]
    assert record.origin == ORIGIN and record.plugin is example
    assert host.provider_owner("examplepay") == "examplepay"

    async with open_world(
        db_url,
        tmp_path / "data",
        enabled=["sandbox", "examplepay"],
        blocks={"examplepay": fake.block()},
    ) as world:
        assert world.plugins.records["examplepay"].origin == ORIGIN
        await bill(world)
        headers: Any = world.headers
        patched = await world.client.patch(
            "/api/v1/customers/globex",
            json={"provider_ids": {"examplepay": "payer_globex"}},
            headers=headers,
        )
        assert patched.status_code == 200, patched.text
        chosen = await world.client.put(
            "/api/v1/settings/invoicing",
            json={"payment_provider": "examplepay", "delivery_channel": "sandbox"},
            headers=headers,
        )
        assert chosen.status_code == 200, chosen.text

        await world.at(IN_GRACE)
        assert (await world.invoice())["status"] == "draft"
        await world.at(FINALIZED)
        finalized = await world.invoice()
        assert finalized["number"] and finalized["status"] != "paid"
        assert fake.charges == []
        await world.at(CHARGED)
        paid = await world.invoice()

    assert paid["status"] == "paid" and paid["amount_paid"] == paid["total"] > 0
    (attempt,) = paid["payment_attempts"]
    (charge,) = fake.charges
    assert attempt["provider"] == "examplepay" and attempt["provider_reference"] == charge["id"]
    assert (charge["amount"], charge["status"]) == (paid["total"], "succeeded")
