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
    db_url: str, tmp_path: Path, *, env: dict[str, str] | None = None
) -> AsyncIterator[AsyncTestClient[Any]]:
    """The whole app on a fresh database, reached over https (so Secure cookies flow)."""
    engine = await open_engine(db_url, pool=False)
    config = load_config(env={"OCTANE_DATA_DIR": str(tmp_path / "data"), **(env or {})})
    plugins = load_plugins(["sandbox"], use_entry_points=False)
    runtime = Octane(
        config=config, plugins=plugins, engine=engine, clock=SystemClock(), secret_key=SECRET
    )
    async with AsyncTestClient(app=create_app(runtime), base_url=BASE_URL) as client:
        yield client
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
