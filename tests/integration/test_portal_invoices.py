"""Portal: the invoice list with its filters, an invoice's detail, and its actions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from octane.core.clock import utc
from octane.core.invoices import list_invoices
from tests.portal import advance, billing_vendor, login, page_csrf, portal_client, vendor_user

DECLINING = {"payment_config": {"sandbox": {"outcomes": ["fail:card_declined"]}}}


async def _invoice(vendor: str, customer: str) -> dict[str, Any]:
    rows, _ = await list_invoices(vendor, customer=customer)
    return rows[0]


async def test_list_filters_and_detail(db_url: str, tmp_path: Path) -> None:
    async with portal_client(db_url, tmp_path) as client:
        vendor, email = await billing_vendor(customers={"acme": {}, "globex": DECLINING})
        await advance(vendor, utc(2026, 2, 5))  # finalized Feb 2, charged Feb 5
        await login(client, email)
        page = await client.get("/portal/invoices")
        assert page.status_code == 200
        assert "acme" in page.text and "globex" in page.text and "$20.00" in page.text
        failed = await client.get("/portal/invoices?status=failed", headers={"HX-Request": "true"})
        assert "globex" in failed.text and "acme" not in failed.text
        assert "<html" not in failed.text  # the results only
        unknown = await client.get("/portal/invoices?customer=nobody")
        assert 'id="customer-error"' in unknown.text and "nobody" in unknown.text
        bad_date = await client.get("/portal/invoices?from=yesterday")
        assert 'id="from-error"' in bad_date.text
        invoice = await _invoice(vendor, "globex")
        detail = await client.get(f"/portal/invoices/{invoice['id']}")
        assert detail.status_code == 200
        for text in ("card_declined", "payment.failed", "Retry payment", "$10.00", "1,000"):
            assert text in detail.text, text
        assert 'id="invoice-delivery-actions"' in detail.text


async def test_retry_mark_paid_and_void(db_url: str, tmp_path: Path) -> None:
    async with portal_client(db_url, tmp_path) as client:
        vendor, email = await billing_vendor(customers={"acme": DECLINING, "globex": DECLINING})
        await advance(vendor, utc(2026, 2, 5))
        await login(client, email)
        csrf = await page_csrf(client, "/portal/invoices")
        htmx = {"HX-Request": "true", "X-CSRF-Token": csrf}
        acme = await _invoice(vendor, "acme")
        retried = await client.post(f"/portal/invoices/{acme['id']}/retry-payment", headers=htmx)
        assert retried.status_code == 200 and "Payment attempted." in retried.text
        assert retried.text.count("card_declined") >= 2
        missing = await client.post(
            f"/portal/invoices/{acme['id']}/mark-paid", headers=htmx, data={"reference": ""}
        )
        assert missing.status_code == 422 and 'id="reference-error"' in missing.text
        paid = await client.post(
            f"/portal/invoices/{acme['id']}/mark-paid",
            headers=htmx,
            data={"reference": "Wire #88123"},
        )
        assert "Marked as paid." in paid.text and 'id="invoice-status">paid<' in paid.text
        again = await client.post(
            f"/portal/invoices/{acme['id']}/void", headers=htmx, data={"reason": "Oops"}
        )
        assert again.status_code == 422 and 'id="action-error"' in again.text
        globex = await _invoice(vendor, "globex")
        voided = await client.post(
            f"/portal/invoices/{globex['id']}/void", headers=htmx, data={"reason": "Wrong plan"}
        )
        assert 'id="invoice-status">void<' in voided.text and "Wrong plan" in voided.text


async def test_finalize_now(db_url: str, tmp_path: Path) -> None:
    async with portal_client(db_url, tmp_path) as client:
        vendor, email = await billing_vendor(settings={"invoice_grace_period": "P3D"})
        await advance(vendor, utc(2026, 2, 1, 1))
        await login(client, email)
        draft = await _invoice(vendor, "acme")
        assert draft["status"] == "draft"
        csrf = await page_csrf(client, f"/portal/invoices/{draft['id']}")
        done = await client.post(
            f"/portal/invoices/{draft['id']}/finalize",
            headers={"HX-Request": "true", "X-CSRF-Token": csrf},
        )
        assert done.status_code == 200 and "Finalized." in done.text
        assert (await _invoice(vendor, "acme"))["status"] in ("finalized", "delivered")


async def test_another_vendors_invoice_is_not_found(db_url: str, tmp_path: Path) -> None:
    async with portal_client(db_url, tmp_path) as client:
        vendor, _ = await billing_vendor(customers={"acme": DECLINING})
        await advance(vendor, utc(2026, 2, 5))
        theirs = await _invoice(vendor, "acme")
        _, intruder = await vendor_user("Intruder")
        await login(client, intruder)
        csrf = await page_csrf(client, "/portal/invoices")
        listed = await client.get("/portal/invoices")
        assert theirs["id"] not in listed.text and "No invoices" in listed.text
        assert (await client.get(f"/portal/invoices/{theirs['id']}")).status_code == 404
        for action in ("retry-payment", "mark-paid", "void", "finalize"):
            response = await client.post(
                f"/portal/invoices/{theirs['id']}/{action}",
                data={"csrf_token": csrf, "reason": "x", "reference": "x"},
            )
            assert response.status_code == 404, action
        assert (await _invoice(vendor, "acme"))["status"] == "failed"
