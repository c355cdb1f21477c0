"""The ``paddle`` plugin end to end against a local fake Paddle Billing API
(``octane.testing.fake_paddle``): the encrypted connection, invoicing via Paddle with
its tax copied back and its PDF stored, charges through the customer's subscription
(paid, declined, lost answers reconciled), signed notifications, and rate limits."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from octane.core.clock import utc
from octane.core.clocks import vendor_clock
from octane.core.credit_grants import grant_credit
from octane.core.customers import create_customer, get_customer_row, update_customer
from octane.core.errors import BadRequestError
from octane.core.metering import ingest
from octane.core.store.tables import AuditLog, Invoice, LedgerEntry, ProviderAccount, WebhookEvent
from octane.core.subscriptions import create_subscription
from octane.core.vendor_settings import update_invoice_settings
from octane.core.views import customer_view_by_id
from octane.plugins.paddle.connection import api_for
from octane.plugins.paddle.customers import ensure_customer
from octane.plugins.paddle.events import verify
from octane.testing.fake_paddle import FakePaddle
from octane.testing.fixtures import ON_POSTGRES
from octane.testing.smtp import SmtpServer
from tests.billing_world import FINALIZED, World, bill, open_world, smtp_block

CHARGED = utc(2026, 4, 5)  # the default three-day payment grace period is over
MARCH = "2026-03-05T00:00:00Z"
ADDRESS = {"line1": "1 Market St", "city": "Springfield", "country": "US", "postal_code": "94105"}


@pytest.fixture
def fake() -> Iterator[FakePaddle]:
    server = FakePaddle()
    server.start()
    yield server
    server.stop()


def paddle_block(fake: FakePaddle, **extra: Any) -> dict[str, Any]:
    return {
        "sandbox_api_base": fake.url,
        "live_api_base": fake.url,
        "timeout_seconds": 1,
        **extra,
    }


@pytest.fixture
async def world(
    db_url: str, tmp_path: Path, smtp: SmtpServer, fake: FakePaddle
) -> AsyncIterator[World]:
    blocks = {"pdf_email": smtp_block(smtp), "paddle": paddle_block(fake)}
    async with open_world(
        db_url, tmp_path / "data", enabled=["pdf_email", "paddle"], blocks=blocks
    ) as opened:
        yield opened


async def connect(world: World, fake: FakePaddle) -> httpx.Response:
    return await world.client.put(
        "/api/v1/paddle/connection",
        json={
            "api_key": fake.api_key,
            "webhook_secret": fake.webhook_secret,
            "environment": "sandbox",
        },
        headers=world.headers,
    )


async def on_paddle(world: World, fake: FakePaddle, *, subscription: bool = True) -> str | None:
    """Bill ``globex`` through Paddle (Paddle computes the tax, so ours is off); with a
    Paddle subscription bought once through Checkout. Returns the subscription id."""
    await bill(world, tax_rate=None)
    assert (await connect(world, fake)).status_code == 200
    await update_invoice_settings(
        world.vendor,
        {"payment_provider": "paddle", "payment_retry_schedule": ["P2D"]},
        providers=world.plugins.payment_providers,
        channels=world.plugins.delivery_channels,
    )
    await update_customer(world.vendor, "globex", {"address": ADDRESS})
    if not subscription:
        return None
    customer, _ = await customer_view_by_id(
        str((await get_customer_row(world.vendor, "globex"))["id"])
    )
    api = await api_for(world.plugins.context("paddle"), world.vendor)
    twin = await ensure_customer(api, customer)
    sub = fake.add_subscription(twin.customer_id)
    await update_customer(
        world.vendor, "globex", {"payment_config": {"paddle": {"subscription_id": sub}}}
    )
    return sub


def charges(fake: FakePaddle) -> list[dict[str, Any]]:
    return [t for t in fake.transactions.values() if t["origin"] == "subscription_charge"]


# -- connection -------------------------------------------------------------------------


async def test_the_connection_is_encrypted_masked_and_tested(
    world: World, fake: FakePaddle
) -> None:
    await bill(world)
    empty = await world.client.get("/api/v1/paddle/connection", headers=world.headers)
    assert empty.status_code == 200 and empty.json()["connected"] is False
    assert empty.json()["webhook_url"].endswith(f"/webhooks/paddle/{world.vendor}")
    untested = await world.client.post("/api/v1/paddle/connection/test", headers=world.headers)
    assert untested.status_code == 409
    assert untested.json()["error"]["code"] == "paddle_not_connected"

    bad_env = await world.client.put(
        "/api/v1/paddle/connection",
        json={"api_key": fake.api_key, "webhook_secret": "pdl_ntf_x123456", "environment": "prod"},
        headers=world.headers,
    )
    assert bad_env.status_code == 422 and "environment" in bad_env.text
    missing = await world.client.put(
        "/api/v1/paddle/connection", json={"api_key": fake.api_key}, headers=world.headers
    )
    assert missing.status_code == 422 and "webhook_secret" in missing.text

    response = await connect(world, fake)
    assert response.status_code == 200, response.text
    shown = response.json()
    assert shown["connected"] is True and shown["environment"] == "sandbox"
    assert fake.api_key not in response.text and fake.webhook_secret not in response.text
    assert shown["api_key"].endswith(fake.api_key[-4:]) and "…" in shown["api_key"]
    row = await ProviderAccount.select().where(ProviderAccount.vendor == world.vendor).first()
    assert row is not None
    assert fake.api_key not in str(row) and fake.webhook_secret not in str(row)

    tested = await world.client.post("/api/v1/paddle/connection/test", headers=world.headers)
    assert tested.json() == {"ok": True, "message": "Paddle accepted the API key."}
    assert ("GET", "/event-types") in fake.requests

    wrong = await world.client.put(
        "/api/v1/paddle/connection",
        json={"api_key": "pdl_sdbx_apikey_wrong_key_0000", "webhook_secret": "pdl_ntf_x123456"},
        headers=world.headers,
    )
    assert wrong.status_code == 200
    refused = (
        await world.client.post("/api/v1/paddle/connection/test", headers=world.headers)
    ).json()
    assert refused["ok"] is False
    assert "You aren't permitted to perform this request. (forbidden)" in refused["message"]

    gone = await world.client.delete("/api/v1/paddle/connection", headers=world.headers)
    assert gone.status_code == 200 and gone.json()["connected"] is False
    row = await ProviderAccount.select().where(ProviderAccount.vendor == world.vendor).first()
    assert row is not None and row["secrets"] == ""


async def test_customer_sync_resolves_an_existing_paddle_customer(
    world: World, fake: FakePaddle
) -> None:
    await bill(world)
    await connect(world, fake)
    await update_customer(world.vendor, "globex", {"address": ADDRESS})
    api = await api_for(world.plugins.context("paddle"), world.vendor)
    existing = await api.data("POST", "/customers", body={"email": "ap@globex.test"})
    customer, _ = await customer_view_by_id(
        str((await get_customer_row(world.vendor, "globex"))["id"])
    )
    twin = await ensure_customer(api, customer)
    assert twin.customer_id == existing["id"]  # the 409 named it
    assert len(fake.customers) == 1 and len(fake.addresses) == 1
    row = await get_customer_row(world.vendor, "globex")
    assert row["provider_ids"]["paddle"] == existing["id"]
    assert row["provider_ids"]["paddle_address"] == twin.address_id


# -- invoicing via Paddle -----------------------------------------------------------------


async def _webhook(world: World, payload: bytes, signature: str, vendor: str = "") -> Any:
    return await world.client.post(
        f"/webhooks/paddle/{vendor or world.vendor}",
        content=payload,
        headers={"Paddle-Signature": signature, "Content-Type": "application/json"},
    )


async def test_invoicing_via_paddle_copies_tax_stores_the_pdf_and_sends_no_email(
    world: World, fake: FakePaddle, smtp: SmtpServer
) -> None:
    fake.tax_percent = 8
    await on_paddle(world, fake, subscription=False)
    response = await world.client.put(
        "/api/v1/settings/invoicing",
        json={"invoicing_via_provider": True, "auto_charge": False},
        headers=world.headers,
    )
    assert response.status_code == 200, response.text
    await world.at(FINALIZED)

    invoice = await world.invoice()
    (transaction,) = fake.transactions.values()
    assert transaction["custom_data"]["octane_invoice"] == invoice["id"]
    assert transaction["collection_mode"] == "manual" and transaction["status"] == "billed"
    assert transaction["billing_details"]["payment_terms"] == {"interval": "day", "frequency": 3}
    assert fake.emailed_invoices == [transaction["id"]]  # Paddle emails it ...
    assert not smtp.messages  # ... and Octane sends nothing of its own
    ours = [line for line in invoice["lines"] if line["section"] == "charge"]
    sent = [item["price"]["unit_price"]["amount"] for item in transaction["items"]]
    assert sent == [str(line["amount"]) for line in ours if line["amount"]]
    (tax_line,) = [line for line in invoice["lines"] if line["kind"] == "tax"]
    totals = transaction["details"]["totals"]
    assert tax_line["amount"] == int(totals["tax"]) > 0 and tax_line["source"] == "paddle"
    assert invoice["total"] == int(totals["grand_total"]) == invoice["amount_due"]
    assert invoice["provider_invoice_id"] == transaction["id"]
    entries = await LedgerEntry.select().where(
        (LedgerEntry.invoice == invoice["id"]) & (LedgerEntry.kind == "tax")
    )
    assert [e["amount"] for e in entries] == [int(totals["tax"])]
    pdf = await world.client.get(f"/api/v1/invoices/{invoice['id']}/pdf", headers=world.headers)
    assert pdf.status_code == 200
    assert pdf.content.startswith(b"%PDF") and transaction["invoice_number"].encode() in pdf.content

    # Out of order: paid arrives before billed; the invoice is settled once either way.
    paid = fake.notification("transaction.paid", {**transaction, "status": "paid"})
    billed = fake.notification("transaction.billed", transaction)
    assert (await _webhook(world, *fake.signed(paid))).json()["status"] == "processed"
    # A late "billed" is only noted on the timeline: it cannot move the invoice backwards.
    assert (await _webhook(world, *fake.signed(billed))).json()["status"] == "processed"
    completed = fake.notification("transaction.completed", {**transaction, "status": "completed"})
    assert (await _webhook(world, *fake.signed(completed))).json()["status"] == "processed"
    assert (await _webhook(world, *fake.signed(paid))).json()["duplicate"] is True
    invoice = await world.invoice()
    assert invoice["status"] == "paid" and invoice["amount_paid"] == invoice["total"]
    assert "paddle.transaction.billed" in [e["action"] for e in invoice["timeline"]]
    payments = await LedgerEntry.select().where(
        (LedgerEntry.invoice == invoice["id"]) & (LedgerEntry.kind == "payment")
    )
    assert [p["amount"] for p in payments] == [-invoice["total"]]


async def test_credits_go_to_paddle_as_one_net_item(world: World, fake: FakePaddle) -> None:
    """Paddle refuses negative prices: with a credit drawn, the lines go as one item."""
    await on_paddle(world, fake, subscription=False)
    await update_invoice_settings(
        world.vendor,
        {"invoicing_via_provider": True, "auto_charge": False},
        providers=world.plugins.payment_providers,
        channels=world.plugins.delivery_channels,
    )
    clock = await vendor_clock(world.vendor)
    await grant_credit(world.vendor, "globex", amount="5", currency="USD", clock=clock)
    await world.at(FINALIZED)
    invoice = await world.invoice()
    (transaction,) = fake.transactions.values()
    (item,) = transaction["items"]
    assert item["price"]["unit_price"]["amount"] == str(invoice["total"])
    assert "less" in item["price"]["description"]
    assert invoice["total"] == int(transaction["details"]["totals"]["grand_total"])


async def test_a_paddle_invoice_needs_a_supported_currency(world: World, fake: FakePaddle) -> None:
    await bill(world, currency="JPY", tax_rate=None)
    await connect(world, fake)
    await update_invoice_settings(
        world.vendor,
        {"payment_provider": "paddle", "invoicing_via_provider": True, "auto_charge": False},
        providers=world.plugins.payment_providers,
        channels=world.plugins.delivery_channels,
    )
    await world.at(FINALIZED)
    invoice = await world.invoice()
    assert invoice["status"] == "finalized" or invoice["delivery_error"]
    row = await Invoice.select().where(Invoice.id == invoice["id"]).first()
    assert row is not None and "USD, EUR, GBP, not JPY" in row["delivery_error"]
    assert not fake.transactions


# -- charging through the subscription ----------------------------------------------------


async def test_our_invoice_is_emailed_then_charged_through_the_subscription_once(
    world: World, fake: FakePaddle, smtp: SmtpServer
) -> None:
    sub = await on_paddle(world, fake)
    await world.at(FINALIZED)
    assert len(smtp.messages) == 1  # our PDF by email: provider invoicing is off
    await world.at(CHARGED)
    invoice = await world.invoice()
    assert invoice["status"] == "paid" and invoice["amount_paid"] == invoice["total"]
    (charge,) = charges(fake)
    (attempt,) = invoice["payment_attempts"]
    assert charge["subscription_id"] == sub and charge["status"] == "completed"
    (item,) = charge["items"]
    assert item["price"]["unit_price"] == {"amount": str(invoice["total"]), "currency_code": "USD"}
    assert item["price"]["custom_data"]["octane_attempt"] == attempt["id"]
    assert attempt["provider_reference"] == charge["id"]
    await world.at(CHARGED + timedelta(days=3))
    assert len(charges(fake)) == 1


async def test_a_declined_charge_fails_with_a_neutral_code_then_succeeds_on_retry(
    world: World, fake: FakePaddle
) -> None:
    sub = await on_paddle(world, fake)
    assert sub is not None
    fake.declines[sub] = "not_enough_balance"
    await world.at(FINALIZED)
    await world.at(CHARGED)
    invoice = await world.invoice()
    (attempt,) = invoice["payment_attempts"]
    assert invoice["status"] == "failed" and attempt["failure_code"] == "insufficient_funds"
    assert "not_enough_balance" in attempt["failure_message"]
    del fake.declines[sub]
    await world.at(CHARGED + timedelta(days=2))
    invoice = await world.invoice()
    assert invoice["status"] == "paid"
    assert [t["status"] for t in charges(fake)] == ["past_due", "completed"]


async def test_no_subscription_or_no_connection_fail_clearly(
    world: World, fake: FakePaddle
) -> None:
    await on_paddle(world, fake, subscription=False)
    await world.at(FINALIZED)
    await world.at(CHARGED)
    (attempt,) = (await world.invoice())["payment_attempts"]
    assert attempt["failure_code"] == "no_payment_method"
    assert "no Paddle subscription" in attempt["failure_message"]
    await world.client.delete("/api/v1/paddle/connection", headers=world.headers)
    await world.at(CHARGED + timedelta(days=2))
    attempts = (await world.invoice())["payment_attempts"]
    assert attempts[-1]["failure_code"] == "provider_error"
    assert "has not connected Paddle" in attempts[-1]["failure_message"]


async def test_a_lost_answer_is_reconciled_by_lookup_and_charged_once(
    world: World, fake: FakePaddle
) -> None:
    await on_paddle(world, fake)
    await world.at(FINALIZED)
    fake.hang_after_recording = 3.0  # Paddle charges, then the answer times out (1 s)
    await world.at(CHARGED)
    (attempt,) = (await world.invoice())["payment_attempts"]
    assert attempt["status"] == "unknown"
    assert [t["status"] for t in charges(fake)] == ["completed"]
    await world.at(CHARGED + timedelta(minutes=5))  # reconciliation asks Paddle
    invoice = await world.invoice()
    assert invoice["status"] == "paid"
    assert [a["status"] for a in invoice["payment_attempts"]] == ["succeeded"]
    assert len(charges(fake)) == 1


# -- notifications ------------------------------------------------------------------------


def test_the_known_good_signature_vector_verifies() -> None:
    secret = "pdl_ntf_01hbpjmytsa32fhr36nqgc3kgb_WvRO0eL4Bj9rgYYIBZY6wZhG4EHy9jzh"
    header = "ts=1696195954;h1=d96299976a6eb066f484d7fde011ac56fc32b38fc9940bc419d6e537fdc6ef02"
    at = datetime.fromtimestamp(1696195954, UTC)
    verify(b"hello-world", header, secret, now=at)
    rotated = "ts=1696195954;h1=00ff;h1=" + header.rsplit("h1=", 1)[1]
    verify(b"hello-world", rotated, secret, now=at + timedelta(seconds=5))
    with pytest.raises(BadRequestError):
        verify(b"hello-world!", header, secret, now=at)
    with pytest.raises(BadRequestError) as stale:
        verify(b"hello-world", header, secret, now=at + timedelta(seconds=6))
    assert stale.value.code == "stale_signature"


async def test_notifications_are_verified_recorded_once_and_applied(
    world: World, fake: FakePaddle
) -> None:
    await on_paddle(world, fake)
    await world.at(FINALIZED)
    fake.hang_after_recording = 3.0
    await world.at(CHARGED)
    (attempt,) = (await world.invoice())["payment_attempts"]
    assert attempt["status"] == "unknown"
    (charge,) = charges(fake)
    event = fake.notification("transaction.completed", charge)

    payload, signature = fake.signed(event)
    bad = await _webhook(world, payload, signature.replace("h1=", "h1=0"))
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_signature"
    stale = await _webhook(world, *fake.signed(event, timestamp=int(time.time()) - 60))
    assert stale.status_code == 400 and stale.json()["error"]["code"] == "stale_signature"
    other = await _webhook(world, *fake.signed(event, secret="pdl_ntf_someone_else"))
    assert other.status_code == 400
    assert await WebhookEvent.count() == 0  # nothing recorded, nothing changed
    assert (await world.invoice())["status"] != "paid"

    first = await _webhook(world, payload, signature)
    assert first.status_code == 200 and first.json() == {"received": True, "status": "processed"}
    assert (await world.invoice())["status"] == "paid"
    replay = await _webhook(world, *fake.signed(event))
    assert replay.json() == {"received": True, "duplicate": True}
    # Out of order: a failure notice for the same charge arriving late changes nothing.
    late = fake.notification(
        "transaction.past_due",
        {
            **charge,
            "status": "past_due",
            "payments": [{"status": "error", "error_code": "declined"}],
        },
    )
    assert (await _webhook(world, *fake.signed(late))).status_code == 200
    invoice = await world.invoice()
    assert invoice["status"] == "paid" and invoice["payment_attempts"][0]["status"] == "succeeded"

    unknown = await _webhook(world, *fake.signed(event), vendor="ven_nobody")
    assert unknown.status_code == 200 and unknown.json()["ignored"] == "unknown vendor"
    assert await WebhookEvent.count() == 2


# -- rate limits -------------------------------------------------------------------------


async def test_a_429_is_honoured_with_retry_after(world: World, fake: FakePaddle) -> None:
    await bill(world)
    await connect(world, fake)
    fake.rate_limit, fake.window_seconds = 5, 1.0  # a tiny limit the client does not know
    api = await api_for(world.plugins.context("paddle"), world.vendor)
    started = time.monotonic()
    for _ in range(8):
        await api.data("GET", "/event-types")
    assert fake.throttled >= 1 and fake.lockouts == 0
    assert time.monotonic() - started >= 1.0  # it waited as Paddle asked


@pytest.mark.skipif(
    ON_POSTGRES,
    reason="The limiter does not depend on the database; on the throwaway PostgreSQL the same "
    "run spends over a minute in the core's per-invoice work on this shared machine.",
)
async def test_a_500_customer_billing_run_stays_under_the_rate_limit(
    db_url: str, tmp_path: Path, smtp: SmtpServer
) -> None:
    """Paddle's limit scaled to 240 per second so the run is quick; the client keeps to 200."""
    fake = FakePaddle(rate_limit=240, window_seconds=1.0)
    fake.start()
    try:
        blocks = {
            "pdf_email": smtp_block(smtp),
            "paddle": paddle_block(fake, max_requests=200, rate_window_seconds=1.0),
        }
        async with open_world(
            db_url, tmp_path / "data", enabled=["pdf_email", "paddle"], blocks=blocks
        ) as world:
            await bill(world, tax_rate=None)
            await connect(world, fake)
            await update_invoice_settings(
                world.vendor,
                {
                    "payment_provider": "paddle",
                    "invoicing_via_provider": True,
                    "auto_charge": False,
                },
                providers=world.plugins.payment_providers,
                channels=world.plugins.delivery_channels,
            )
            await update_customer(world.vendor, "globex", {"address": ADDRESS})
            clock = await vendor_clock(world.vendor)
            for n in range(499):
                name = f"c{n:03d}"
                await create_customer(
                    world.vendor,
                    {
                        "name": name,
                        "currency": "USD",
                        "email": f"{name}@example.test",
                        "address": ADDRESS,
                    },
                    clock=clock,
                )
                await create_subscription(
                    world.vendor, name, price_plan="pro", starts_at=utc(2026, 3, 1), clock=clock
                )
            await ingest(
                world.vendor,
                [
                    {
                        "meter": "calls",
                        "customer": f"c{n:03d}",
                        "value": "10",
                        "time": "2026-03-05T00:00:00Z",
                    }
                    for n in range(499)
                ],
                clock=clock,
            )
            started = time.monotonic()
            await world.at(FINALIZED)
            elapsed = time.monotonic() - started
            billed = [t for t in fake.transactions.values() if t["status"] == "billed"]
            assert len(billed) == 500
            assert len(fake.requests) > 10 * fake.rate_limit  # many windows' worth
            assert fake.throttled == 0 and fake.lockouts == 0
            assert await Invoice.count().where(Invoice.provider_invoice_id.is_not_null()) == 500
            assert elapsed < 60, elapsed
    finally:
        fake.stop()


