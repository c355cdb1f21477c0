"""``[plugins.pdf_email]``: the deployment's SMTP server and PDF rendering."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

__all__ = ["PdfEmailConfig"]


def _doc(text: str) -> msgspec.Meta:
    return msgspec.Meta(description=text)


class PdfEmailConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, frozen=True):
    """`[plugins.pdf_email]`: SMTP and PDF rendering (a vendor's name, reply-to, locale and
    logo are its branding, set through the API)."""

    smtp_host: Annotated[str, _doc("The SMTP server's host name.")] = "127.0.0.1"
    smtp_port: Annotated[int, _doc("The SMTP server's port."), msgspec.Meta(ge=1, le=65535)] = 25
    smtp_security: Annotated[
        Literal["none", "starttls", "tls"],
        _doc("starttls upgrades a plain connection (port 587); tls is implicit TLS (465)."),
    ] = "none"
    smtp_username: Annotated[str, _doc("SMTP login; empty for none.")] = ""
    smtp_password: Annotated[
        str, _doc('SMTP password: write { "$env" = "SMTP_PASSWORD" }, never the secret.')
    ] = ""
    smtp_timeout_seconds: Annotated[
        int, _doc("How long to wait for the SMTP server."), msgspec.Meta(ge=1, le=300)
    ] = 30
    from_address: Annotated[str, _doc("The sender of every message.")] = "billing@localhost"
    message_id_domain: Annotated[
        str, _doc("The right-hand side of Message-IDs; the from address's domain when empty.")
    ] = ""
    render_processes: Annotated[
        int,
        _doc("Worker processes rendering PDFs (WeasyPrint is CPU-bound: about one per core)."),
        msgspec.Meta(ge=1, le=64),
    ] = 2
