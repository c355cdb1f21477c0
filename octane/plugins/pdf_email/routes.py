"""The plugin's API: check the SMTP settings with a real message, and preview branding.

* ``POST /api/v1/settings/email/test`` sends a test message and reports the server's answer.
* ``GET /api/v1/settings/branding/preview`` renders a sample invoice with the vendor's
  current branding (for the settings panel's live preview).
"""

from __future__ import annotations

import re
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import JSONBody

from octane.core.errors import ValidationError
from octane.core.ids import new_id
from octane.core.views import vendor_view
from octane.web.api.schemas import ERROR_RESPONSES

__all__ = ["EMAIL", "EmailSettingsController", "TestEmailIn", "TestEmailOut"]

EMAIL = re.compile(r"^[^@\s<>\"]+@[^@\s<>\"]+\.[^@\s<>\"]+$")


class TestEmailIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    to: Annotated[str, msgspec.Meta(examples=["ops@example.com"])]


class TestEmailOut(msgspec.Struct, kw_only=True):
    sent: bool
    message_id: str | None
    error: str | None
    """The SMTP server's answer, or why it could not be reached."""


class EmailSettingsController(Controller):
    path = "/api/v1/settings"
    tags = ["settings"]

    @get(
        "/branding/preview",
        summary="A sample invoice rendered with the vendor's current branding (PDF)",
        media_type="application/pdf",
        responses=ERROR_RESPONSES,
    )
    async def preview(
        self, request: Request[Any, Any, Any], vendor_id: NamedDependency[str]
    ) -> Response[bytes]:
        from octane.plugins.pdf_email.rendering import render_invoice
        from octane.plugins.pdf_email.sample import sample_invoice

        context = request.app.state.octane.plugins.context("pdf_email")
        invoice = sample_invoice(await vendor_view(vendor_id))
        pdf = await render_invoice(context, invoice, draft=False)
        return Response(
            pdf,
            media_type="application/pdf",
            headers={"Content-Disposition": 'inline; filename="sample-invoice.pdf"'},
        )

    @post(
        "/email/test",
        summary="Send a test email through the configured SMTP server",
        status_code=200,
        responses=ERROR_RESPONSES,
    )
    async def test_email(
        self,
        request: Request[Any, Any, Any],
        vendor_id: NamedDependency[str],
        data: JSONBody[TestEmailIn],
    ) -> TestEmailOut:
        from octane.plugins.pdf_email.channel import send_test

        if not EMAIL.match(data.to):
            raise ValidationError(f"'{data.to}' is not an email address.", field="to")
        context = request.app.state.octane.plugins.context("pdf_email")
        vendor = await vendor_view(vendor_id)
        result = await send_test(context, vendor, data.to, key=new_id("tst"))
        return TestEmailOut(
            sent=result.status.value == "delivered", message_id=result.reference, error=result.error
        )
