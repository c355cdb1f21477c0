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

from octane.core.contracts import PaymentStatus
from octane.core.invoice_settings import DEFAULTS
from octane.core.invoices import get_invoice_row
from octane.core.store.tables import PaymentAttempt
from octane.core.vendor_settings import update_invoice_settings
from octane.core.views import attempt_view, customer_view_by_id, invoice_view, vendor_view
from octane.testing.world import CHARGED, FINALIZED, World, bill

__all__ = ["PaymentProviderContract", "PaymentWebhookContract"]

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


def _quiet_channel(world: World) -> str:
    """A delivery channel that needs no outside service (the sandbox's when enabled)."""
    channels = world.plugins.delivery_channels
    return "sandbox" if "sandbox" in channels else str(DEFAULTS["delivery_channel"])
