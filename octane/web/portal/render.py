"""Rendering portal pages: full pages for navigation, partials for htmx requests.

A page template extends ``portal/base.html``; the part htmx swaps lives in a partial
named ``_x.html`` that the page includes. :func:`render` picks one or the other from
the ``HX-Request`` header, so every form also works without JavaScript.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from babel.numbers import format_currency, format_decimal
from jinja2 import Environment
from litestar import Request
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.response import Template

from octane.core.clock import as_utc
from octane.core.money import get_currency, minor_to_decimal
from octane.web.portal.session import Portal

__all__ = ["LOCALE", "configure_templates", "is_htmx", "money", "price", "render"]

LOCALE = "en_US"


def is_htmx(request: Request[Any, Any, Any]) -> bool:
    """An htmx request that wants a fragment (not a boosted navigation)."""
    return request.headers.get("hx-request") == "true" and request.headers.get("hx-boosted") is None


def money(minor: int | None, currency: str) -> str:
    """``12345, "USD"`` -> ``$123.45``; ``1234, "JPY"`` -> ``¥1,234``: an exact Decimal
    from the minor units, shown with the currency's own number of decimals, via Babel."""
    if minor is None:
        return ""
    code = get_currency(currency)
    return str(format_currency(minor_to_decimal(int(minor), code), code.code, locale=LOCALE))


def price(value: Decimal | str | None, currency: str) -> str:
    """A Decimal price in major units, never rounded: ``"0.00042", "USD"`` -> ``$0.00042``."""
    if value is None or value == "":
        return ""
    code = get_currency(currency).code
    return str(
        format_currency(Decimal(str(value)), code, locale=LOCALE, decimal_quantization=False)
    )


def number(value: Decimal | int | str | None) -> str:
    if value is None or value == "":
        return ""
    return str(format_decimal(Decimal(str(value)), locale=LOCALE, decimal_quantization=False))


def when(value: datetime | str | None, style: str = "datetime") -> str:
    """A stored time as UTC text: ``2026-03-31 14:00 UTC`` (``date``: ``2026-03-31``)."""
    if value is None or value == "":
        return ""
    moment = as_utc(value)
    if style == "date":
        return moment.strftime("%Y-%m-%d")
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def iso_input(value: datetime | str | None) -> str:
    """For ``<input type="datetime-local">`` (UTC, minutes)."""
    return "" if value in (None, "") else as_utc(value).strftime("%Y-%m-%dT%H:%M")


def configure_templates(engine: JinjaTemplateEngine) -> None:
    """Register the portal's filters on the app's Jinja environment."""
    env: Environment = engine.engine
    env.filters["money"] = money
    env.filters["number"] = number
    env.filters["price"] = price
    env.filters["when"] = when
    env.filters["iso_input"] = iso_input
    env.trim_blocks = True
    env.lstrip_blocks = True


def render(
    request: Request[Any, Any, Any],
    portal: Portal | None,
    page: str,
    context: Mapping[str, Any] | None = None,
    *,
    partial: str | None = None,
    status_code: int = 200,
    headers: Mapping[str, str] | None = None,
) -> Template:
    """``page`` for a navigation, ``partial`` (if given) for an htmx request."""
    name = partial if partial is not None and is_htmx(request) else page
    full: dict[str, Any] = {
        "portal": portal,
        "session": portal.session if portal else None,
        "csrf_token": portal.session.csrf_token if portal else "",
        "path": request.url.path,
        **(context or {}),
    }
    return Template(
        template_name=name,
        context=full,
        status_code=status_code,
        headers=dict(headers or {}),
    )
