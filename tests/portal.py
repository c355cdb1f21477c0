"""Helpers for portal tests: an app client over HTTPS, a vendor with a portal user, login."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from litestar.testing import AsyncTestClient

from octane.core.clock import SystemClock
from octane.core.config import load_config
from octane.core.plugins import load_plugins
from octane.core.runtime import Octane
from octane.core.store.engine import close_engine, open_engine
from octane.core.vendors import create_portal_user, create_vendor
from octane.web.app import create_app

PASSWORD = "correct horse battery"
SECRET = "s" * 40
BASE_URL = "https://portal.test"


@asynccontextmanager
async def portal_client(
    db_url: str,
    tmp_path: Path,
    *,
    env: dict[str, str] | None = None,
    extra_plugins: dict[str, object] | None = None,
    enabled: list[str] | None = None,
    blocks: dict[str, dict[str, Any]] | None = None,
    entry_points: bool = False,
) -> AsyncIterator[AsyncTestClient[Any]]:
    """The whole app on a fresh database, reached over https (so Secure cookies flow),
    with the ``sandbox`` plugin, ``enabled`` bundled ones and ``extra_plugins`` (and, with
    ``entry_points``, installed third-party ones found as a deployment finds them)."""
    engine = await open_engine(db_url, pool=False)
    config = load_config(env={"OCTANE_DATA_DIR": str(tmp_path / "data"), **(env or {})})
    plugins = load_plugins(
        ["sandbox", *(enabled or []), *(extra_plugins or {})],
        blocks=blocks,
        extra_plugins=extra_plugins,
        use_entry_points=entry_points,
    )
    runtime = Octane(
        config=config, plugins=plugins, engine=engine, clock=SystemClock(), secret_key=SECRET
    )
    async with AsyncTestClient(app=create_app(runtime), base_url=BASE_URL) as client:
        yield client
    await plugins.close()
    await close_engine(engine)


async def vendor_user(name: str = "Acme Inc", *, test_clock: Any = None) -> tuple[str, str]:
    """A vendor and a portal user of it: ``(vendor id, email)``."""
    clock = SystemClock()
    vendor = await create_vendor(
        name=name, email="ops@vendor.example", clock=clock, test_clock_start=test_clock
    )
    vendor_id = str(vendor["id"])
    email = f"ops-{vendor_id}@vendor.example"
    await create_portal_user(vendor_id, email=email, password=PASSWORD, clock=clock)
    return vendor_id, email


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "no CSRF token in the page"
    return found.group(1)


async def login(client: AsyncTestClient[Any], email: str, password: str = PASSWORD) -> Any:
    page = await client.get("/portal/login")
    return await client.post(
        "/portal/login",
        data={"email": email, "password": password, "csrf_token": csrf_of(page.text)},
        follow_redirects=False,
    )


async def page_csrf(client: AsyncTestClient[Any], path: str = "/portal/settings/invoicing") -> str:
    page = await client.get(path)
    assert page.status_code == 200, page.text
    return csrf_of(page.text)


PORTAL_SETTINGS = {
    "invoice_grace_period": "P1D",
    "payment_grace_period": "P3D",
    "payment_provider": "sandbox",
    "delivery_channel": "sandbox",
    "payment_retry_schedule": ["P1D", "P3D"],
}


async def billing_vendor(
    *,
    customers: dict[str, dict[str, Any]] | None = None,
    settings: dict[str, Any] | None = None,
    name: str = "Acme Inc",
) -> tuple[str, str]:
    """A vendor on a test clock from 2026-01-01 with a portal user, the sandbox provider,
    meter ``calls`` and plan ``basic`` (10.00 a month + 0.01 a call), and customers
    (default: ``acme``) subscribed from January 1st with 1,000 calls on January 15th.
    Returns ``(vendor id, user email)``; advance with :func:`advance`."""
    from octane.core.catalog import create_meter, create_plan
    from octane.core.clock import TestClock, utc
    from octane.core.customers import create_customer
    from octane.core.metering import ingest
    from octane.core.subscriptions import create_subscription
    from octane.core.vendor_settings import update_invoice_settings
    from tests.helpers import PLUGINS

    start = utc(2026, 1, 1)
    vendor_id, email = await vendor_user(name, test_clock=start)
    clock = TestClock(start)
    await update_invoice_settings(
        vendor_id,
        {**PORTAL_SETTINGS, **(settings or {})},
        providers=PLUGINS.payment_providers,
        channels=PLUGINS.delivery_channels,
    )
    await create_meter(vendor_id, name="calls", aggregation="sum", unit="calls", clock=clock)
    await create_plan(
        vendor_id,
        name="basic",
        currency="USD",
        period="month",
        fixed_fee="10",
        components=[{"meter": "calls", "model": "per_unit", "unit_price": "0.01"}],
        clock=clock,
    )
    for customer, fields in (customers or {"acme": {}}).items():
        await create_customer(
            vendor_id,
            {"name": customer, "currency": "USD", "email": f"ap@{customer}.example", **fields},
            clock=clock,
        )
        await create_subscription(
            vendor_id, customer, price_plan="basic", starts_at=start, clock=clock
        )
        await advance(vendor_id, utc(2026, 1, 20))
        result = await ingest(
            vendor_id,
            [
                {
                    "meter": "calls",
                    "customer": customer,
                    "value": "1000",
                    "time": "2026-01-15T00:00:00Z",
                }
            ],
            clock=TestClock(utc(2026, 1, 20)),
        )
        assert not result.errors, result.errors
    return vendor_id, email


async def advance(vendor_id: str, to: Any) -> Any:
    from octane.core.lifecycle import advance_and_run
    from tests.helpers import PLUGINS

    summary = await advance_and_run(PLUGINS, vendor_id, to)
    assert not summary.errors, summary.errors
    return summary
