"""Helpers of the delivery and payment plugins' end-to-end tests: the world is
:mod:`octane.testing.world` (shipped for plugin authors); amounts as an invoice must show
them, a PDF's text, and the SMTP block for the ``smtp`` fixture's server."""

from __future__ import annotations

import io
from decimal import Decimal
from typing import Any

from pypdf import PdfReader

from octane.testing.smtp import SmtpServer
from octane.testing.world import CHARGED, FINALIZED, IN_GRACE, World, bill, open_world

__all__ = [
    "CHARGED",
    "FINALIZED",
    "IN_GRACE",
    "World",
    "bill",
    "money",
    "open_world",
    "pdf_text",
    "smtp_block",
]

SYMBOLS = {"USD": ("$", 2), "JPY": ("¥", 0), "BHD": ("BHD", 3)}


def money(minor: int, currency: str) -> str:
    """How an amount must read on an en_US invoice, written independently of the plugin."""
    symbol, places = SYMBOLS[currency]
    sign = "-" if minor < 0 else ""
    return f"{sign}{symbol}{Decimal(abs(minor)).scaleb(-places):,.{places}f}"


def pdf_text(data: bytes) -> list[str]:
    """Each page's text, whitespace collapsed."""
    reader = PdfReader(io.BytesIO(data))
    return [" ".join(page.extract_text().split()) for page in reader.pages]


def smtp_block(smtp: SmtpServer) -> dict[str, Any]:
    return {
        "smtp_host": "127.0.0.1",
        "smtp_port": smtp.port,
        "smtp_timeout_seconds": 5,
        "from_address": "billing@acme-cloud.test",
        "render_processes": 1,
    }
