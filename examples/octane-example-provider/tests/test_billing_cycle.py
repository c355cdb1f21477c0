"""A whole billing cycle on a test clock, charged through ExamplePay: March's usage is
billed, its invoice finalized after the grace period, charged after the payment grace
period, and paid; a declined charge is retried on schedule under a new key."""

from __future__ import annotations

from datetime import timedelta

from octane.testing.world import CHARGED, FINALIZED, IN_GRACE, World, bill

from octane_example_provider.fake import FakeExamplePay

from .conftest import PAYER, use_examplepay


async def _billed_through_examplepay(world: World, **settings: object) -> None:
    await bill(world)
    await use_examplepay(world)
    response = await world.client.put(
        "/api/v1/settings/invoicing",
        json={"payment_provider": "examplepay", "delivery_channel": "sandbox", **settings},
        headers=world.headers,
    )
    assert response.status_code == 200, response.text


async def test_bill_finalize_charge_and_pay(world: World, fake: FakeExamplePay) -> None:
    await _billed_through_examplepay(world)
    await world.at(IN_GRACE)
    draft = await world.invoice()
    assert draft["status"] == "draft" and draft["total"] > 0
    assert fake.charges == []  # nothing is charged during the grace periods

    await world.at(FINALIZED)
    finalized = await world.invoice()
    assert finalized["status"] not in ("draft", "paid") and finalized["number"]
    assert finalized["total"] == draft["total"]
    assert fake.charges == []

    await world.at(CHARGED)
    paid = await world.invoice()
    assert paid["status"] == "paid"
    assert paid["amount_paid"] == paid["total"]
    (attempt,) = paid["payment_attempts"]
    (charge,) = fake.charges_of(PAYER)
    assert attempt["status"] == "succeeded" and attempt["provider"] == "examplepay"
    assert attempt["provider_reference"] == charge["id"]
    assert charge["amount"] == paid["total"] and charge["currency"] == paid["currency"]
    assert charge["metadata"]["octane_invoice"] == paid["id"]
    assert charge["idempotency_key"] == f"{paid['id']}:1"


async def test_a_decline_is_retried_on_schedule_under_a_new_key(
    world: World, fake: FakeExamplePay
) -> None:
    fake.script(PAYER, "decline:no_funds", "succeed")
    await _billed_through_examplepay(world, payment_retry_schedule=["P2D"])
    await world.at(FINALIZED)
    await world.at(CHARGED)
    failed = await world.invoice()
    assert failed["status"] == "failed"
    (attempt,) = failed["payment_attempts"]
    assert attempt["failure_code"] == "insufficient_funds"
    assert "insufficient funds" in attempt["failure_message"]

    await world.at(CHARGED + timedelta(days=2, hours=1))
    paid = await world.invoice()
    assert paid["status"] == "paid"
    assert [a["status"] for a in paid["payment_attempts"]] == ["failed", "succeeded"]
    declined, succeeded = fake.charges_of(PAYER)
    assert (declined["status"], succeeded["status"]) == ("declined", "succeeded")
    assert declined["idempotency_key"] != succeeded["idempotency_key"]
