"""``POST /webhooks/examplepay`` beyond the contract suite: declines, events that are not
about an Octane charge, broken requests, and a missing secret."""

from __future__ import annotations

from pathlib import Path

import pytest
from octane.core.errors import ConfigError
from octane.core.plugins import load_plugins
from octane.testing.world import CHARGED, FINALIZED, World, bill, open_world

from octane_example_provider.fake import FakeExamplePay

from .conftest import PAYER, use_examplepay


async def _lost_charge(world: World, fake: FakeExamplePay) -> dict[str, object]:
    """globex's charge was recorded at ExamplePay but its answer never reached Octane."""
    await bill(world)
    await use_examplepay(world)
    await world.client.put(
        "/api/v1/settings/invoicing",
        json={"payment_provider": "examplepay", "delivery_channel": "sandbox"},
        headers=world.headers,
    )
    fake.script(PAYER, "lose")
    await world.at(FINALIZED)
    await world.at(CHARGED)
    (attempt,) = (await world.invoice())["payment_attempts"]
    assert attempt["status"] == "unknown"
    return fake.charges_of(PAYER)[-1]


async def test_a_declined_event_fails_the_attempt_with_its_neutral_code(
    world: World, fake: FakeExamplePay
) -> None:
    charge = await _lost_charge(world, fake)
    declined = {
        **charge,
        "status": "declined",
        "decline_code": "no_funds",
        "decline_message": "The card has insufficient funds.",
    }
    payload, headers = fake.signed(fake.event("charge.declined", declined))
    response = await world.client.post("/webhooks/examplepay", content=payload, headers=headers)
    assert response.json() == {"received": True, "status": "processed"}
    invoice = await world.invoice()
    (attempt,) = invoice["payment_attempts"]
    assert invoice["status"] == "failed" and attempt["failure_code"] == "insufficient_funds"


async def test_an_event_about_another_charge_is_acknowledged_and_ignored(
    world: World, fake: FakeExamplePay
) -> None:
    foreign = {"id": "ch_elsewhere", "status": "succeeded", "metadata": {}}
    payload, headers = fake.signed(fake.event("charge.succeeded", foreign))
    response = await world.client.post("/webhooks/examplepay", content=payload, headers=headers)
    assert response.status_code == 200
    assert response.json() == {"received": True, "ignored": "not an Octane charge"}
    again = await world.client.post("/webhooks/examplepay", content=payload, headers=headers)
    assert again.json() == {"received": True, "duplicate": True}


async def test_a_signed_body_that_is_not_an_event_is_refused(
    world: World, fake: FakeExamplePay
) -> None:
    payload, headers = fake.signed({"hello": "world"})
    response = await world.client.post("/webhooks/examplepay", content=payload, headers=headers)
    assert response.status_code == 400
    assert response.json()["error"]["field"] == "body"


async def test_an_unsigned_event_is_refused_naming_the_header(
    world: World, fake: FakeExamplePay
) -> None:
    payload, _ = fake.signed(fake.event("charge.succeeded", {"id": "ch_1"}))
    response = await world.client.post("/webhooks/examplepay", content=payload)
    assert response.status_code == 400
    assert response.json()["error"]["field"] == "ExamplePay-Signature"


async def test_without_a_webhook_secret_events_are_refused_naming_the_setting(
    db_url: str, tmp_path: Path, fake: FakeExamplePay
) -> None:
    async with open_world(
        db_url,
        tmp_path / "data",
        enabled=["examplepay"],
        blocks={"examplepay": fake.block(webhook_secret=None)},
    ) as world:
        payload, headers = fake.signed(fake.event("charge.succeeded", {"id": "ch_1"}))
        response = await world.client.post("/webhooks/examplepay", content=payload, headers=headers)
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "plugins.examplepay.webhook_secret"


def test_a_bad_config_block_stops_start_up_naming_the_key() -> None:
    with pytest.raises(ConfigError) as caught:
        load_plugins(["examplepay"], blocks={"examplepay": {"timeout_seconds": "soon"}})
    assert caught.value.field == "plugins.examplepay.timeout_seconds"
    with pytest.raises(ConfigError) as unknown:
        load_plugins(["examplepay"], blocks={"examplepay": {"api_secret": "x"}})
    assert unknown.value.field == "plugins.examplepay.api_secret"
