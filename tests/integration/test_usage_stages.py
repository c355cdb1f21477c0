"""SQLite writes fresh measurements outside the usage index (stage 0) and settles them
into it in bulk: usage, listings, duplicates and corrections read both stages the same."""

from __future__ import annotations

from typing import Any

from octane.core.clock import utc
from octane.core.measurement_views import effective_measurements
from octane.core.store import bulk
from octane.core.store.engine import is_postgres
from octane.core.store.tables import Measurement
from tests.helpers import new_vendor
from tests.integration.test_api_metering import NOW, measurement, setup_catalog


async def _usage(api: Any, headers: dict[str, str]) -> dict[str, Any]:
    usage = (await api.get("/api/v1/customers/acme/usage", headers=headers)).json()
    return {m["meter"]: m["quantity"] for m in usage["meters"]} | {"total": usage["accrued_total"]}


async def _listed() -> list[tuple[str, str, bool]]:
    """What the grace-period review lists: the effective measurements of February."""
    row = await Measurement.select(Measurement.vendor, Measurement.customer).first()
    assert row is not None
    listed, _ = await effective_measurements(
        row["vendor"], row["customer"], utc(2026, 2, 1), utc(2026, 3, 1)
    )
    return sorted((m["key"], str(m["value"]), m["voided"]) for m in listed)


async def test_both_stages_read_alike_before_and_after_settling(api: Any, monkeypatch: Any) -> None:
    monkeypatch.setattr(bulk, "SETTLE_AFTER", 10**9)
    headers = await new_vendor(test_clock=NOW)
    await setup_catalog(api, headers)
    first = [
        measurement("u1", "600"),
        measurement("s1", "12", meter="storage_gb"),
        measurement("a1", "1", meter="active_users", labels={"user_id": "ann"}),
        measurement("t1", "20", meter="temperature", time="2026-02-05T10:00:00Z"),
    ]
    sent = await api.post(
        "/api/v1/measurements/batch", json={"measurements": first}, headers=headers
    )
    assert sent.json()["accepted"] == 4
    unsettled = await _usage(api, headers)
    listed = await _listed()
    if not is_postgres():
        assert await Measurement.count().where(Measurement.stage == 0) == 4
    assert await bulk.settle_measurements() == (0 if is_postgres() else 4)
    assert await Measurement.count().where(Measurement.stage == 0) == 0
    assert await _usage(api, headers) == unsettled
    assert await _listed() == listed

    # New rows wait unsettled next to settled ones; a repeat of a settled id is a
    # duplicate; corrections of settled and unsettled rows both count.
    later = [
        measurement("u1", "600"),
        measurement("u2", "400"),
        measurement("a2", "1", meter="active_users", labels={"user_id": "bob"}),
        measurement("t2", "25", meter="temperature", time="2026-02-06T10:00:00Z"),
    ]
    sent = await api.post(
        "/api/v1/measurements/batch", json={"measurements": later}, headers=headers
    )
    assert (sent.json()["accepted"], sent.json()["duplicates"]) == (3, 1)
    await api.post("/api/v1/measurements/u1/correction", json={"value": "100"}, headers=headers)
    await api.post("/api/v1/measurements/a2/correction", json={"void": True}, headers=headers)
    mixed = await _usage(api, headers)
    assert {k: mixed[k] for k in ("api_calls", "active_users", "storage_gb")} == {
        "api_calls": "500",
        "active_users": "1",
        "storage_gb": "12",
    }
    listed = await _listed()
    await bulk.settle_measurements()
    assert await _usage(api, headers) == mixed
    assert await _listed() == listed


async def test_writes_settle_once_enough_have_gathered(api: Any, monkeypatch: Any) -> None:
    monkeypatch.setattr(bulk, "SETTLE_AFTER", 5)
    headers = await new_vendor(test_clock=NOW)
    await setup_catalog(api, headers)
    for batch in range(3):
        items = [measurement(f"b{batch}-{i}", "1") for i in range(3)]
        await api.post("/api/v1/measurements/batch", json={"measurements": items}, headers=headers)
    waiting = await Measurement.count().where(Measurement.stage == 0)
    assert waiting == (0 if is_postgres() else 3), "6 rows settled once 5 had gathered"
    assert (await _usage(api, headers))["api_calls"] == "9"


async def test_sqlite_reads_each_stage_through_its_index(api: Any) -> None:
    if is_postgres():
        return
    from octane.core.metering import measurements_in

    source, scope = measurements_in("ven_x", ["cus_x"], utc(2026, 2, 1), utc(2026, 3, 1))
    sql = f"EXPLAIN QUERY PLAN SELECT SUM(m.value_micros) FROM {source} WHERE m.meter = {{}}"
    plan = " ".join(str(row["detail"]) for row in await Measurement.raw(sql, *scope, "met_x"))
    assert "ix_measurement_usage" in plan and "ix_measurement_recent" in plan, plan
