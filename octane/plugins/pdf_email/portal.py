"""The pdf_email plugin's portal pages, mounted behind the portal's session and CSRF guard.

* ``/portal/plugins/pdf_email/invoices/{id}/pdf``: an invoice's PDF (a draft's live,
  marked DRAFT) for the invoice page and the grace-period review.
* ``.../invoices/{id}/resend``: send the invoice again, answered in place.
* ``.../settings``: the Email & branding panel (SMTP in use and "send test email",
  branding with logo upload, and a live preview of a sample invoice).
"""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Template

from octane.core.branding import get_branding, remove_logo, set_logo, update_branding
from octane.core.delivery import deliver_invoice
from octane.core.errors import NotFoundError, OctaneError, ValidationError
from octane.core.ids import new_id
from octane.core.invoice_documents import invoice_pdf
from octane.core.invoices import get_invoice_row
from octane.core.views import vendor_view
from octane.web.portal.forms import FormErrors, form_text
from octane.web.portal.render import render
from octane.web.portal.session import Portal, runtime_of

__all__ = ["EmailPortalController"]

BRANDING_FIELDS = (
    "company_name",
    "tax_id",
    "accent_color",
    "locale",
    "footer",
    "payment_instructions",
    "email_from_name",
    "reply_to",
)


def _pdf(document: bytes, name: str, *, draft: bool) -> Response[bytes]:
    return Response(
        document,
        media_type="application/pdf",
        headers={
            "Content-Disposition": f'inline; filename="{name}.pdf"',
            "Cache-Control": "no-store" if draft else "private, max-age=60",
        },
    )


class EmailPortalController(Controller):
    path = "/portal/plugins/pdf_email"
    include_in_schema = False

    @get("/invoices/{invoice_id:str}/pdf")
    async def invoice_pdf(
        self,
        request: Request[Any, Any, Any],
        portal: NamedDependency[Portal],
        invoice_id: FromPath[str],
    ) -> Response[bytes]:
        plugins = runtime_of(request).plugins
        document, row = await invoice_pdf(
            plugins, portal.vendor_id, invoice_id, at=portal.clock.now()
        )
        draft = row["status"] == "draft"
        return _pdf(document, row["number"] or f"DRAFT-{row['id']}", draft=draft)

    @post("/invoices/{invoice_id:str}/resend", status_code=200)
    async def resend(
        self,
        request: Request[Any, Any, Any],
        portal: NamedDependency[Portal],
        invoice_id: FromPath[str],
    ) -> Template:
        plugins = runtime_of(request).plugins
        notice, error = "", ""
        try:
            outcome = await deliver_invoice(
                plugins, portal.vendor_id, invoice_id, clock=portal.clock, resend=True
            )
            if outcome == "delivered":
                notice = "Sent again."
            elif outcome is None:
                error = "Another delivery of this invoice started at the same time."
        except NotFoundError:
            raise
        except OctaneError as exc:
            error = exc.message
        invoice = await get_invoice_row(portal.vendor_id, invoice_id)
        if not notice and not error:
            error = f"The delivery failed: {invoice['delivery_error']}"
        return render(
            request,
            portal,
            "pdf_email/_invoice_actions.html",
            {"invoice": invoice, "resend_notice": notice, "resend_error": error},
            status_code=200 if notice else 422,
        )

    async def _panel(
        self,
        request: Request[Any, Any, Any],
        portal: Portal,
        *,
        errors: FormErrors | None = None,
        notice: str = "",
        test_result: dict[str, Any] | None = None,
        status_code: int = 200,
    ) -> Template:
        runtime = runtime_of(request)
        return render(
            request,
            portal,
            "pdf_email/_panel_body.html",
            {
                "branding": await get_branding(portal.vendor_id),
                "smtp": runtime.plugins.context("pdf_email").config,
                "errors": errors or FormErrors(),
                "notice": notice,
                "test_result": test_result,
            },
            status_code=status_code,
        )

    @get("/settings")
    async def panel(
        self, request: Request[Any, Any, Any], portal: NamedDependency[Portal]
    ) -> Template:
        return await self._panel(request, portal)

    @post("/settings/branding", status_code=200)
    async def save_branding(
        self, request: Request[Any, Any, Any], portal: NamedDependency[Portal]
    ) -> Template:
        form = await request.form()
        changes: dict[str, Any] = {name: form_text(form, name) for name in BRANDING_FIELDS}
        changes["address_lines"] = [
            line.strip() for line in form_text(form, "address_lines").splitlines() if line.strip()
        ]
        try:
            await update_branding(portal.vendor_id, changes)
        except OctaneError as exc:
            errors = FormErrors()
            errors.add_error(exc)
            return await self._panel(request, portal, errors=errors, status_code=422)
        return await self._panel(request, portal, notice="Branding saved.")

    @post("/settings/logo", status_code=200)
    async def upload_logo(
        self, request: Request[Any, Any, Any], portal: NamedDependency[Portal]
    ) -> Template:
        documents = runtime_of(request).plugins.documents
        form = await request.form()
        upload = form.get("logo")
        try:
            if form_text(form, "remove"):
                await remove_logo(portal.vendor_id, documents)
                return await self._panel(request, portal, notice="Logo removed.")
            if not isinstance(upload, UploadFile):
                raise ValidationError("Choose a PNG or JPEG file.", field="logo")
            data = await upload.read()
            await set_logo(portal.vendor_id, documents, data, upload.content_type or "")
        except OctaneError as exc:
            errors = FormErrors()
            errors.add_error(exc, "logo")
            return await self._panel(request, portal, errors=errors, status_code=422)
        return await self._panel(request, portal, notice="Logo saved.")

    @post("/settings/test-email", status_code=200)
    async def test_email(
        self, request: Request[Any, Any, Any], portal: NamedDependency[Portal]
    ) -> Template:
        from octane.plugins.pdf_email.channel import send_test
        from octane.plugins.pdf_email.routes import EMAIL

        form = await request.form()
        to = form_text(form, "to")
        if not EMAIL.match(to):
            errors = FormErrors()
            errors.add("to", f"'{to}' is not an email address." if to else "Enter an address.")
            return await self._panel(request, portal, errors=errors, status_code=422)
        context = runtime_of(request).plugins.context("pdf_email")
        result = await send_test(
            context, await vendor_view(portal.vendor_id), to, key=new_id("tst")
        )
        sent = result.status.value == "delivered"
        return await self._panel(
            request,
            portal,
            test_result={"sent": sent, "to": to, "error": result.error},
            status_code=200 if sent else 422,
        )

    @get("/settings/preview")
    async def preview(
        self, request: Request[Any, Any, Any], portal: NamedDependency[Portal]
    ) -> Response[bytes]:
        from octane.plugins.pdf_email.rendering import render_invoice
        from octane.plugins.pdf_email.sample import sample_invoice

        context = runtime_of(request).plugins.context("pdf_email")
        invoice = sample_invoice(await vendor_view(portal.vendor_id))
        return _pdf(await render_invoice(context, invoice, draft=False), "sample", draft=True)
