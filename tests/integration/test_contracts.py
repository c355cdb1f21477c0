"""The bundled payment providers pass the contract suite third-party providers subclass
(:mod:`octane.testing.contracts`): the sandbox, and Stripe against its local fake."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from octane.core.clock import utc
from octane.core.customers import get_customer_row, update_customer
from octane.core.provider_accounts import connect_account
from octane.core.store.tables import SandboxCharge
from octane.core.views import customer_view_by_id
from octane.testing.contracts import PaymentProviderContract, PaymentWebhookContract
from octane.testing.fake_stripe import FakeStripe
from octane.testing.world import World, open_world

SANDBOX_SCRIPTS = {"succeed": ["succeed"], "decline": ["fail:card_declined"], "lose": ["unknown"]}


class TestSandboxContract(PaymentProviderContract):
    provider = "sandbox"

    @pytest.fixture
    async def world(self, db_url: str, tmp_path: Path) -> AsyncIterator[World]:
        async with open_world(db_url, tmp_path / "data", enabled=["sandbox"], blocks={}) as w:
            yield w

    async def arrange(self, world: World, outcome: str) -> None:
        script: dict[str, Any] = {"outcomes": SANDBOX_SCRIPTS[outcome]}
        if outcome == "lose":
            script["unknown_resolves_to"] = "succeeded"
        await update_customer(world.vendor, "globex", {"payment_config": {"sandbox": script}})

    async def charges_recorded(self, world: World) -> int:
        return int(
            await SandboxCharge.count().where(
                (SandboxCharge.vendor == world.vendor) & (SandboxCharge.status == "succeeded")
            )
        )


class TestStripeContract(PaymentWebhookContract):
    provider = "stripe"

    @pytest.fixture
    def fake(self) -> Iterator[FakeStripe]:
        server = FakeStripe()
        server.start()
        yield server
        server.stop()

    @pytest.fixture
    async def world(self, db_url: str, tmp_path: Path, fake: FakeStripe) -> AsyncIterator[World]:
        block = {
            "secret_key": fake.secret_key,
            "connect_client_id": fake.client_id,
            "webhook_secret": fake.webhook_secret,
            "api_base": fake.url,
            "timeout_seconds": 1,
        }
        async with open_world(
            db_url, tmp_path / "data", enabled=["sandbox", "stripe"], blocks={"stripe": block}
        ) as opened:
            opened.runtime.state["fake"] = fake
            yield opened

    async def arrange(self, world: World, outcome: str) -> None:
        from octane.plugins.stripe.client import stripe_client
        from octane.plugins.stripe.customers import ensure_customer

        fake: FakeStripe = world.runtime.state["fake"]
        account = fake.connect_account()
        world.runtime.state["account"] = account
        await connect_account(world.vendor, "stripe", account_id=account, at=utc(2026, 3, 20))
        row = await get_customer_row(world.vendor, "globex")
        customer, _ = await customer_view_by_id(str(row["id"]))
        client = stripe_client(world.plugins.context("stripe"))
        stripe_customer = await ensure_customer(client, account, customer)
        card = "pm_card_chargeDeclined" if outcome == "decline" else "pm_card_visa"
        fake.add_card(account, stripe_customer, card)
        if outcome == "lose":
            fake.hang_after_recording = 3.0  # charged, then the answer times out (1 s)

    async def charges_recorded(self, world: World) -> int:
        fake: FakeStripe = world.runtime.state["fake"]
        intents = fake.payment_intents(world.runtime.state["account"])
        return sum(1 for intent in intents if intent["status"] == "succeeded")

    async def post_success_webhook(self, world: World, *, forged: bool = False) -> Any:
        fake: FakeStripe = world.runtime.state["fake"]
        account = world.runtime.state["account"]
        (intent,) = fake.payment_intents(account)
        payload, signature = fake.signed(
            fake.event("payment_intent.succeeded", intent, account=account)
        )
        if forged:
            signature = signature.replace("v1=", "v1=0")
        return await world.client.post(
            "/webhooks/stripe",
            content=payload,
            headers={"Stripe-Signature": signature, "Content-Type": "application/json"},
        )
