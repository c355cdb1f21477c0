"""Fixtures for examplepay's tests.

``db_url``, ``db`` and ``smtp_sink`` come from Octane's testing plugin: a fresh migrated
database per test, a SQLite file by default, PostgreSQL with ``OCTANE_TEST_POSTGRES=1``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from octane.testing.world import World, open_world

from octane_example_provider.fake import FakeExamplePay

pytest_plugins = ["octane.testing.fixtures"]

PAYER = "payer_globex"
"""Customer globex's payer id at ExamplePay."""


@pytest.fixture
def fake() -> Iterator[FakeExamplePay]:
    """ExamplePay's local fake, on a free loopback port."""
    server = FakeExamplePay()
    server.start()
    yield server
    server.stop()


@pytest.fixture
async def world(db_url: str, tmp_path: Path, fake: FakeExamplePay) -> AsyncIterator[World]:
    """Octane with examplepay (found through its entry point, as a deployment finds it)
    pointed at the fake, and the sandbox for a delivery channel that sends nothing."""
    async with open_world(
        db_url,
        tmp_path / "data",
        enabled=["sandbox", "examplepay"],
        blocks={"examplepay": fake.block()},
    ) as opened:
        yield opened


async def use_examplepay(world: World) -> None:
    """Customer globex pays through ExamplePay as :data:`PAYER`, set through Octane's API
    as a vendor's integration would."""
    response = await world.client.patch(
        "/api/v1/customers/globex",
        json={"provider_ids": {"examplepay": PAYER}},
        headers=world.headers,
    )
    assert response.status_code == 200, response.text
