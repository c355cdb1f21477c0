"""Composing messages and handing them to the SMTP server with aiosmtplib."""

from __future__ import annotations

import re
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, formataddr

import aiosmtplib

from octane.plugins.pdf_email.config import PdfEmailConfig

__all__ = ["Attachment", "SendFailure", "compose", "message_id_for", "send"]

Attachment = tuple[str, bytes]
"""(file name, PDF bytes)."""


class SendFailure(Exception):
    """The SMTP server did not take the message; ``retryable`` if trying later may help."""

    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable


def message_id_for(key: str, config: PdfEmailConfig) -> str:
    """A Message-ID derived only from ``key``: the same message always has the same id."""
    domain = config.message_id_domain or config.from_address.rpartition("@")[2] or "localhost"
    local = re.sub(r"[^A-Za-z0-9._-]", "-", key)
    return f"<{local}@{domain}>"


def compose(
    *,
    config: PdfEmailConfig,
    from_name: str,
    reply_to: str,
    to: str,
    subject: str,
    text: str,
    html: str,
    message_id: str,
    at: datetime,
    attachment: Attachment | None = None,
) -> EmailMessage:
    message = EmailMessage()
    message["From"] = (
        formataddr((from_name, config.from_address)) if from_name else config.from_address
    )
    message["To"] = to
    if reply_to:
        message["Reply-To"] = reply_to
    message["Subject"] = subject
    message["Message-ID"] = message_id
    message["Date"] = format_datetime(at)
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    if attachment is not None:
        name, data = attachment
        message.add_attachment(data, maintype="application", subtype="pdf", filename=name)
    return message


async def send(message: EmailMessage, config: PdfEmailConfig) -> None:
    """Hand the message to the SMTP server; raise :class:`SendFailure` with its reply."""
    try:
        await aiosmtplib.send(
            message,
            hostname=config.smtp_host,
            port=config.smtp_port,
            username=config.smtp_username or None,
            password=config.smtp_password or None,
            use_tls=config.smtp_security == "tls",
            start_tls=config.smtp_security == "starttls",
            timeout=config.smtp_timeout_seconds,
        )
    except aiosmtplib.SMTPRecipientsRefused as exc:
        replies = "; ".join(f"{r.recipient}: {r.code} {r.message}" for r in exc.recipients)
        permanent = all(r.code >= 500 for r in exc.recipients)
        raise SendFailure(
            f"The SMTP server refused the recipient ({replies}).", retryable=not permanent
        ) from None
    except aiosmtplib.SMTPResponseException as exc:
        raise SendFailure(
            f"The SMTP server answered {exc.code}: {exc.message}", retryable=exc.code < 500
        ) from None
    except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
        where = f"{config.smtp_host}:{config.smtp_port}"
        raise SendFailure(
            f"Could not reach the SMTP server {where}: {exc}", retryable=True
        ) from None
