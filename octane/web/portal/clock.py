"""The test clock (test-mode vendors): the current time, and "advance to" with presets.

Advancing runs :func:`~octane.core.lifecycle.advance_and_run`, the function behind
``POST /api/v1/clock/advance``: every deadline on the way is met in order (cycles
close, invoices are finalized, delivered and charged at their own times), and the
page shows what happened.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.response import Template

from octane.core.clock import TestClock
from octane.core.clock_presets import clock_presets
from octane.core.clocks import vendor_clock
from octane.core.errors import OctaneError, ValidationError
from octane.core.lifecycle import DueWorkSummary, advance_and_run
from octane.web.portal.forms import FormErrors, form_text
from octane.web.portal.render import render
from octane.web.portal.session import Portal, runtime_of

__all__ = ["ClockPage"]


def _target(value: str) -> datetime:
    for layout in ("%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d"):
        try:
            return datetime.strptime(value, layout).replace(tzinfo=UTC)
        except ValueError:
            continue
    raise ValidationError(
        f"'{value}' is not a time: use the picker, or YYYY-MM-DD HH:MM (UTC).", field="to"
    )


class ClockPage(Controller):
    path = "/clock"

    async def _page(
        self,
        request: Request[Any, Any, Any],
        portal: Portal,
        *,
        summary: DueWorkSummary | None = None,
        errors: FormErrors | None = None,
        value: str = "",
        moved_from: datetime | None = None,
        status_code: int = 200,
    ) -> Template:
        clock = await vendor_clock(portal.vendor_id)
        now = clock.now()
        test_mode = isinstance(clock, TestClock)
        return render(
            request,
            portal,
            "portal/clock.html",
            {
                "section": "clock",
                "now": now,
                "test_mode": test_mode,
                "presets": await clock_presets(portal.vendor_id, now) if test_mode else [],
                "summary": summary,
                "moved_from": moved_from,
                "errors": errors or FormErrors(),
                "value": value,
            },
            partial="portal/_clock_panel.html",
            status_code=status_code,
        )

    @get(include_in_schema=False)
    async def show(
        self, request: Request[Any, Any, Any], portal: NamedDependency[Portal]
    ) -> Template:
        return await self._page(request, portal)

    @post("/advance", include_in_schema=False, status_code=200)
    async def advance(
        self, request: Request[Any, Any, Any], portal: NamedDependency[Portal]
    ) -> Template:
        value = form_text(await request.form(), "to")
        before = (await vendor_clock(portal.vendor_id)).now()
        try:
            summary = await advance_and_run(
                runtime_of(request).plugins, portal.vendor_id, _target(value), accrue=True
            )
        except OctaneError as exc:
            errors = FormErrors()
            errors.add_error(exc, "to")
            return await self._page(request, portal, errors=errors, value=value, status_code=422)
        return await self._page(request, portal, summary=summary, moved_from=before)
