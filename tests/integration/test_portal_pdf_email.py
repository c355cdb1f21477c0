"""Portal pages of the ``pdf_email`` plugin: the Email & branding panel, resend and the PDF on
the invoice page, and the DRAFT PDF in the grace-period review."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from pypdf import PdfReader

from octane.core.branding import get_branding
from octane.core.clock import utc
from octane.core.invoices import list_invoices
from octane.core.vendor_settings import update_invoice_settings
from octane.testing.smtp import SmtpServer
from tests.billing_world import smtp_block
from tests.portal import advance, billing_vendor, login, page_csrf, portal_client, vendor_user

HTMX = {"HX-Request": "true"}
PANEL = "/portal/plugins/pdf_email/settings"


def _client(db_url: str, tmp_path: Path, smtp: SmtpServer) -> Any:
    return portal_client(
        db_url, tmp_path, enabled=["pdf_email"], blocks={"pdf_email": smtp_block(smtp)}
    )


def _text(pdf: bytes) -> str:
    return " ".join(
        " ".join(page.extract_text().split()) for page in PdfReader(io.BytesIO(pdf)).pages
    )


async def test_the_email_and_branding_panel(db_url: str, tmp_path: Path, smtp: SmtpServer) -> None:
    async with _client(db_url, tmp_path, smtp) as client:
        vendor, email = await vendor_user("Acme Cloud")
        await login(client, email)
        page = await client.get("/portal/settings/delivery")
        assert page.status_code == 200 and f'hx-get="{PANEL}"' in page.text
        body = await client.get(PANEL, headers=HTMX)
        assert f"127.0.0.1:{smtp.port}" in body.text and "billing@acme-cloud.test" in body.text
        csrf = await page_csrf(client, "/portal/settings/delivery")
        post = {**HTMX, "X-CSRF-Token": csrf}

        bad = await client.post(f"{PANEL}/branding", data={"accent_color": "blue"}, headers=post)
        assert bad.status_code == 422 and 'id="accent_color-error"' in bad.text
        assert "#rrggbb" in bad.text and "<html" not in bad.text
        saved = await client.post(
            f"{PANEL}/branding",
            data={
                "company_name": "Acme Cloud GmbH",
                "address_lines": "Hauptstr. 1\n10115 Berlin",
                "accent_color": "#0f766e",
                "locale": "de_DE",
                "tax_id": "DE123456789",
            },
            headers=post,
        )
        assert saved.status_code == 200 and "Branding saved." in saved.text
        branding = await get_branding(vendor)
        assert branding.address_lines == ("Hauptstr. 1", "10115 Berlin")
        assert (branding.locale, branding.accent_color) == ("de_DE", "#0f766e")

        wrong = await client.post(
            f"{PANEL}/logo", files={"logo": ("logo.gif", b"GIF89a", "image/gif")}, headers=post
        )
        assert wrong.status_code == 422 and 'id="logo-error"' in wrong.text
        png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
        logo = await client.post(
            f"{PANEL}/logo", files={"logo": ("logo.png", png, "image/png")}, headers=post
        )
        assert logo.status_code == 200 and "Logo saved." in logo.text
        assert (await get_branding(vendor)).logo_type == "image/png"

        preview = await client.get(f"{PANEL}/preview")
        assert preview.headers["content-type"] == "application/pdf"
        assert "Acme Cloud GmbH" in _text(preview.content)

        nobody = await client.post(f"{PANEL}/test-email", data={"to": "nope"}, headers=post)
        assert nobody.status_code == 422 and 'id="to-error"' in nobody.text
        sent = await client.post(f"{PANEL}/test-email", data={"to": "me@acme.test"}, headers=post)
        assert sent.status_code == 200 and "Test email sent to me@acme.test." in sent.text
        assert [m["To"] for m in smtp.messages] == ["me@acme.test"]
        smtp.stop()
        down = await client.post(f"{PANEL}/test-email", data={"to": "me@acme.test"}, headers=post)
        assert down.status_code == 422 and "Not sent: Could not reach the SMTP server" in down.text

        forged = await client.post(f"{PANEL}/branding", data={"footer": "x"}, headers=HTMX)
        assert forged.status_code == 403  # no CSRF token


async def test_resend_and_the_pdf_from_the_invoice_page(
    db_url: str, tmp_path: Path, smtp: SmtpServer
) -> None:
    async with _client(db_url, tmp_path, smtp) as client:
        vendor, email = await billing_vendor()
        await advance(vendor, utc(2026, 2, 3))  # finalized and delivered on the sandbox
        await update_invoice_settings(
            vendor, {"delivery_channel": "email"}, providers=[], channels=["email"]
        )
        rows, _ = await list_invoices(vendor)
        invoice = rows[0]
        await login(client, email)
        page = await client.get(f"/portal/invoices/{invoice['id']}")
        assert (
            'id="invoice-delivery-actions"' in page.text and "Resend to the customer" in page.text
        )
        pdf = await client.get(f"/portal/plugins/pdf_email/invoices/{invoice['id']}/pdf")
        assert pdf.status_code == 200 and invoice["number"] in _text(pdf.content)

        csrf = await page_csrf(client, f"/portal/invoices/{invoice['id']}")
        sent = await client.post(
            f"/portal/plugins/pdf_email/invoices/{invoice['id']}/resend",
            headers={**HTMX, "X-CSRF-Token": csrf},
        )
        assert sent.status_code == 200 and "Sent again." in sent.text
        (message,) = smtp.messages
        assert message["To"] == "ap@acme.example" and invoice["number"] in message["Subject"]
        smtp.stop()
        failed = await client.post(
            f"/portal/plugins/pdf_email/invoices/{invoice['id']}/resend",
            headers={**HTMX, "X-CSRF-Token": csrf},
        )
        assert failed.status_code == 422 and "Could not reach the SMTP server" in failed.text

        _, intruder = await vendor_user("Intruder")
        await login(client, intruder)
        theirs = await client.get(f"/portal/plugins/pdf_email/invoices/{invoice['id']}/pdf")
        assert theirs.status_code == 404


async def test_the_grace_period_review_links_the_draft_pdf(
    db_url: str, tmp_path: Path, smtp: SmtpServer
) -> None:
    async with _client(db_url, tmp_path, smtp) as client:
        vendor, email = await billing_vendor(settings={"invoice_grace_period": "P3D"})
        await advance(vendor, utc(2026, 2, 1, 6))
        rows, _ = await list_invoices(vendor, status="draft")
        draft = rows[0]["id"]
        await login(client, email)
        page = await client.get(f"/portal/review/{draft}")
        link = f"/portal/plugins/pdf_email/invoices/{draft}/pdf"
        assert f'href="{link}"' in page.text and "Preview the DRAFT PDF" in page.text
        pdf = await client.get(link)
        assert pdf.headers["cache-control"] == "no-store"
        text = _text(pdf.content)
        assert "DRAFT" in text and "$20.00" in text
