"""A world to test a plugin in: a running Octane with chosen plugins on a fresh database,
a client for its HTTP app, and a vendor on a test clock billing customer ``globex``.

Shipped for plugin authors (the contract suites in :mod:`octane.testing.contracts` run
on it) and used by Octane's own end-to-end tests::

    async with open_world(db_url, tmp_path, enabled=["acmepay"], blocks={}) as world:
        await bill(world)                 # March 2026 usage for customer "globex"
        await world.at(FINALIZED)         # the invoice is finalized (and delivered)
        invoice = await world.invoice()   # as GET /api/v1/invoices/{id} shows it
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

from litestar.testing import AsyncTestClient

from octane.core.catalog import create_meter, create_plan
from octane.core.clock import SystemClock, TestClock, utc
from octane.core.clocks import advance_test_clock, vendor_clock
from octane.core.config import load_config
from octane.core.customers import create_customer
from octane.core.lifecycle import run_due_work
from octane.core.metering import ingest
from octane.core.plugins import load_plugins
from octane.core.runtime import Octane
from octane.core.store.engine import close_engine, open_engine
from octane.core.store.tables import Invoice
from octane.core.subscriptions import create_subscription
from octane.core.vendors import create_api_key, create_vendor, set_tax_rate
from octane.web.app import create_app

__all__ = ["CHARGED", "FINALIZED", "IN_GRACE", "World", "bill", "open_world"]

IN_GRACE = utc(2026, 4, 1, 6)
"""March has ended: its draft invoice is under review (the default one-day grace period)."""
FINALIZED = utc(2026, 4, 2)
"""The invoice grace period is over: March's invoice is finalized."""
CHARGED = utc(2026, 4, 5)
"""The default three-day payment grace period is over: the invoice is charged."""


class World:
    """The running Octane, its app's client, and (after :func:`bill`) the vendor."""

    def __init__(self, runtime: Octane, client: AsyncTestClient[Any]) -> None:
        self.runtime = runtime
        self.plugins = runtime.plugins
        self.client = client
        self.vendor = ""
        self.headers: dict[str, str] = {}

    async def at(self, when: Any) -> Any:
        """Move the vendor's test clock to ``when`` and do everything due then."""
        await advance_test_clock(self.vendor, when)
        return await run_due_work(self.plugins, self.vendor, await vendor_clock(self.vendor))

    async def invoice(self) -> dict[str, Any]:
        row = await Invoice.select().where(Invoice.vendor == self.vendor).first()
        assert row is not None
        response = await self.client.get(f"/api/v1/invoices/{row['id']}", headers=self.headers)
        assert response.status_code == 200, response.text
        return dict(response.json())


@contextlib.asynccontextmanager
async def open_world(
    db_url: str,
    data_dir: Path,
    *,
    enabled: list[str],
    blocks: dict[str, dict[str, Any]],
    register: Mapping[str, object] | None = None,
    entry_points: bool = True,
) -> AsyncIterator[World]:
    """A runtime with ``enabled`` plugins on a fresh database, and a client for its app.

    :param blocks: The ``[plugins.<name>]`` configuration blocks.
    :param register: Plugins registered for this world only, by name (a module or any
        object with ``@hookimpl`` methods): a test's own stand-in, say. They still have to
        be listed in ``enabled``, as in ``octane.toml``.
    :param entry_points: Find installed third-party plugins through their entry points, as
        a deployment does.
    """
    engine = await open_engine(db_url, pool=False)
    plugins = load_plugins(
        enabled, blocks=blocks, extra_plugins=register, use_entry_points=entry_points
    )
    config = load_config(env={"OCTANE_DATA_DIR": str(data_dir)})
    runtime = Octane(
        config=config,
        plugins=plugins,
        engine=engine,
        clock=SystemClock(),
        secret_key="test-secret-key-of-at-least-thirty-two-characters",
    )
    async with AsyncTestClient(app=create_app(runtime)) as client:
        yield World(runtime, client)
    await plugins.close()
    await close_engine(engine)


async def bill(
    world: World,
    *,
    currency: str = "USD",
    unit_price: str = "0.05",
    fixed_fee: str = "20",
    tiers: list[dict[str, Any]] | None = None,
    email: str | None = "ap@globex.test",
    tax_rate: str | None = "10",
) -> None:
    """A vendor on a test clock; customer ``globex`` on a monthly plan in ``currency`` with
    1,234 calls (per unit) and 1,500 GB of storage (graduated) in March 2026."""
    now = utc(2026, 3, 20)
    clock = TestClock(now)
    vendor = await create_vendor(
        name="Acme Cloud", email="ops@acme.test", clock=clock, test_clock_start=now
    )
    world.vendor = str(vendor["id"])
    key = await create_api_key(world.vendor, clock=SystemClock())
    world.headers = {"Authorization": f"Bearer {key.key}"}
    if tax_rate:
        await set_tax_rate(world.vendor, tax_rate)
    await create_meter(world.vendor, name="calls", aggregation="sum", unit="calls", clock=clock)
    await create_meter(world.vendor, name="storage", aggregation="max", unit="GB", clock=clock)
    await create_plan(
        world.vendor,
        name="pro",
        currency=currency,
        period="month",
        fixed_fee=fixed_fee,
        components=[
            {"meter": "calls", "model": "per_unit", "unit_price": unit_price},
            {
                "meter": "storage",
                "model": "graduated",
                "tiers": tiers
                or [
                    {"up_to": "1000", "unit_price": "0"},
                    {"up_to": None, "unit_price": unit_price},
                ],
            },
        ],
        clock=clock,
    )
    fields: dict[str, Any] = {
        "name": "globex",
        "display_name": "Globex Corporation",
        "currency": currency,
        "address": {"line1": "1 Market St", "city": "Springfield", "country": "US"},
    }
    if email:
        fields["email"] = email
    await create_customer(world.vendor, fields, clock=clock)
    await create_subscription(
        world.vendor, "globex", price_plan="pro", starts_at=utc(2026, 3, 1), clock=clock
    )
    result = await ingest(
        world.vendor,
        [
            {
                "meter": "calls",
                "customer": "globex",
                "value": "1234",
                "time": "2026-03-05T00:00:00Z",
            },
            {
                "meter": "storage",
                "customer": "globex",
                "value": "1500",
                "time": "2026-03-06T00:00:00Z",
            },
        ],
        clock=clock,
    )
    assert not result.errors
