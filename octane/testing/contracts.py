"""Contract suites a provider plugin's own tests subclass, as SAQ runs one behaviour suite
per backend: the same scenarios, proven for every payment provider.

Subclass :class:`PaymentProviderContract` in a test module, name the provider, give the
``world`` fixture (an :func:`octane.testing.world.open_world` with your plugin enabled and
configured against your local fake), and say how your fake is told what the next charge
does and how many charges it recorded::

    class TestAcmePayContract(PaymentProviderContract):
        provider = "acmepay"

        @pytest.fixture
        async def world(self, db_url, tmp_path, fake):
            async with open_world(db_url, tmp_path, enabled=["acmepay"],
                                  blocks={"acmepay": {"api_base": fake.url}}) as world:
                yield world

        async def arrange(self, world, outcome): ...   # "succeed", "decline" or "lose"
        async def charges_recorded(self, world): ...    # successful charges at the provider

Every test bills customer ``globex`` on a test clock (:func:`octane.testing.world.bill`)
with auto-charge through your provider, and checks what a vendor would notice.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from octane.core.clocks import vendor_clock
from octane.core.contracts import (
    FAILURE_CODES,
    FailureCode,
    Notification,
    NotificationKind,
    PaymentStatus,
)
from octane.core.delivery import BACKOFF, LEASE, send_notification
from octane.core.invoice_settings import DEFAULTS
from octane.core.invoices import get_invoice_row
from octane.core.store.tables import AuditLog, Invoice, PaymentAttempt
from octane.core.vendor_settings import update_invoice_settings
from octane.core.views import attempt_view, customer_view_by_id, invoice_view, vendor_view
from octane.testing.world import CHARGED, FINALIZED, World, bill

__all__ = ["DeliveryChannelContract", "PaymentProviderContract", "PaymentWebhookContract"]

RECONCILED = CHARGED + timedelta(minutes=10)
"""Past the wait after which an unknown outcome is looked up at the provider."""


class PaymentProviderContract:
    """The payment contract: succeeded, failed with a neutral code, unknown then
    reconciled by lookup, and the same attempt twice charging once."""

    provider: str = ""
    """The payment provider's name, as the plugin registers it."""

    async def arrange(self, world: World, outcome: str) -> None:
        """Make customer ``globex``'s charges at the provider ``succeed``, ``decline``, or
        ``lose``: the provider charges, but the answer never reaches Octane."""
        raise NotImplementedError

    async def charges_recorded(self, world: World) -> int:
        """How many successful charges the provider recorded for customer ``globex``."""
        raise NotImplementedError

    async def _billed(self, world: World, outcome: str) -> None:
        await bill(world)
        await update_invoice_settings(
            world.vendor,
            {
                "payment_provider": self.provider,
                "delivery_channel": _quiet_channel(world),
                "payment_retry_schedule": ["P2D"],
            },
            providers=world.plugins.payment_providers,
            channels=world.plugins.delivery_channels,
        )
        await self.arrange(world, outcome)
        await world.at(FINALIZED)

    async def test_a_successful_charge_pays_the_invoice(self, world: World) -> None:
        await self._billed(world, "succeed")
        await world.at(CHARGED)
        invoice = await world.invoice()
        assert invoice["status"] == "paid", invoice["payment_attempts"]
        (attempt,) = invoice["payment_attempts"]
        assert attempt["status"] == "succeeded" and attempt["provider"] == self.provider
        assert attempt["amount"] == invoice["total"] == invoice["amount_paid"]
        assert await self.charges_recorded(world) == 1

    async def test_a_decline_fails_with_a_neutral_code_and_a_retry_is_scheduled(
        self, world: World
    ) -> None:
        await self._billed(world, "decline")
        await world.at(CHARGED)
        invoice = await world.invoice()
        (attempt,) = invoice["payment_attempts"]
        assert invoice["status"] == "failed" and attempt["status"] == "failed"
        assert attempt["failure_code"], "a failure needs a neutral code"
        assert attempt["failure_message"], "a failure needs the provider's message"
        assert invoice["next_payment_at"] is not None
        assert await self.charges_recorded(world) == 0

    async def test_a_lost_answer_is_reconciled_and_charged_once(self, world: World) -> None:
        await self._billed(world, "lose")
        await world.at(CHARGED)
        (attempt,) = (await world.invoice())["payment_attempts"]
        assert attempt["status"] in ("unknown", "pending")
        await world.at(RECONCILED)
        invoice = await world.invoice()
        assert invoice["status"] == "paid"
        assert [a["status"] for a in invoice["payment_attempts"]] == ["succeeded"]
        assert await self.charges_recorded(world) == 1

    async def test_the_same_attempt_twice_charges_once(self, world: World) -> None:
        await self._billed(world, "succeed")
        await world.at(CHARGED)
        invoice = await world.invoice()
        row = await PaymentAttempt.select().where(PaymentAttempt.invoice == invoice["id"]).first()
        assert row is not None
        stored = await get_invoice_row(world.vendor, invoice["id"])
        customer, _ = await customer_view_by_id(str(stored["customer"]))
        vendor = await vendor_view(world.vendor)
        owner = world.plugins.provider_owner(self.provider)
        again: Any = await world.plugins.call_owner(
            owner,
            "collect_payment",
            expect=object,
            invoice=await invoice_view(stored, vendor, customer),
            provider=self.provider,
            attempt=attempt_view(row),
            vendor=vendor,
            customer=customer,
        )
        assert again.status is PaymentStatus.SUCCEEDED  # the provider's first answer again
        assert await self.charges_recorded(world) == 1


