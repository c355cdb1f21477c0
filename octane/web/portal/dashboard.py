"""The dashboard: what needs attention now, and how revenue is accruing."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from litestar import Request, get
from litestar.di import NamedDependency
from litestar.response import Template

from octane.core.dashboard import dashboard_summary
from octane.core.invoices import STATUSES
from octane.web.portal.render import render
from octane.web.portal.session import Portal

__all__ = ["accrual_chart", "dashboard"]

CHART_DAYS = 30


def accrual_chart(
    rows: list[dict[str, Any]], *, now: datetime, currency: str | None, days: int = CHART_DAYS
) -> dict[str, Any]:
    """Bars for the last ``days`` days of one currency (SVG geometry, in whole units)."""
    totals = {r["day"]: r["total"] for r in rows if r["currency"] == currency}
    labels = [(now - timedelta(days=days - 1 - n)).strftime("%Y-%m-%d") for n in range(days)]
    peak = max([totals.get(day, 0) for day in labels] + [1])
    bars = []
    for index, day in enumerate(labels):
        total = totals.get(day, 0)
        height = (max(total, 0) * 130) // peak
        bars.append({"day": day, "total": total, "x": index * 20 + 2, "height": height})
    return {"currency": currency, "bars": bars, "peak": peak if totals else 0}


@get("/", include_in_schema=False)
async def dashboard(request: Request[Any, Any, Any], portal: NamedDependency[Portal]) -> Template:
    now = portal.clock.now()
    summary = await dashboard_summary(portal.vendor_id, now=now, days=CHART_DAYS)
    by_status: dict[str, dict[str, Any]] = {}
    for row in summary["invoices_by_status"]:
        entry = by_status.setdefault(row["status"], {"count": 0, "totals": {}})
        entry["count"] += row["count"]
        entry["totals"][row["currency"]] = row["total"]
    currencies = sorted(
        {r["currency"] for r in summary["accrual_by_day"]} | set(summary["accrued_open"])
    )
    main = max(currencies, key=lambda c: summary["accrued_open"].get(c, 0)) if currencies else None
    return render(
        request,
        portal,
        "portal/dashboard.html",
        {
            "section": "dashboard",
            "now": now,
            "summary": summary,
            "by_status": by_status,
            "statuses": STATUSES,
            "chart": accrual_chart(summary["accrual_by_day"], now=now, currency=main),
        },
    )
