"""The ``pdf_email`` plugin end to end: real WeasyPrint PDFs read back with pypdf, sent
to a real SMTP server (aiosmtpd) on loopback, through the invoice lifecycle and the API."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader

from octane import hookimpl
from octane.core.clock import SystemClock, utc
from octane.core.clocks import advance_test_clock, vendor_clock
from octane.core.config import load_config
from octane.core.contracts import InvoiceView
from octane.core.coupons import create_coupon, redeem_coupon
from octane.core.credit_grants import grant_credit
from octane.core.customers import update_customer
from octane.core.delivery import deliver_invoice
from octane.core.errors import ConflictError
from octane.core.invoice_documents import invoice_pdf
from octane.core.lifecycle import run_due_work
from octane.core.metering import ingest
from octane.core.outbox import sent_messages
from octane.core.plugins import load_plugins
from octane.core.runtime import Octane
from octane.core.store.tables import Invoice
from octane.core.vendor_settings import update_invoice_settings
from octane.core.vendors import create_api_key, create_vendor
from octane.testing.smtp import SmtpServer
from tests.billing_world import (
    FINALIZED,
    IN_GRACE,
    World,
    bill,
    money,
    open_world,
    pdf_text,
    smtp_block,
)


@pytest.fixture
async def world(db_url: str, tmp_path: Path, smtp: SmtpServer) -> AsyncIterator[World]:
    async with open_world(
        db_url,
        tmp_path / "data",
        enabled=["sandbox", "pdf_email"],
        blocks={"pdf_email": smtp_block(smtp)},
    ) as opened:
        yield opened


@pytest.mark.parametrize(
    ("currency", "unit_price", "fixed_fee"),
    [("USD", "0.05", "20"), ("JPY", "3", "1000"), ("BHD", "0.0125", "2.5")],
)
async def test_the_invoice_email_carries_a_pdf_with_every_amount(
    world: World, smtp: SmtpServer, currency: str, unit_price: str, fixed_fee: str
) -> None:
    await bill(world, currency=currency, unit_price=unit_price, fixed_fee=fixed_fee)
    summary = await world.at(FINALIZED)
    assert (summary.invoices_finalized, summary.invoices_delivered) == (1, 1)

    invoice = await world.invoice()
    assert invoice["delivery_status"] == "delivered" and invoice["status"] == "delivered"
    (message,) = smtp.messages
    assert message["To"] == "ap@globex.test"
    assert message["From"] == "Acme Cloud <billing@acme-cloud.test>"
    assert invoice["number"] in message["Subject"]
    assert message["Message-ID"] == f"<invoice-{invoice['id']}@acme-cloud.test>"
    body = message.get_body(("plain",))
    assert body is not None and money(invoice["total"], currency) in body.get_content()
    (attachment,) = list(message.iter_attachments())
    assert attachment.get_content_type() == "application/pdf"
    assert attachment.get_filename() == f"{invoice['number']}.pdf"
    data = attachment.get_content()
    assert data.startswith(b"%PDF")

    text = " ".join(pdf_text(data))
    assert invoice["number"] in text
    assert "Globex Corporation" in text and "1 Market St" in text
    for line in invoice["lines"]:
        assert money(line["amount"], currency) in text, line
    assert money(invoice["total"], currency) in text
    assert [line["kind"] for line in invoice["lines"]] == ["usage", "usage", "fixed_fee", "tax"]
    assert "Tier up to 1,000" in text and "Tier and above" in text
    assert "Page 1 of 1" in text
    metadata = PdfReader(io.BytesIO(data)).metadata
    assert metadata is not None
    assert metadata.title == f"Invoice {invoice['number']}" and metadata.author == "Acme Cloud"

    served = await world.client.get(invoice["pdf_url"], headers=world.headers)
    assert served.status_code == 200 and served.headers["content-type"] == "application/pdf"
    assert served.content == data  # the stored copy, identical to the attachment


async def test_a_long_invoice_repeats_the_table_header_on_every_page(world: World) -> None:
    tiers = [{"up_to": str(10 * (i + 1)), "unit_price": "0.01"} for i in range(299)]
    tiers.append({"up_to": None, "unit_price": "0.02"})
    await bill(world, tiers=tiers, tax_rate=None)
    await ingest(
        world.vendor,
        [
            {
                "meter": "storage",
                "customer": "globex",
                "value": "4000",
                "time": "2026-03-07T00:00:00Z",
            }
        ],
        clock=await vendor_clock(world.vendor),
    )
    await world.at(IN_GRACE)
    invoice = await world.invoice()
    response = await world.client.get(invoice["pdf_url"], headers=world.headers)
    assert response.status_code == 200
    pages = pdf_text(response.content)
    assert len(pages) >= 4
    for number, page in enumerate(pages, start=1):
        assert "DESCRIPTION QUANTITY UNIT PRICE AMOUNT" in page, number
        assert f"Page {number} of {len(pages)}" in page
        assert "DRAFT" in page  # a draft is marked on every page
    assert "Tier up to 2,990" in " ".join(pages) and "Tier and above" in pages[-2] + pages[-1]


async def test_smtp_down_then_up_delivers_once(world: World, smtp: SmtpServer) -> None:
    await bill(world)
    smtp.stop()
    await world.at(FINALIZED)
    invoice = await world.invoice()
    assert invoice["delivery_status"] == "failed"
    assert "Could not reach the SMTP server 127.0.0.1" in invoice["delivery_error"]
    smtp.start()
    await world.at(FINALIZED + timedelta(minutes=5))
    invoice = await world.invoice()
    assert invoice["delivery_status"] == "delivered" and invoice["delivery_error"] == ""
    await world.at(FINALIZED + timedelta(days=1))
    assert len(smtp.messages) == 1
    actions = [event["action"] for event in invoice["timeline"]]
    assert actions.count("invoice.delivery_failed") == 1 and "invoice.delivered" in actions


async def test_smtp_down_for_good_ends_failed_with_the_error(
    world: World, smtp: SmtpServer
) -> None:
    await bill(world)
    smtp.stop()
    for minutes in (0, 5, 35, 155, 875, 2000, 5000):
        await world.at(FINALIZED + timedelta(minutes=minutes))
    invoice = await world.invoice()
    assert invoice["delivery_status"] == "failed"
    assert invoice["delivery_error"].startswith("Could not reach the SMTP server")
    failures = [e for e in invoice["timeline"] if e["action"] == "invoice.delivery_failed"]
    assert len(failures) == 5 and failures[-1]["details"]["retry_at"] is None
    row = await Invoice.select(Invoice.delivery_next_at).where(Invoice.id == invoice["id"]).first()
    assert row is not None and row["delivery_next_at"] is None


async def test_a_delivery_run_twice_sends_one_email(world: World, smtp: SmtpServer) -> None:
    await bill(world)
    await update_invoice_settings(
        world.vendor, {"invoice_delivery": False}, providers=[], channels=[]
    )
    await world.at(FINALIZED)
    invoice = await world.invoice()
    assert invoice["status"] == "finalized" and not smtp.messages
    await Invoice.update({Invoice.delivery_status: "pending"}).where(Invoice.id == invoice["id"])
    clock = await vendor_clock(world.vendor)
    outcomes = await asyncio.gather(
        *(
            deliver_invoice(world.plugins, world.vendor, invoice["id"], clock=clock)
            for _ in range(3)
        )
    )
    assert sorted(outcomes, key=str) == [None, None, "delivered"]
    assert await deliver_invoice(world.plugins, world.vendor, invoice["id"], clock=clock) is None
    assert len(smtp.messages) == 1

    # The sender crashed after the server took the message, before the invoice recorded
    # it: the re-run finds the message in the outbox and does not send it again.
    await Invoice.update(
        {Invoice.delivery_status: "in_flight", Invoice.delivery_next_at: clock.now()}
    ).where(Invoice.id == invoice["id"])
    assert await deliver_invoice(world.plugins, world.vendor, invoice["id"], clock=clock) == (
        "delivered"
    )
    assert len(smtp.messages) == 1
    (sent,) = await sent_messages(world.vendor, invoice["id"])
    assert sent["status"] == "sent" and sent["recipient"] == "ap@globex.test"


async def test_resend_sends_a_new_message_on_purpose(world: World, smtp: SmtpServer) -> None:
    await bill(world)
    await world.at(FINALIZED)
    invoice = await world.invoice()
    response = await world.client.post(
        f"/api/v1/invoices/{invoice['id']}/resend", headers=world.headers
    )
    assert response.status_code == 200, response.text
    first, second = smtp.messages
    assert second["Message-ID"] == f"<invoice-{invoice['id']}-resend-1@acme-cloud.test>"
    assert first["Message-ID"] != second["Message-ID"]
    assert [a.get_content() for a in second.iter_attachments()] == [
        a.get_content() for a in first.iter_attachments()
    ]
    events = [e for e in response.json()["timeline"] if e["action"] == "invoice.delivered"]
    assert [e["details"]["resend"] for e in events] == [False, True]


async def test_resend_is_refused_for_a_draft_and_an_unknown_invoice(world: World) -> None:
    await bill(world)
    await world.at(IN_GRACE)
    invoice = await world.invoice()
    assert invoice["status"] == "draft"
    response = await world.client.post(
        f"/api/v1/invoices/{invoice['id']}/resend", headers=world.headers
    )
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "invoice_not_sendable"
    response = await world.client.post("/api/v1/invoices/inv_nope/resend", headers=world.headers)
    assert response.status_code == 404


async def test_a_customer_without_email_fails_delivery_without_retrying(
    world: World, smtp: SmtpServer
) -> None:
    await bill(world, email=None)
    await world.at(FINALIZED)
    invoice = await world.invoice()
    assert invoice["delivery_status"] == "failed"
    assert "has no email address" in invoice["delivery_error"]
    row = await Invoice.select(Invoice.delivery_next_at).where(Invoice.id == invoice["id"]).first()
    assert row is not None and row["delivery_next_at"] is None
    assert not smtp.messages


async def test_with_invoicing_via_the_provider_this_plugin_sends_nothing(
    world: World, smtp: SmtpServer
) -> None:
    await bill(world)
    await update_invoice_settings(
        world.vendor,
        {"invoicing_via_provider": True, "payment_provider": "sandbox"},
        providers=world.plugins.payment_providers,
        channels=world.plugins.delivery_channels,
    )
    await update_customer(
        world.vendor,
        "globex",
        {"payment_config": {"sandbox": {"outcomes": ["fail:card_declined"]}}},
    )
    await world.at(FINALIZED)
    await world.at(utc(2026, 4, 6))  # charged (and failed) after the payment grace period
    invoice = await world.invoice()
    assert invoice["delivery_channel"] == "sandbox" and invoice["delivery_status"] == "delivered"
    assert [a["status"] for a in invoice["payment_attempts"]] == ["failed"]
    assert not smtp.messages


async def test_payment_notifications_are_emailed_each_with_its_own_template(
    world: World, smtp: SmtpServer
) -> None:
    await bill(world)
    await update_invoice_settings(
        world.vendor,
        {"payment_provider": "sandbox", "payment_retry_schedule": ["P1D"]},
        providers=world.plugins.payment_providers,
        channels=world.plugins.delivery_channels,
    )
    await update_customer(
        world.vendor,
        "globex",
        {"payment_config": {"sandbox": {"outcomes": ["fail:insufficient_funds", "succeed"]}}},
    )
    await world.at(FINALIZED)
    await world.at(utc(2026, 4, 5))  # the payment grace period ends: the charge fails
    await world.at(utc(2026, 4, 6))  # the retry succeeds
    invoice_mail, failed, received = smtp.messages
    invoice = await world.invoice()
    number = invoice["number"]
    assert invoice_mail["Subject"].startswith(f"Invoice {number} from Acme Cloud")
    assert failed["Subject"] == f"Payment for invoice {number} failed"
    failed_text = failed.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "We will try again on Apr 6, 2026." in failed_text
    assert received["Subject"] == f"Payment received for invoice {number}"
    assert money(invoice["total"], "USD") in received.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert not list(failed.iter_attachments())
    assert len({m["Message-ID"] for m in smtp.messages}) == 3


async def test_the_pdf_shows_trial_discount_credit_and_remaining_credit(world: World) -> None:
    await bill(world, tax_rate="10")
    clock = await vendor_clock(world.vendor)
    await create_coupon(world.vendor, code="WELCOME", percent_off="10", clock=clock)
    await redeem_coupon(world.vendor, "globex", "WELCOME", clock=clock)
    await grant_credit(world.vendor, "globex", amount="50", currency="USD", clock=clock)
    await world.at(FINALIZED)
    invoice = await world.invoice()
    stages = [line["kind"] for line in invoice["lines"] if line["section"] == "adjustment"]
    assert stages == ["discount", "tax", "credit"]
    response = await world.client.get(invoice["pdf_url"], headers=world.headers)
    text = " ".join(pdf_text(response.content))
    for line in invoice["lines"]:
        assert money(line["amount"], "USD") in text
    assert "Credit applied" in text and "Discount" in text
    assert "Credit remaining after this invoice: $0.00" not in text  # nothing left: not shown
    assert f"Amount due {money(invoice['amount_due'], 'USD')}" in text


async def test_a_draft_pdf_is_rendered_live_and_marked_draft(world: World) -> None:
    await bill(world)
    await world.at(IN_GRACE)
    invoice = await world.invoice()
    first = await world.client.get(invoice["pdf_url"], headers=world.headers)
    assert first.status_code == 200 and first.headers["cache-control"] == "no-store"
    assert "DRAFT" in pdf_text(first.content)[0]
    await ingest(
        world.vendor,
        [{"meter": "calls", "customer": "globex", "value": "1000", "time": "2026-03-09T00:00:00Z"}],
        clock=await vendor_clock(world.vendor),
    )
    updated = await world.invoice()
    second = await world.client.get(invoice["pdf_url"], headers=world.headers)
    assert money(updated["total"], "USD") in pdf_text(second.content)[0]
    assert updated["total"] != invoice["total"]
    other = await create_vendor(name="Other", email="o@o.test", clock=SystemClock())
    key = await create_api_key(str(other["id"]), clock=SystemClock())
    response = await world.client.get(
        invoice["pdf_url"], headers={"Authorization": f"Bearer {key.key}"}
    )
    assert response.status_code == 404


async def test_branding_appears_on_the_invoice_and_bad_values_are_refused(world: World) -> None:
    await bill(world)
    put = world.client.put
    response = await put(
        "/api/v1/settings/branding",
        json={"accent_color": "blue"},
        headers=world.headers,
    )
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "accent_color"
    response = await put(
        "/api/v1/settings/branding", json={"locale": "xx_YY"}, headers=world.headers
    )
    assert response.status_code == 422 and response.json()["error"]["field"] == "locale"
    response = await put(
        "/api/v1/settings/branding/logo",
        content=b"GIF89a...",
        headers={**world.headers, "Content-Type": "image/gif"},
    )
    assert response.status_code == 422 and response.json()["error"]["field"] == "logo"
    response = await put(
        "/api/v1/settings/branding",
        json={
            "company_name": "Acme Cloud GmbH",
            "address_lines": ["Hauptstrasse 1", "10115 Berlin"],
            "tax_id": "DE123456789",
            "accent_color": "#0F766E",
            "footer": "Acme Cloud GmbH, HRB 12345, Berlin",
            "locale": "de_DE",
        },
        headers=world.headers,
    )
    assert response.status_code == 200, response.text
    assert response.json()["accent_color"] == "#0f766e"
    response = await put(
        "/api/v1/settings/branding/logo",
        content=_png(),
        headers={**world.headers, "Content-Type": "image/png"},
    )
    assert response.status_code == 200 and response.json()["logo_type"] == "image/png"
    await world.at(IN_GRACE)
    invoice = await world.invoice()
    response = await world.client.get(invoice["pdf_url"], headers=world.headers)
    page = PdfReader(io.BytesIO(response.content)).pages[0]
    text = " ".join(page.extract_text().split())
    assert "Acme Cloud GmbH" in text and "DE123456789" in text and "HRB 12345" in text
    total = Decimal(invoice["total"]).scaleb(-2)
    assert f"{total:,.2f}".replace(",", "X").replace(".", ",").replace("X", ".") + " $" in text
    assert len(page.images) == 1

    preview = await world.client.get("/api/v1/settings/branding/preview", headers=world.headers)
    assert preview.status_code == 200 and preview.headers["content-type"] == "application/pdf"
    sample = " ".join(pdf_text(preview.content))
    assert "SAMPLE-2026-000001" in sample and "Acme Cloud GmbH" in sample


def _png() -> bytes:
    """A 2x2 teal PNG written by hand (zlib, no imaging library needed)."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    raw = b"".join(b"\x00" + b"\x0f\x76\x6e" * 2 for _ in range(2))
    header = struct.pack(">IIBBBBB", 2, 2, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


async def test_the_test_email_endpoint_reports_success_and_smtp_errors(
    world: World, smtp: SmtpServer
) -> None:
    await bill(world)
    post = world.client.post
    response = await post(
        "/api/v1/settings/email/test", json={"to": "ops@acme.test"}, headers=world.headers
    )
    assert response.status_code == 200 and response.json()["sent"] is True
    (message,) = smtp.messages
    assert message["To"] == "ops@acme.test" and "Test email" in message["Subject"]
    response = await post("/api/v1/settings/email/test", json={"to": "nope"}, headers=world.headers)
    assert response.status_code == 422 and response.json()["error"]["field"] == "to"
    smtp.stop()
    response = await post(
        "/api/v1/settings/email/test", json={"to": "ops@acme.test"}, headers=world.headers
    )
    body = response.json()
    assert response.status_code == 200 and body["sent"] is False
    assert "Could not reach the SMTP server" in body["error"]


class OwnRenderer:
    """A third-party renderer: it answers ``render_invoice_pdf`` for drafts only."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, bool]] = []

    @hookimpl
    def render_invoice_pdf(self, invoice: InvoiceView, draft: bool) -> bytes | None:
        self.calls.append((invoice.id, draft))
        return b"%PDF-1.7 own draft" if draft else None


async def test_the_first_plugin_that_renders_is_used_and_none_means_409(
    db: Any, tmp_path: Path
) -> None:
    from tests.helpers import setup_billed_customer

    own = OwnRenderer()
    plugins = load_plugins(
        ["sandbox", "pdf_email", "aaa_own"], extra_plugins={"aaa_own": own}, use_entry_points=False
    )
    config = load_config(env={"OCTANE_DATA_DIR": str(tmp_path / "data")})
    runtime = Octane(config=config, plugins=plugins, engine=db, clock=SystemClock())
    vendor, _ = await setup_billed_customer()
    await advance_test_clock(vendor, IN_GRACE)
    await run_due_work(plugins, vendor, await vendor_clock(vendor))
    row = await Invoice.select(Invoice.id).where(Invoice.vendor == vendor).first()
    assert row is not None
    pdf, _ = await invoice_pdf(plugins, vendor, row["id"], at=IN_GRACE)
    assert pdf == b"%PDF-1.7 own draft" and own.calls == [(row["id"], True)]

    bare = load_plugins(["sandbox"], use_entry_points=False)
    Octane(config=config, plugins=bare, engine=db, clock=SystemClock())
    with pytest.raises(ConflictError) as refused:
        await invoice_pdf(bare, vendor, row["id"], at=IN_GRACE)
    assert refused.value.code == "pdf_unavailable"
    await runtime.plugins.close()


async def test_a_killed_render_process_is_replaced(world: World) -> None:
    import os
    import signal

    await bill(world)
    await world.at(IN_GRACE)
    invoice = await world.invoice()
    assert (await world.client.get(invoice["pdf_url"], headers=world.headers)).status_code == 200
    pool = world.plugins.context("pdf_email").state["pool"]
    for process in list(pool._processes.values()):
        os.kill(process.pid, signal.SIGKILL)
    response = await world.client.get(invoice["pdf_url"], headers=world.headers)
    assert response.status_code == 200 and response.content.startswith(b"%PDF")
    assert world.plugins.context("pdf_email").state["pool"] is not pool