class PaymentWebhookContract(PaymentProviderContract):
    """The payment contract plus the provider's webhooks: a signed "payment succeeded"
    event settles an attempt whose answer was lost, a replay of it changes nothing, and
    a forged one is refused with nothing recorded.

    Subclass it instead of :class:`PaymentProviderContract` when your provider reports
    outcomes by webhook, and say how its signed event reaches your plugin's route.
    """

    async def post_success_webhook(self, world: World, *, forged: bool = False) -> Any:
        """POST through ``world.client`` the provider's signed event saying customer
        ``globex``'s latest charge succeeded, to your plugin's webhook route; with
        ``forged``, the same event under a wrong signature. Return the response."""
        raise NotImplementedError

    async def _lost(self, world: World) -> dict[str, Any]:
        await self._billed(world, "lose")
        await world.at(CHARGED)
        invoice = await world.invoice()
        (attempt,) = invoice["payment_attempts"]
        assert attempt["status"] in ("unknown", "pending")
        return invoice

    async def test_a_webhook_settles_a_lost_answer_and_a_replay_changes_nothing(
        self, world: World
    ) -> None:
        await self._lost(world)
        first = await self.post_success_webhook(world)
        assert first.status_code == 200, first.text
        invoice = await world.invoice()
        assert invoice["status"] == "paid"
        assert [a["status"] for a in invoice["payment_attempts"]] == ["succeeded"]
        assert invoice["amount_paid"] == invoice["total"]
        replay = await self.post_success_webhook(world)
        assert replay.status_code == 200, replay.text
        await world.at(RECONCILED)
        again = await world.invoice()
        assert again["amount_paid"] == invoice["total"], "a replay must not pay twice"
        assert [a["status"] for a in again["payment_attempts"]] == ["succeeded"]
        assert await self.charges_recorded(world) == 1

    async def test_a_forged_webhook_is_refused_and_changes_nothing(self, world: World) -> None:
        await self._lost(world)
        forged = await self.post_success_webhook(world, forged=True)
        assert 400 <= forged.status_code < 500
        assert forged.json()["error"]["code"], "a refusal says why, in Octane's error shape"
        invoice = await world.invoice()
        assert invoice["status"] != "paid"
        assert [a["status"] for a in invoice["payment_attempts"]] in (["unknown"], ["pending"])


