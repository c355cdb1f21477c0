"""The dashboard: what needs attention now, and how revenue is accruing."""

from __future__ import annotations

from typing import Any

from litestar import Request, get
from litestar.di import NamedDependency
from litestar.response import Template

from octane.web.portal.render import render
from octane.web.portal.session import Portal

__all__ = ["dashboard"]


@get("/", include_in_schema=False)
async def dashboard(request: Request[Any, Any, Any], portal: NamedDependency[Portal]) -> Template:
    return render(request, portal, "portal/dashboard.html", {"section": "dashboard"})