async def test_notifications_are_applied_by_a_job_and_lost_jobs_by_the_sweep(
    world: World, fake: FakePaddle
) -> None:
    import asyncio
    import tempfile

    from octane.core.jobs import make_worker
    from octane.core.queue import connect_queue
    from octane.core.webhooks import event_status
    from octane.plugins.paddle.events import process_event_job, process_pending_job, receive

    await on_paddle(world, fake)
    await world.at(FINALIZED)
    fake.hang_after_recording = 3.0
    await world.at(CHARGED)
    (charge,) = charges(fake)
    event = fake.notification("transaction.completed", charge)
    with tempfile.TemporaryDirectory(prefix="oq-", dir="/tmp") as folder:
        handle = await connect_queue(None, Path(folder))
        try:
            answer = await receive(
                world.plugins, world.vendor, *fake.signed(event), queue=handle.queue
            )
            assert answer == {"received": True, "queued": True}
            assert (await world.invoice())["status"] != "paid"
            worker = make_worker(
                handle.queue,
                context={"octane": world.runtime},
                functions=[("paddle:process_event", process_event_job)],
            )
            task = asyncio.create_task(worker.start())
            for _ in range(200):
                if await event_status("paddle", event["event_id"]) == "processed":
                    break
                await asyncio.sleep(0.05)
            await worker.stop()
            task.cancel()
        finally:
            await handle.aclose()
    assert (await world.invoice())["status"] == "paid"
    assert await process_pending_job({"octane": world.runtime}) == 0


