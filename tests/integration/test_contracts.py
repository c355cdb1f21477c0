"""The bundled plugins pass the contract suites third-party plugins subclass
(:mod:`octane.testing.contracts`): the sandbox, Stripe and Paddle (against their local fakes)
as payment providers; the sandbox, pdf_email (against a real SMTP server), Stripe's and
Paddle's own invoicing as delivery channels."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from octane.core.clock import utc
from octane.core.customers import get_customer_row, update_customer
from octane.core.provider_accounts import connect_account
from octane.core.store.tables import OutboundMessage, SandboxCharge
from octane.core.views import customer_view_by_id
from octane.plugins.paddle.connection import api_for
from octane.plugins.paddle.customers import ensure_customer as paddle_customer
from octane.testing.contracts import (
    DeliveryChannelContract,
    PaymentProviderContract,
    PaymentWebhookContract,
)
from octane.testing.fake_paddle import FakePaddle
from octane.testing.fake_stripe import FakeStripe
from octane.testing.smtp import SmtpServer
from octane.testing.world import World, open_world
from tests.billing_world import smtp_block
from tests.integration.test_paddle import ADDRESS
from tests.integration.test_paddle import connect as paddle_connect

SANDBOX_SCRIPTS = {"succeed": ["succeed"], "decline": ["fail:card_declined"], "lose": ["unknown"]}


@pytest.fixture
async def sandbox_world(db_url: str, tmp_path: Path) -> AsyncIterator[World]:
    async with open_world(db_url, tmp_path / "data", enabled=["sandbox"], blocks={}) as opened:
        yield opened


class TestSandboxContract(PaymentProviderContract):
    provider = "sandbox"

    @pytest.fixture
    def world(self, sandbox_world: World) -> World:
        return sandbox_world

    async def arrange(self, world: World, outcome: str) -> None:
        script: dict[str, Any] = {"outcomes": SANDBOX_SCRIPTS[outcome]}
        if outcome == "lose":
            script["unknown_resolves_to"] = "succeeded"
        await _sandbox_script(world, **script)

    async def charges_recorded(self, world: World) -> int:
        return int(
            await SandboxCharge.count().where(
                (SandboxCharge.vendor == world.vendor) & (SandboxCharge.status == "succeeded")
            )
        )


async def _sandbox_script(world: World, **script: Any) -> None:
    await update_customer(world.vendor, "globex", {"payment_config": {"sandbox": script}})


async def _sent(world: World, channel: str, kind: str) -> int:
    return int(
        await OutboundMessage.count().where(
            (OutboundMessage.vendor == world.vendor)
            & (OutboundMessage.channel == channel)
            & (OutboundMessage.kind == kind)
            & (OutboundMessage.status == "sent")
        )
    )


class TestSandboxChannelContract(DeliveryChannelContract):
    channel = "sandbox"

    @pytest.fixture
    def world(self, sandbox_world: World) -> World:
        return sandbox_world

    async def arrange(self, world: World, outcome: str) -> None:
        await _sandbox_script(world, delivery=outcome)

    async def invoices_received(self, world: World) -> int:
        return await _sent(world, "sandbox", "invoice")

    async def notices_received(self, world: World) -> int:
        return await _sent(world, "sandbox", "payment_failed")


def _pdf_attached(message: EmailMessage) -> bool:
    return any(p.get_content_type() == "application/pdf" for p in message.iter_attachments())


class TestPdfEmailChannelContract(DeliveryChannelContract):
    channel = "email"

    @pytest.fixture
    async def world(
        self, db_url: str, tmp_path: Path, smtp_sink: SmtpServer
    ) -> AsyncIterator[World]:
        blocks = {"pdf_email": smtp_block(smtp_sink)}
        async with open_world(db_url, tmp_path / "data", enabled=["pdf_email"], blocks=blocks) as w:
            w.runtime.state["smtp"] = smtp_sink
            yield w

    async def arrange(self, world: World, outcome: str) -> None:
        smtp: SmtpServer = world.runtime.state["smtp"]
        if outcome == "fail":
            smtp.stop()  # connections are refused
        elif smtp.stopped:
            smtp.start()

    def _to_globex(self, world: World) -> list[EmailMessage]:
        smtp: SmtpServer = world.runtime.state["smtp"]
        return [m for to, m in smtp.received if to == ["ap@globex.test"]]

    async def invoices_received(self, world: World) -> int:
        return sum(1 for message in self._to_globex(world) if _pdf_attached(message))

    async def notices_received(self, world: World) -> int:
        return sum(1 for message in self._to_globex(world) if not _pdf_attached(message))


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


class TestStripeChannelContract(DeliveryChannelContract):
    """Stripe's own invoicing: Stripe emails the invoice (and its own receipts)."""

    channel = "stripe"
    settings = {"payment_provider": "stripe", "invoicing_via_provider": True}

    world = TestStripeContract.world
    fake = TestStripeContract.fake

    async def arrange(self, world: World, outcome: str) -> None:
        fake: FakeStripe = world.runtime.state["fake"]
        if "account" not in world.runtime.state:
            account = fake.connect_account()
            world.runtime.state["account"] = account
            await connect_account(world.vendor, "stripe", account_id=account, at=utc(2026, 3, 20))
        fake.outage = outcome == "fail"

    async def invoices_received(self, world: World) -> int:
        fake: FakeStripe = world.runtime.state["fake"]
        return len(fake.sent_invoices)

    async def notices_received(self, world: World) -> None:
        return None  # Stripe sends its own receipts and reminders


