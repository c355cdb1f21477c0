"""The ``stripe`` plugin end to end: the official SDK over HTTP to a local fake Stripe
(``octane.testing.fake_stripe``), Connect OAuth, off-session charges on the grace-period
schedule, lost answers reconciled, and signed webhooks."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from octane.core.clock import utc
from octane.core.clocks import vendor_clock
from octane.core.collection import collect
from octane.core.credit_grants import grant_credit
from octane.core.customers import get_customer_row
from octane.core.provider_accounts import connect_account, find_account
from octane.core.store.tables import Invoice, LedgerEntry, PaymentAttempt, WebhookEvent
from octane.core.vendor_settings import update_invoice_settings
from octane.core.vendors import set_tax_rate
from octane.core.views import attempt_view, customer_view_by_id, vendor_view
from octane.plugins.stripe.client import stripe_client
from octane.plugins.stripe.customers import ensure_customer
from octane.plugins.stripe.payments import collect as stripe_collect
from octane.testing.fake_stripe import FakeStripe
from octane.testing.smtp import SmtpServer
from tests.billing_world import FINALIZED, World, bill, open_world, smtp_block

CHARGED = utc(2026, 4, 5)  # the default three-day payment grace period is over


@pytest.fixture
def fake() -> Iterator[FakeStripe]:
    server = FakeStripe()
    server.start()
    yield server
    server.stop()


@pytest.fixture
async def world(
    db_url: str, tmp_path: Path, smtp: SmtpServer, fake: FakeStripe
) -> AsyncIterator[World]:
    blocks = {
        "pdf_email": smtp_block(smtp),
        "stripe": {
            "secret_key": fake.secret_key,
            "connect_client_id": fake.client_id,
            "webhook_secret": fake.webhook_secret,
            "api_base": fake.url,
            "timeout_seconds": 1,
        },
    }
    async with open_world(
        db_url, tmp_path / "data", enabled=["pdf_email", "stripe"], blocks=blocks
    ) as opened:
        yield opened


async def on_stripe(world: World, fake: FakeStripe, card: str | None = "pm_card_visa") -> str:
    """Bill ``globex`` through Stripe: a connected account, the customer synced with a card."""
    await bill(world)
    account = fake.connect_account()
    await connect_account(world.vendor, "stripe", account_id=account, at=utc(2026, 3, 20))
    await update_invoice_settings(
        world.vendor,
        {"payment_provider": "stripe", "payment_retry_schedule": ["P2D"]},
        providers=world.plugins.payment_providers,
        channels=world.plugins.delivery_channels,
    )
    customer, _ = await customer_view_by_id(
        str((await get_customer_row(world.vendor, "globex"))["id"])
    )
    client = stripe_client(world.plugins.context("stripe"))
    stripe_customer = await ensure_customer(client, account, customer)
    if card:
        fake.add_card(account, stripe_customer, card)
    return account


async def test_connect_with_stripe_through_oauth(world: World, fake: FakeStripe) -> None:
    await bill(world)
    response = await world.client.post("/api/v1/stripe/connect", headers=world.headers)
    assert response.status_code == 200, response.text
    url = response.json()["authorize_url"]
    assert url.startswith(f"{fake.url}/oauth/authorize?") and "client_id=ca_test" in url
    async with httpx.AsyncClient() as browser:
        approved = await browser.get(url)  # Stripe's page; the fake approves at once
    assert approved.status_code == 302
    back = urlsplit(approved.headers["location"])
    assert back.path == "/stripe/oauth/callback"

    forged = back.query.replace("state=", "state=x")
    refused = await world.client.get(f"{back.path}?{forged}", follow_redirects=False)
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "invalid_state_token"
    assert await find_account(world.vendor, "stripe") is None

    done = await world.client.get(f"{back.path}?{back.query}", follow_redirects=False)
    assert done.status_code == 302 and done.headers["location"].endswith("stripe=connected")
    status = (await world.client.get("/api/v1/stripe/account", headers=world.headers)).json()
    assert status["connected"] is True and status["account_id"] in fake.accounts

    replay = await world.client.get(f"{back.path}?{back.query}", follow_redirects=False)
    assert replay.status_code == 422  # Stripe refuses a used code; nothing changes
    assert replay.json()["error"]["code"] == "stripe_connect_failed"
    gone = await world.client.post("/api/v1/stripe/disconnect", headers=world.headers)
    assert gone.status_code == 200 and gone.json()["connected"] is False
    assert status["account_id"] not in fake.accounts


async def test_an_invoice_is_emailed_then_charged_off_session_once(
    world: World, fake: FakeStripe, smtp: SmtpServer
) -> None:
    account = await on_stripe(world, fake)
    await world.at(FINALIZED)
    assert len(smtp.messages) == 1  # our PDF by email: provider invoicing is off
    await world.at(CHARGED)
    invoice = await world.invoice()
    assert invoice["status"] == "paid" and invoice["amount_paid"] == invoice["total"]
    (intent,) = fake.payment_intents(account)
    (attempt,) = invoice["payment_attempts"]
    assert (intent["amount"], intent["currency"], intent["status"]) == (
        invoice["total"],
        "usd",
        "succeeded",
    )
    assert intent["metadata"]["octane_attempt"] == attempt["id"]
    assert attempt["provider_reference"] == intent["id"]
    assert smtp.messages[-1]["Subject"].startswith("Payment received")
    await world.at(CHARGED + timedelta(days=3))
    assert len(fake.payment_intents(account)) == 1


async def test_a_declined_card_fails_with_a_neutral_code_and_is_retried(
    world: World, fake: FakeStripe, smtp: SmtpServer
) -> None:
    account = await on_stripe(world, fake, card="pm_card_chargeDeclinedInsufficientFunds")
    await world.at(FINALIZED)
    await world.at(CHARGED)
    invoice = await world.invoice()
    (attempt,) = invoice["payment_attempts"]
    assert invoice["status"] == "failed" and attempt["failure_code"] == "insufficient_funds"
    assert "insufficient funds" in attempt["failure_message"]
    assert invoice["next_payment_at"] is not None
    assert smtp.messages[-1]["Subject"] == f"Payment for invoice {invoice['number']} failed"
    fake.add_card(account, next(iter(fake.store(account))), "pm_card_visa")
    await world.at(CHARGED + timedelta(days=2))
    invoice = await world.invoice()
    assert invoice["status"] == "paid"
    assert [i["status"] for i in fake.payment_intents(account)] == [
        "requires_payment_method",
        "succeeded",
    ]


async def test_no_saved_card_or_no_connected_account_fail_clearly(
    world: World, fake: FakeStripe
) -> None:
    await on_stripe(world, fake, card=None)
    await world.at(FINALIZED)
    await world.at(CHARGED)
    (attempt,) = (await world.invoice())["payment_attempts"]
    assert attempt["failure_code"] == "no_payment_method"
    await world.client.post("/api/v1/stripe/disconnect", headers=world.headers)
    await world.at(CHARGED + timedelta(days=2))
    attempts = (await world.invoice())["payment_attempts"]
    assert attempts[-1]["failure_code"] == "provider_error"
    assert "has not connected a Stripe account" in attempts[-1]["failure_message"]


async def test_a_lost_answer_is_reconciled_and_charged_exactly_once(
    world: World, fake: FakeStripe
) -> None:
    account = await on_stripe(world, fake)
    await world.at(FINALIZED)
    fake.hang_after_recording = 3.0  # Stripe charges, then the answer times out (1 s)
    await world.at(CHARGED)
    (attempt,) = (await world.invoice())["payment_attempts"]
    assert attempt["status"] == "unknown"
    assert [i["status"] for i in fake.payment_intents(account)] == ["succeeded"]
    await world.at(CHARGED + timedelta(minutes=5))  # reconciliation asks Stripe
    invoice = await world.invoice()
    assert invoice["status"] == "paid"
    assert [a["status"] for a in invoice["payment_attempts"]] == ["succeeded"]
    assert len(fake.payment_intents(account)) == 1


async def test_the_same_charge_job_twice_makes_one_payment_intent(
    world: World, fake: FakeStripe
) -> None:
    account = await on_stripe(world, fake)
    await update_invoice_settings(world.vendor, {"auto_charge": False}, providers=[], channels=[])
    await world.at(FINALIZED)
    invoice = await world.invoice()
    invoice_row = await Invoice.select().where(Invoice.id == invoice["id"]).first()
    assert invoice_row is not None
    clock = await vendor_clock(world.vendor)
    results = await asyncio.gather(
        *(
            collect(world.plugins, world.vendor, invoice["id"], clock=clock, manual=True)
            for _ in range(2)
        ),
        return_exceptions=True,
    )
    made = [r for r in results if isinstance(r, dict)]
    assert len(made) == 1, results  # the other run found the charge claimed, or paid
    attempts = await PaymentAttempt.select().where(PaymentAttempt.invoice == invoice["id"])
    assert len(attempts) == 1 and len(fake.payment_intents(account)) == 1
    # The plugin asked again with the same attempt: Stripe replays its first answer.
    customer, _ = await customer_view_by_id(str(invoice_row["customer"]))
    again = await stripe_collect(
        world.plugins.context("stripe"),
        attempt_view(attempts[0]),
        await vendor_view(world.vendor),
        customer,
    )
    (intent,) = fake.payment_intents(account)
    assert again.status == "succeeded" and again.provider_reference == intent["id"]


async def _webhook(world: World, payload: bytes, signature: str) -> httpx.Response:
    return await world.client.post(
        "/webhooks/stripe",
        content=payload,
        headers={"Stripe-Signature": signature, "Content-Type": "application/json"},
    )


async def test_webhooks_are_verified_recorded_once_and_applied(
    world: World, fake: FakeStripe
) -> None:
    account = await on_stripe(world, fake)
    await world.at(FINALIZED)
    fake.hang_after_recording = 3.0
    await world.at(CHARGED)
    (attempt,) = (await world.invoice())["payment_attempts"]
    assert attempt["status"] == "unknown"
    (intent,) = fake.payment_intents(account)
    event = fake.event("payment_intent.succeeded", intent, account=account)

    payload, signature = fake.signed(event)
    bad = await _webhook(world, payload, signature.replace("v1=", "v1=0"))
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_signature"
    stale_payload, stale = fake.signed(event, timestamp=int(time.time()) - 400)
    assert (await _webhook(world, stale_payload, stale)).status_code == 400
    assert await WebhookEvent.count() == 0  # nothing recorded, nothing changed
    assert (await world.invoice())["status"] != "paid"

    first = await _webhook(world, payload, signature)
    assert first.status_code == 200 and first.json() == {"received": True, "status": "processed"}
    assert (await world.invoice())["status"] == "paid"
    replay = await _webhook(world, *fake.signed(event))
    assert replay.json() == {"received": True, "duplicate": True}
    assert await WebhookEvent.count() == 1

    stranger = fake.event("payment_intent.succeeded", intent, account="acct_nobody")
    ignored = await _webhook(world, *fake.signed(stranger))
    assert ignored.json()["ignored"] == "unknown account"
    row = await WebhookEvent.select().where(WebhookEvent.event_id == stranger["id"]).first()
    assert row is not None and row["status"] == "ignored"

    revoked = fake.event(
        "account.application.deauthorized",
        {"id": "ca_test", "object": "application", "name": "Octane"},
        account=account,
    )
    assert (await _webhook(world, *fake.signed(revoked))).json()["status"] == "processed"
    status = (await world.client.get("/api/v1/stripe/account", headers=world.headers)).json()
    assert status["connected"] is False
    assert json.loads(row["payload"])["account"] == "acct_nobody"


async def via_stripe(world: World, fake: FakeStripe, **settings: Any) -> str:
    """``on_stripe`` with invoicing via Stripe on."""
    account = await on_stripe(world, fake)
    response = await world.client.put(
        "/api/v1/settings/invoicing",
        json={"invoicing_via_provider": True, **settings},
        headers=world.headers,
    )
    assert response.status_code == 200, response.text
    return account


async def test_invoicing_via_stripe_with_stripe_tax_copies_the_tax_back(
    world: World, fake: FakeStripe, smtp: SmtpServer
) -> None:
    fake.tax_percent = 8
    account = await via_stripe(world, fake, auto_charge=False)
    await set_tax_rate(world.vendor, None)  # Stripe Tax computes the tax instead
    response = await world.client.put(
        "/api/v1/stripe/settings", json={"automatic_tax": True}, headers=world.headers
    )
    assert response.status_code == 200 and response.json() == {"automatic_tax": True}
    clock = await vendor_clock(world.vendor)
    await grant_credit(world.vendor, "globex", amount="5", currency="USD", clock=clock)
    await world.at(FINALIZED)

    invoice = await world.invoice()
    (stripe_invoice,) = [o for o in fake.store(account).values() if o["object"] == "invoice"]
    assert stripe_invoice["metadata"]["octane_invoice"] == invoice["id"]
    assert stripe_invoice["collection_method"] == "send_invoice"
    assert fake.sent_invoices == [stripe_invoice["id"]]  # Stripe emails it ...
    assert not smtp.messages  # ... and Octane sends nothing of its own
    charges = [line for line in invoice["lines"] if line["section"] == "charge"]
    assert [line["amount"] for line in stripe_invoice["lines"]["data"]] == [
        line["amount"] for line in charges
    ]
    calls = stripe_invoice["lines"]["data"][0]  # 1,234 calls at $0.05: quantity x unit price
    assert (calls["quantity_decimal"], calls["pricing"]["unit_amount_decimal"]) == ("1234", "5")
    (tax_line,) = [line for line in invoice["lines"] if line["kind"] == "tax"]
    stripe_tax = stripe_invoice["total_taxes"][0]["amount"]
    assert tax_line["amount"] == stripe_tax and tax_line["source"] == "stripe"
    assert invoice["total"] == stripe_invoice["total"] == invoice["amount_due"]
    assert invoice["provider_invoice_id"] == stripe_invoice["id"]
    assert invoice["provider_invoice_url"] == stripe_invoice["hosted_invoice_url"]
    entries = await LedgerEntry.select().where(
        (LedgerEntry.invoice == invoice["id"]) & (LedgerEntry.kind == "tax")
    )
    assert [e["amount"] for e in entries] == [stripe_tax]

    # Stripe's events arrive out of order: paid before finalized. Paid once either way.
    paid = fake.event("invoice.paid", {**stripe_invoice, "status": "paid"}, account=account)
    finalized = fake.event("invoice.finalized", stripe_invoice, account=account)
    assert (await _webhook(world, *fake.signed(paid))).json()["status"] == "processed"
    assert (await _webhook(world, *fake.signed(finalized))).json()["status"] == "ignored"
    voided = fake.event("invoice.voided", {**stripe_invoice, "status": "void"}, account=account)
    assert (await _webhook(world, *fake.signed(voided))).json()["status"] == "processed"
    assert (await _webhook(world, *fake.signed(paid))).json()["duplicate"] is True
    invoice = await world.invoice()
    assert invoice["status"] == "paid" and invoice["amount_paid"] == invoice["total"]
    assert "stripe.invoice.voided" in [e["action"] for e in invoice["timeline"]]
    payments = await LedgerEntry.select().where(
        (LedgerEntry.invoice == invoice["id"]) & (LedgerEntry.kind == "payment")
    )
    assert [p["amount"] for p in payments] == [-invoice["total"]]


async def test_invoicing_via_stripe_with_auto_charge_pays_stripes_invoice(
    world: World, fake: FakeStripe, smtp: SmtpServer
) -> None:
    account = await via_stripe(world, fake)
    await world.at(FINALIZED)
    await world.at(CHARGED)
    invoice = await world.invoice()
    (stripe_invoice,) = [o for o in fake.store(account).values() if o["object"] == "invoice"]
    assert stripe_invoice["status"] == "paid" and stripe_invoice["collection_method"] == (
        "charge_automatically"
    )
    assert invoice["status"] == "paid"
    assert invoice["payment_attempts"][0]["provider_reference"] == stripe_invoice["id"]
    assert not fake.payment_intents(account) and not smtp.messages
    assert invoice["total"] == stripe_invoice["total"]  # our tax went over as a line


async def test_a_card_link_saves_the_customers_default_card(world: World, fake: FakeStripe) -> None:
    account = await on_stripe(world, fake, card=None)
    response = await world.client.post(
        "/api/v1/stripe/customers/globex/card-link", headers=world.headers
    )
    assert response.status_code == 200, response.text
    url = response.json()["url"]
    assert url.startswith(f"{fake.url}/c/setup/cs_test_")
    session = fake.complete_setup(account, url.rsplit("/", 1)[1])
    completed = fake.event("checkout.session.completed", session, account=account)
    assert (await _webhook(world, *fake.signed(completed))).json()["status"] == "processed"
    (customer,) = [o for o in fake.store(account).values() if o["object"] == "customer"]
    assert customer["invoice_settings"]["default_payment_method"] == "pm_card_visa"
    await world.at(FINALIZED)
    await world.at(CHARGED)
    assert (await world.invoice())["status"] == "paid"
    missing = await world.client.post(
        "/api/v1/stripe/customers/nobody/card-link", headers=world.headers
    )
    assert missing.status_code == 404


async def test_invoicing_via_stripe_when_the_card_is_declined(
    world: World, fake: FakeStripe
) -> None:
    account = await via_stripe(world, fake)
    customer_id = next(o["id"] for o in fake.store(account).values() if o["object"] == "customer")
    fake.add_card(account, customer_id, "pm_card_chargeDeclinedExpiredCard")
    await world.at(FINALIZED)
    await world.at(CHARGED)
    invoice = await world.invoice()
    (attempt,) = invoice["payment_attempts"]
    assert invoice["status"] == "failed" and attempt["failure_code"] == "expired_card"
    (stripe_invoice,) = [o for o in fake.store(account).values() if o["object"] == "invoice"]
    assert stripe_invoice["status"] == "open" and stripe_invoice["attempt_count"] == 1


async def test_rate_limits_are_waited_out_and_unknown_parameters_refused(
    world: World, fake: FakeStripe
) -> None:
    import stripe

    account = await on_stripe(world, fake)
    await world.at(FINALIZED)
    fake.rate_limit_next = 2  # Stripe is busy: two 429s, then it answers
    await world.at(CHARGED)
    invoice = await world.invoice()
    assert invoice["status"] == "paid" and len(invoice["payment_attempts"]) == 1
    assert len(fake.payment_intents(account)) == 1
    client: Any = stripe_client(world.plugins.context("stripe"))
    with pytest.raises(stripe.InvalidRequestError) as refused:
        await client.v1.customers.create_async(
            {"name": "x", "favourite_colour": "blue"}, {"stripe_account": account}
        )
    assert refused.value.code == "parameter_unknown"


async def test_a_refund_in_stripe_is_recorded_in_the_ledger_once(
    world: World, fake: FakeStripe
) -> None:
    account = await on_stripe(world, fake)
    await world.at(FINALIZED)
    await world.at(CHARGED)
    invoice = await world.invoice()
    (intent,) = fake.payment_intents(account)
    partial = fake.event(
        "charge.refunded", fake.refund(account, intent["id"], 500), account=account
    )
    assert (await _webhook(world, *fake.signed(partial))).json()["status"] == "processed"
    again = fake.event("charge.refunded", fake.refund(account, intent["id"], 0), account=account)
    await _webhook(world, *fake.signed(again))  # another event, nothing new refunded
    refunds = await LedgerEntry.select().where(
        (LedgerEntry.invoice == invoice["id"]) & (LedgerEntry.kind == "refund")
    )
    assert [r["amount"] for r in refunds] == [500]
    rest = invoice["total"] - 500
    full = fake.event("charge.refunded", fake.refund(account, intent["id"], rest), account=account)
    await _webhook(world, *fake.signed(full))
    refunds = await LedgerEntry.select().where(
        (LedgerEntry.invoice == invoice["id"]) & (LedgerEntry.kind == "refund")
    )
    assert [r["amount"] for r in refunds] == [500, rest]
    after = await world.invoice()
    assert after["amount_paid"] == 0
    assert [e["action"] for e in after["timeline"]].count("payment.refunded") == 2


async def test_webhooks_are_applied_by_a_job_and_lost_jobs_by_the_sweep(
    world: World, fake: FakeStripe
) -> None:
    import tempfile

    from octane.core.jobs import make_worker
    from octane.core.queue import connect_queue
    from octane.core.webhooks import event_status
    from octane.plugins.stripe.events import process_event_job, process_pending_job, receive

    account = await on_stripe(world, fake)
    await world.at(FINALIZED)
    fake.hang_after_recording = 3.0
    await world.at(CHARGED)  # the answer is lost: the attempt is unknown
    (intent,) = fake.payment_intents(account)
    event = fake.event("payment_intent.succeeded", intent, account=account)
    with tempfile.TemporaryDirectory(prefix="oq-", dir="/tmp") as folder:
        handle = await connect_queue(None, Path(folder))
        try:
            answer = await receive(world.plugins, *fake.signed(event), queue=handle.queue)
            assert answer == {"received": True, "queued": True}
            assert (await world.invoice())["status"] != "paid"  # answered before applying
            worker = make_worker(
                handle.queue,
                context={"octane": world.runtime},
                functions=[("stripe:process_event", process_event_job)],
            )
            task = asyncio.create_task(worker.start())
            for _ in range(200):
                if await event_status("stripe", event["id"]) == "processed":
                    break
                await asyncio.sleep(0.05)
            await worker.stop()
            task.cancel()
        finally:
            await handle.aclose()
    assert (await world.invoice())["status"] == "paid"

    # A job that never ran: the event waits as received; the sweep applies it a minute on.
    revoked = fake.event(
        "account.application.deauthorized",
        {"id": "ca_test", "object": "application"},
        account=account,
    )
    payload, _ = fake.signed(revoked)
    await WebhookEvent.insert(
        WebhookEvent(
            vendor=world.vendor,
            provider="stripe",
            event_id=revoked["id"],
            event_type=revoked["type"],
            payload=payload.decode(),
            received_at=utc(2020, 1, 1),
        )
    )
    assert await process_pending_job({"octane": world.runtime}) == 1
    assert await event_status("stripe", revoked["id"]) == "processed"
    assert await process_pending_job({"octane": world.runtime}) == 0
    status = (await world.client.get("/api/v1/stripe/account", headers=world.headers)).json()
    assert status["connected"] is False


def test_sub_cent_prices_go_to_stripe_as_decimal_unit_amounts() -> None:
    from decimal import Decimal

    from octane.core.contracts import ChargeLine
    from octane.plugins.stripe.invoicing import _charge_line

    period = {"start": 0, "end": 1}
    line = ChargeLine(
        kind="usage",
        description="calls: 1234 calls",
        amount=1543,  # 1,234 x $0.0125 = $15.425, rounded half up
        quantity=Decimal(1234),
        unit_price=Decimal("0.0125"),
        meter="calls",
    )
    sent = _charge_line(line, "USD", period)
    assert sent["price_data"]["unit_amount_decimal"] == "1.25" and "amount" not in sent
    assert sent["quantity_decimal"] == "1234"
    included = ChargeLine(
        kind="usage",
        description="calls beyond 1,000 included",
        amount=293,
        quantity=Decimal(1234),
        unit_price=Decimal("0.0125"),
        meter="calls",
    )
    assert _charge_line(included, "USD", period)["amount"] == 293  # not quantity x price


async def test_the_fake_replays_idempotent_requests_and_refuses_a_reused_key(
    world: World, fake: FakeStripe
) -> None:
    import stripe

    account = await on_stripe(world, fake)
    client: Any = stripe_client(world.plugins.context("stripe"))
    options = {"stripe_account": account, "idempotency_key": "octane-test-1"}
    first = await client.v1.customers.create_async({"name": "Once"}, options)
    again = await client.v1.customers.create_async({"name": "Once"}, options)
    assert first.id == again.id
    with pytest.raises(stripe.IdempotencyError):
        await client.v1.customers.create_async({"name": "Twice"}, options)
    other = fake.connect_account()
    with pytest.raises(stripe.InvalidRequestError):  # objects live in their own account
        await client.v1.customers.retrieve_async(first.id, None, {"stripe_account": other})