async def test_refunds_subscriptions_and_billed_transactions_from_notifications(
    world: World, fake: FakePaddle
) -> None:
    sub = await on_paddle(world, fake)
    await world.at(FINALIZED)
    await world.at(CHARGED)
    invoice = await world.invoice()
    (charge,) = charges(fake)

    async def send(event_type: str, data: dict[str, Any]) -> dict[str, Any]:
        response = await _webhook(world, *fake.signed(fake.notification(event_type, data)))
        assert response.status_code == 200, response.text
        return dict(response.json())

    pending = fake.adjustment(charge["id"], 700, status="pending_approval")
    assert (await send("adjustment.created", pending))["status"] == "ignored"
    approved = {**pending, "status": "approved"}
    assert (await send("adjustment.updated", approved))["status"] == "processed"
    assert (await send("adjustment.updated", approved))["status"] == "processed"  # a repeat
    refunds = await LedgerEntry.select(LedgerEntry.amount).where(
        (LedgerEntry.invoice == invoice["id"]) & (LedgerEntry.kind == "refund")
    )
    assert [r["amount"] for r in refunds] == [700]  # once per adjustment, however often told
    assert (await world.invoice())["amount_paid"] == invoice["total"] - 700
    credit = fake.adjustment(charge["id"], 300, action="credit")
    assert (await send("adjustment.created", credit))["status"] == "ignored"

    past_due = {"id": sub, "status": "past_due"}
    assert (await send("subscription.past_due", past_due))["status"] == "processed"
    customer = await get_customer_row(world.vendor, "globex")
    events = await AuditLog.select(AuditLog.action).where(AuditLog.target == customer["id"])
    assert [e["action"] for e in events] == ["paddle.subscription.past_due"]
    stranger = {"id": "sub_nobody", "status": "canceled"}
    assert (await send("subscription.canceled", stranger))["status"] == "ignored"


