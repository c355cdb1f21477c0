"""``POST /api/v1/settings/email/test``: check the SMTP settings with a real message."""

from __future__ import annotations

import re
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, post
from litestar.di import NamedDependency
from litestar.params import JSONBody

from octane.core.errors import ValidationError
from octane.core.ids import new_id
from octane.core.views import vendor_view
from octane.web.api.schemas import ERROR_RESPONSES

__all__ = ["EmailSettingsController", "TestEmailIn", "TestEmailOut"]

_EMAIL = re.compile(r"^[^@\s<>\"]+@[^@\s<>\"]+\.[^@\s<>\"]+$")


class TestEmailIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    to: Annotated[str, msgspec.Meta(examples=["ops@example.com"])]


class TestEmailOut(msgspec.Struct, kw_only=True):
    sent: bool
    message_id: str | None
    error: str | None
    """The SMTP server's answer, or why it could not be reached."""


class EmailSettingsController(Controller):
    path = "/api/v1/settings/email"
    tags = ["settings"]

    @post(
        "/test",
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

        if not _EMAIL.match(data.to):
            raise ValidationError(f"'{data.to}' is not an email address.", field="to")
        context = request.app.state.octane.plugins.context("pdf_email")
        vendor = await vendor_view(vendor_id)
        result = await send_test(context, vendor, data.to, key=new_id("tst"))
        return TestEmailOut(
            sent=result.status.value == "delivered", message_id=result.reference, error=result.error
        )
