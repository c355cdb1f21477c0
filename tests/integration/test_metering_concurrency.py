"""Concurrent ingestion at the service level, on a real connection pool."""

from __future__ import annotations

import asyncio
from typing import Any

from octane.core.catalog import create_meter
from octane.core.clock import TestClock, utc
from octane.core.customers import create_customer
from octane.core.errors import ConflictError
from octane.core.metering import ingest
from octane.core.store.tables import Customer, Measurement
from octane.core.vendors import create_vendor

CLOCK = TestClock(utc(2026, 3, 1))


async def test_racing_writers_store_each_id_once(db: Any) -> None:
    vendor = str((await create_vendor(name="V", email="v@v.example", clock=CLOCK))["id"])
    await create_meter(vendor, name="calls", aggregation="sum", clock=CLOCK)
    await create_customer(vendor, {"name": "acme", "currency": "USD"}, clock=CLOCK)
    items = [
        {
            "id": f"e{i}",
            "meter": "calls",
            "customer": "acme",
            "value": str(i),
            "time": "2026-02-28T12:00:00Z",
        }
        for i in range(500)
    ]
    conflicting = [{**item, "value": "999"} for item in items[:50]]
    results = await asyncio.gather(
        *[ingest(vendor, items, clock=CLOCK) for _ in range(4)],
        ingest(vendor, conflicting, clock=CLOCK),
    )
    assert await Measurement.count() == 500
    stored_as_conflict = results[-1].accepted  # the conflicting writer may win some keys
    assert sum(r.accepted for r in results) == 500
    for result in results[:-1]:
        assert result.accepted + result.duplicates + len(result.errors) == 500
        assert all(e.error.code == "idempotency_conflict" for e in result.errors)
    assert sum(len(r.errors) for r in results[:-1]) == 4 * stored_as_conflict


async def test_racing_creations_of_one_name_give_one_row_and_conflicts(db: Any) -> None:
    vendor = str((await create_vendor(name="V", email="v@v.example", clock=CLOCK))["id"])
    outcomes = await asyncio.gather(
        *[
            create_customer(vendor, {"name": "acme", "currency": "USD"}, clock=CLOCK)
            for _ in range(5)
        ],
        return_exceptions=True,
    )
    created = [o for o in outcomes if isinstance(o, dict)]
    conflicts = [o for o in outcomes if isinstance(o, ConflictError)]
    assert len(created) == 1 and len(conflicts) == 4, outcomes
    assert all(c.code == "duplicate_name" and c.field == "name" for c in conflicts)
    assert await Customer.count() == 1