async def test_a_customer_without_a_subscription_pays_through_a_checkout_link(
    world: World, fake: FakePaddle
) -> None:
    fake.tax_percent = 10
    await on_paddle(world, fake, subscription=False)
    await world.at(FINALIZED)
    invoice = await world.invoice()
    path = f"/api/v1/paddle/invoices/{invoice['id']}/checkout-link"
    first = await world.client.post(path, headers=world.headers)
    assert first.status_code == 200, first.text
    again = await world.client.post(path, headers=world.headers)
    assert again.json()["url"] == first.json()["url"]  # one transaction per invoice
    (transaction,) = fake.transactions.values()
    assert first.json()["url"].endswith(transaction["id"])
    assert transaction["collection_mode"] == "automatic"
    assert transaction["details"]["totals"]["grand_total"] == str(invoice["amount_due"])
    paid = fake.notification("transaction.completed", fake.pay_checkout(transaction["id"]))
    assert (await _webhook(world, *fake.signed(paid))).json()["status"] == "processed"
    settled = await world.invoice()
    assert settled["status"] == "paid" and settled["amount_paid"] == invoice["amount_due"]
    done = await world.client.post(path, headers=world.headers)
    assert done.status_code == 409 and done.json()["error"]["code"] == "invoice_not_payable"
    missing = await world.client.post(
        "/api/v1/paddle/invoices/inv_nope/checkout-link", headers=world.headers
    )
    assert missing.status_code == 404