class DeliveryChannelContract:
    """The delivery contract: a finalized invoice goes out once; a failure is recorded and
    retried on the backoff until it goes out; a repeat after a crash (the same send key)
    sends nothing new; a resend on purpose sends again; a notification is sent once per id.

    Subclass it in a test module, name the channel, give the ``world`` fixture (an
    :func:`octane.testing.world.open_world` with your plugin enabled against your local
    service), and say how your service is made to fail and what it received::

        class TestPigeonContract(DeliveryChannelContract):
            channel = "pigeon"

            @pytest.fixture
            async def world(self, db_url, tmp_path, loft): ...

            async def arrange(self, world, outcome): ...   # "deliver" or "fail"
            async def invoices_received(self, world): ...  # invoice messages received
            async def notices_received(self, world): ...   # notifications received

    Every test bills customer ``globex`` on a test clock with auto-charge off.
    """

    channel: str = ""
    """The delivery channel's name, as the plugin registers it."""

    settings: dict[str, Any] = {}
    """Extra invoice settings your channel needs; a provider's own invoicing channel
    sets ``{"payment_provider": ..., "invoicing_via_provider": True}``."""

    resend_sends_again: bool = True
    """False when the service cannot send an invoice twice (Paddle's API cannot email a
    billed invoice again): a resend then answers delivered without a second message."""

    async def arrange(self, world: World, outcome: str) -> None:
        """Make deliveries to customer ``globex`` ``deliver`` or ``fail`` (the service is
        down or refuses them, in a way worth retrying)."""
        raise NotImplementedError

    async def invoices_received(self, world: World) -> int:
        """How many invoice messages for customer ``globex`` your service received."""
        raise NotImplementedError

    async def notices_received(self, world: World) -> int | None:
        """How many notifications your service received; None when your channel leaves
        notifications to someone else (a provider that emails its own receipts)."""
        raise NotImplementedError

    async def _billed(self, world: World, outcome: str = "deliver") -> None:
        await bill(world)
        await update_invoice_settings(
            world.vendor,
            {"delivery_channel": self.channel, "auto_charge": False, **self.settings},
            providers=world.plugins.payment_providers,
            channels=world.plugins.delivery_channels,
        )
        await self.arrange(world, outcome)
        await world.at(FINALIZED)

    async def test_a_finalized_invoice_is_delivered_once(self, world: World) -> None:
        await self._billed(world)
        invoice = await world.invoice()
        assert invoice["delivery_status"] == "delivered", invoice["delivery_error"]
        assert invoice["delivery_channel"] == self.channel
        assert invoice["status"] == "delivered"
        assert await self.invoices_received(world) == 1
        await world.at(FINALIZED + timedelta(days=1))
        assert await self.invoices_received(world) == 1, "delivered means done"

    async def test_a_failure_is_recorded_and_retried_until_delivered(self, world: World) -> None:
        await self._billed(world, "fail")
        invoice = await world.invoice()
        assert invoice["delivery_status"] == "failed"
        assert invoice["delivery_error"], "a failure needs the channel's reason"
        assert invoice["status"] == "finalized", "a failed delivery keeps the invoice"
        assert await self.invoices_received(world) == 0
        await world.at(FINALIZED + BACKOFF[0] - timedelta(seconds=1))
        assert (await world.invoice())["delivery_status"] == "failed", "not before the backoff"
        await self.arrange(world, "deliver")
        await world.at(FINALIZED + BACKOFF[0])
        invoice = await world.invoice()
        assert invoice["delivery_status"] == "delivered", invoice["delivery_error"]
        assert await self.invoices_received(world) == 1

    async def test_a_repeat_after_a_crash_sends_nothing_new(self, world: World) -> None:
        await self._billed(world)
        first = await world.invoice()
        # The sender died after the service accepted the invoice, before Octane recorded
        # it: the delivery is left in flight, and the sweep claims it once its lease ends.
        await Invoice.update(
            {Invoice.delivery_status: "in_flight", Invoice.delivery_next_at: FINALIZED}
        ).where(Invoice.id == first["id"])
        await world.at(FINALIZED + LEASE)
        again = await world.invoice()
        assert again["delivery_status"] == "delivered"
        assert await self.invoices_received(world) == 1
        assert again["delivery_reference"] == first["delivery_reference"]

    async def test_a_resend_on_purpose_is_delivered_again(self, world: World) -> None:
        await self._billed(world)
        invoice = await world.invoice()
        response = await world.client.post(
            f"/api/v1/invoices/{invoice['id']}/resend", headers=world.headers
        )
        assert response.status_code == 200, response.text
        assert response.json()["delivery_status"] == "delivered"
        assert await self.invoices_received(world) == (2 if self.resend_sends_again else 1)

    async def test_a_notification_is_sent_once_per_id(self, world: World) -> None:
        await self._billed(world)
        stored = await get_invoice_row(world.vendor, (await world.invoice())["id"])
        customer, _ = await customer_view_by_id(str(stored["customer"]))
        view = await invoice_view(stored, await vendor_view(world.vendor), customer)
        message, remedy, _ = FAILURE_CODES[FailureCode.CARD_DECLINED]
        notice = Notification(
            id=f"payment_failed:contract-{view.id}",
            kind=NotificationKind.PAYMENT_FAILED,
            invoice=view,
            failure_code=FailureCode.CARD_DECLINED,
            message=message,
            remedy=remedy,
            next_attempt_at=FINALIZED + timedelta(days=2),
        )
        clock = await vendor_clock(world.vendor)
        await send_notification(world.plugins, world.vendor, notice, clock=clock)
        await send_notification(world.plugins, world.vendor, notice, clock=clock)
        sent = (
            await AuditLog.select(AuditLog.details)
            .where((AuditLog.vendor == world.vendor) & (AuditLog.action == "notification.sent"))
            .output(load_json=True)
        )
        assert len(sent) == 2, "each send reports delivered"
        assert {row["details"]["channel"] for row in sent} == {self.channel}
        received = await self.notices_received(world)
        assert received in (None, 1), "the same notification id reaches the customer once"


def _quiet_channel(world: World) -> str:
    """A delivery channel that needs no outside service (the sandbox's when enabled)."""
    channels = world.plugins.delivery_channels
    return "sandbox" if "sandbox" in channels else str(DEFAULTS["delivery_channel"])
