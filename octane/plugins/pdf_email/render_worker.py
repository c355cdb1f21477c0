"""What runs inside the rendering processes: HTML in, PDF bytes out.

WeasyPrint is imported here and only here, in processes started with ``spawn``:
it is CPU-bound (so it must not block the event loop) and not safe to import
before a fork. Each process imports it once and warms its font cache at start.
"""

from __future__ import annotations

from typing import Any

__all__ = ["html_to_pdf", "warm_up"]

_HTML: Any = None


def warm_up() -> None:
    """Process initializer: import WeasyPrint and load the fonts once."""
    global _HTML
    from weasyprint import HTML

    _HTML = HTML
    HTML(string="<p style='font-family: DejaVu Sans'>warm</p>").write_pdf()


def html_to_pdf(html: str) -> bytes:
    if _HTML is None:
        warm_up()
    document: bytes = _HTML(string=html, base_url=None).write_pdf()
    return document
