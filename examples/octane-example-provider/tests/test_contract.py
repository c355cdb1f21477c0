"""examplepay passes Octane's payment contract, webhooks included
(:class:`octane.testing.contracts.PaymentWebhookContract`).

The suite bills customer ``globex`` on a test clock and checks a success, a decline with
a neutral code, a lost answer reconciled by lookup, one attempt sent twice, and webhook
settlement, replay and forgery. This module only says how ExamplePay's fake is scripted
and asked; the ``world`` fixture is in ``conftest.py``.
"""

from __future__ import annotations

from typing import Any

import pytest
from octane.testing.contracts import PaymentWebhookContract
from octane.testing.world import World

from octane_example_provider.fake import FakeExamplePay

from .conftest import PAYER, use_examplepay

OUTCOMES = {"succeed": "succeed", "decline": "decline:refused", "lose": "lose"}


class TestExamplePayContract(PaymentWebhookContract):
    provider = "examplepay"

    @pytest.fixture(autouse=True)
    def _use_fake(self, fake: FakeExamplePay) -> None:
        self.fake = fake

    async def arrange(self, world: World, outcome: str) -> None:
        await use_examplepay(world)
        self.fake.script(PAYER, OUTCOMES[outcome])

    async def charges_recorded(self, world: World) -> int:
        return len(self.fake.charges_of(PAYER, "succeeded"))

    async def post_success_webhook(self, world: World, *, forged: bool = False) -> Any:
        charge = self.fake.charges_of(PAYER)[-1]
        payload, headers = self.fake.signed(
            self.fake.event("charge.succeeded", charge),
            secret="ewhsec_not_the_secret" if forged else None,
        )
        return await world.client.post("/webhooks/examplepay", content=payload, headers=headers)
