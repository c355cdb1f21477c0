"""The ``pdf_email`` plugin: invoices rendered to PDF with WeasyPrint and sent over SMTP.

Status: the plugin is registered and checks that WeasyPrint is installed; the
``email`` delivery channel itself (rendering, SMTP, notifications) is built on
top of the invoice lifecycle.
"""

from __future__ import annotations

import importlib.util

from octane import hookimpl

__all__ = ["check_compatibility"]


@hookimpl
def check_compatibility() -> list[str]:
    # find_spec, not import: WeasyPrint must only be imported inside the render
    # worker processes (importing it before a fork is unsafe).
    if importlib.util.find_spec("weasyprint") is None:
        return ["The package 'weasyprint' is not installed: pip install weasyprint"]
    return []