@pytest.fixture
def paddle() -> Iterator[FakePaddle]:
    server = FakePaddle()
    server.start()
    yield server
    server.stop()


@pytest.fixture
async def paddle_world(db_url: str, tmp_path: Path, paddle: FakePaddle) -> AsyncIterator[World]:
    block = {"sandbox_api_base": paddle.url, "live_api_base": paddle.url, "timeout_seconds": 1}
    async with open_world(
        db_url, tmp_path / "data", enabled=["sandbox", "paddle"], blocks={"paddle": block}
    ) as opened:
        opened.runtime.state["fake"] = paddle
        yield opened


async def _on_paddle(world: World) -> tuple[FakePaddle, str]:
    """Connect the vendor's Paddle account; give globex an address and a Paddle twin."""
    fake: FakePaddle = world.runtime.state["fake"]
    if "customer" not in world.runtime.state:
        connected = await paddle_connect(world, fake)
        assert connected.status_code == 200, connected.text
        address = ADDRESS
        await update_customer(world.vendor, "globex", {"address": address})
        row = await get_customer_row(world.vendor, "globex")
        customer, _ = await customer_view_by_id(str(row["id"]))
        api = await api_for(world.plugins.context("paddle"), world.vendor)
        world.runtime.state["customer"] = (await paddle_customer(api, customer)).customer_id
    return fake, world.runtime.state["customer"]


class TestPaddleContract(PaymentWebhookContract):
    provider = "paddle"

    @pytest.fixture
    async def world(self, paddle_world: World) -> World:
        return paddle_world

    async def arrange(self, world: World, outcome: str) -> None:
        fake, customer = await _on_paddle(world)
        subscription = fake.add_subscription(customer)
        config = {"paddle": {"subscription_id": subscription}}
        await update_customer(world.vendor, "globex", {"payment_config": config})
        if outcome == "decline":
            fake.declines[subscription] = "declined"
        if outcome == "lose":
            fake.hang_after_recording = 3.0  # charged, then the answer times out (1 s)

    def _charges(self, world: World) -> list[dict[str, Any]]:
        fake: FakePaddle = world.runtime.state["fake"]
        return [t for t in fake.transactions.values() if t["origin"] == "subscription_charge"]

    async def charges_recorded(self, world: World) -> int:
        return sum(1 for t in self._charges(world) if t["status"] == "completed")

    async def post_success_webhook(self, world: World, *, forged: bool = False) -> Any:
        fake: FakePaddle = world.runtime.state["fake"]
        (charge,) = self._charges(world)
        payload, signature = fake.signed(fake.notification("transaction.completed", charge))
        if forged:
            signature = signature.replace("h1=", "h1=0")
        return await world.client.post(
            f"/webhooks/paddle/{world.vendor}",
            content=payload,
            headers={"Paddle-Signature": signature, "Content-Type": "application/json"},
        )


class TestPaddleChannelContract(DeliveryChannelContract):
    """Paddle's own invoicing: a billed manual transaction, which Paddle emails."""

    channel = "paddle"
    settings = {"payment_provider": "paddle", "invoicing_via_provider": True}
    resend_sends_again = False  # Paddle's API cannot email a billed invoice again

    @pytest.fixture
    async def world(self, paddle_world: World) -> World:
        return paddle_world

    async def arrange(self, world: World, outcome: str) -> None:
        fake, _ = await _on_paddle(world)
        fake.outage = outcome == "fail"

    async def invoices_received(self, world: World) -> int:
        fake: FakePaddle = world.runtime.state["fake"]
        return sum(
            1
            for t in fake.transactions.values()
            if t["collection_mode"] == "manual" and t["status"] == "billed"
        )

    async def notices_received(self, world: World) -> None:
        return None  # Paddle sends its own reminders and receipts
