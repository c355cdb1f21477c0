"""Billing-run benchmark: a month of usage for many customers, then the clock passes the
invoice grace period and every invoice is finalized (delivery and charging off).

Run with ``make bench`` or ``.venv/bin/python bench/billing_run.py [--customers N]``.

1. Seed (not timed): a vendor on a test clock, 5 meters, a plan with 5 components (per
   unit, graduated, volume, package, per unit with included units), ``--customers``
   customers (default 10,000) subscribed from Jan 1, and ``--per-customer``
   measurements each (default 200: 2,000,000 in all) in January.
2. Floor, in the same run: one raw SQL aggregate of the same rows per (customer,
   meter), plus one raw insert of the same number of invoice lines.
3. Billing run: ``advance_and_run`` to Feb 2 (the period ends Feb 1, the grace period
   is one day): every cycle is closed and every invoice finalized, in time order.
4. Queries per customer, counted on a small run with 10 and then 100 measurements per
   customer and meter: the count must not grow with the measurements.
5. ``--postgres``: the same seed in a throwaway PostgreSQL, billed inline, then by one
   and by two ``octane worker`` processes (fresh copies of the seeded database), the
   clock moved as ``octane clock advance --on-workers`` does (the workers are woken).

Prints one JSON object with the figures and the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from octane.core.catalog import create_meter, create_plan  # noqa: E402
from octane.core.clock import TestClock  # noqa: E402
from octane.core.lifecycle import advance_and_run  # noqa: E402
from octane.core.lifecycle_jobs import advance_on_workers  # noqa: E402
from octane.core.plugins import load_plugins  # noqa: E402
from octane.core.queue import connect_queue  # noqa: E402
from octane.core.store.engine import close_engine, open_engine  # noqa: E402
from octane.core.store.migrate import migrate  # noqa: E402
from octane.core.store.tables import Invoice, Meter  # noqa: E402
from octane.core.vendor_settings import update_invoice_settings  # noqa: E402
from octane.core.vendors import create_vendor  # noqa: E402

JAN = datetime(2026, 1, 1, tzinfo=UTC)
SEED_NOW = datetime(2026, 1, 31, 12, tzinfo=UTC)
BILL_AT = datetime(2026, 2, 2, tzinfo=UTC)
METERS = ("api_calls", "storage_gb", "events", "seats", "tokens")
COMPONENTS = [
    {"meter": "api_calls", "model": "per_unit", "unit_price": "0.00042"},
    {
        "meter": "storage_gb",
        "model": "graduated",
        "tiers": [
            {"up_to": "100", "unit_price": "0.20"},
            {"up_to": "1000", "unit_price": "0.15"},
            {"up_to": None, "unit_price": "0.10"},
        ],
    },
    {
        "meter": "events",
        "model": "volume",
        "tiers": [
            {"up_to": "5000", "unit_price": "0.01"},
            {"up_to": None, "unit_price": "0.005"},
        ],
    },
    {"meter": "seats", "model": "package", "package_size": "10", "package_price": "25"},
    {"meter": "tokens", "model": "per_unit", "unit_price": "0.000002", "included_units": "100000"},
]
PLUGINS = load_plugins(["sandbox"], use_entry_points=False)


async def seed(url: str, customers: int, per_customer: int) -> str:
    """Seed through the services for the catalog, in bulk SQL for the volume."""
    engine = await open_engine(url)
    await migrate()
    clock = TestClock(SEED_NOW)
    vendor = await create_vendor(
        name="Bench", email="bench@example.com", clock=clock, test_clock_start=SEED_NOW
    )
    vendor_id = str(vendor["id"])
    await update_invoice_settings(
        vendor_id,
        {"invoice_delivery": False, "auto_charge": False, "invoice_grace_period": "P1D"},
        providers=PLUGINS.payment_providers,
        channels=PLUGINS.delivery_channels,
    )
    for name in METERS:
        await create_meter(vendor_id, name=name, aggregation="sum", clock=clock)
    plan = await create_plan(
        vendor_id,
        name="bench",
        currency="USD",
        period="month",
        fixed_fee="49",
        components=COMPONENTS,
        clock=clock,
    )
    meter_ids = [r["id"] for r in await Meter.select(Meter.id).where(Meter.vendor == vendor_id)]
    customer_rows = [
        (
            f"cus_b{n:06d}",
            vendor_id,
            f"c{n:06d}",
            "",
            None,
            "USD",
            "UTC",
            "{}",
            None,
            "{}",
            "{}",
            "{}",
            SEED_NOW,
        )
        for n in range(customers)
    ]
    subscription_rows = [
        (f"sub_b{n:06d}", vendor_id, f"cus_b{n:06d}", plan["id"], JAN, None, JAN, None, SEED_NOW)
        for n in range(customers)
    ]
    step = timedelta(days=30) / per_customer
    measurement_rows = (
        (
            vendor_id,
            f"cus_b{n:06d}",
            meter_ids[i % len(meter_ids)],
            f"m{n}-{i}",
            (1 + (n * 7 + i * 13) % 50) * 1_000_000,
            JAN + step * i,
            "{}",
            "h",
            SEED_NOW,
            False,
            "",
            "",
        )
        for n in range(customers)
        for i in range(per_customer)
    )
    await _bulk(
        engine,
        "INSERT INTO customer (id, vendor, name, display_name, email, currency, timezone, "
        "address, tax_rate, invoice_settings, provider_ids, payment_config, created_at) "
        "VALUES ({})",
        13,
        customer_rows,
    )
    await _bulk(
        engine,
        "INSERT INTO subscription (id, vendor, customer, plan, starts_at, ends_at, "
        "billing_anchor, trial_ends_at, created_at) VALUES ({})",
        9,
        subscription_rows,
    )
    await _bulk(
        engine,
        'INSERT INTO measurement ("vendor", "customer", "meter", "key", "value_micros", "time", '
        '"labels", "content_hash", "received_at", "voided", "correction_reason", '
        '"corrected_by") VALUES ({})',
        12,
        measurement_rows,
    )
    if url.startswith("postgres"):
        # Planner statistics for the bulk-loaded rows, as autovacuum would gather them.
        # (SQLite gathers none unless asked, so none are made for it.)
        await Invoice.raw("ANALYZE")
    await close_engine(engine)
    return vendor_id


async def _bulk(engine: Any, sql: str, width: int, rows: Any) -> None:
    from piccolo.engine.postgres import PostgresEngine

    if isinstance(engine, PostgresEngine):
        marks = ", ".join(f"${i}" for i in range(1, width + 1))
        batch: list[Any] = []
        async with engine.pool.acquire() as connection:
            for row in rows:
                batch.append(row)
                if len(batch) == 20_000:
                    await connection.executemany(sql.format(marks), batch)
                    batch = []
            if batch:
                await connection.executemany(sql.format(marks), batch)
        return
    path = engine.connection_kwargs["database"]
    connection = sqlite3.connect(path, detect_types=sqlite3.PARSE_DECLTYPES)
    connection.executemany(sql.format(", ".join("?" for _ in range(width))), rows)
    connection.commit()
    connection.close()


async def floor(url: str, vendor_id: str) -> float:
    """One raw aggregate per (customer, meter), and one raw insert of as many invoice
    lines (a usage line per meter plus the fixed fee) into a table shaped like
    ``invoice_line``, with its unique index, committed. Every seeded row is settled
    (stage 1), and saying so lets SQLite read them through the usage index, which is
    partial there: without it the floor is a slower full scan, an easier target."""
    engine = await open_engine(url)
    started = time.perf_counter()
    rows = await Invoice.raw(
        "SELECT customer, meter, SUM(value_micros) AS total FROM measurement "
        "WHERE stage = 1 AND vendor = {} AND time >= {} AND time < {} AND voided = {} "
        "GROUP BY customer, meter",
        vendor_id,
        JAN,
        datetime(2026, 2, 1, tzinfo=UTC),
        False,
    )
    lines: list[tuple[Any, ...]] = []
    position: dict[str, int] = {}
    for row in rows:
        n = position[row["customer"]] = position.get(row["customer"], 0) + 1
        lines.append(_line(vendor_id, row["customer"], n, row["meter"], int(row["total"]) // 1000))
    for customer, n in position.items():
        lines.append(_line(vendor_id, customer, n + 1, None, 4900))
    await _raw_insert(engine, lines)
    elapsed = time.perf_counter() - started
    await Invoice.raw("DROP TABLE bench_line")
    await close_engine(engine)
    return elapsed


def _line(vendor: str, customer: str, position: int, meter: str | None, amount: int) -> tuple:
    return (
        vendor,
        f"inv_{customer}",
        position,
        "charge",
        "usage",
        "usage",
        meter,
        "1",
        "0.01",
        amount,
        "{}",
        "pricing",
        None,
    )


# A regular table in the same database (not TEMP: a temporary table skips the write-ahead
# log and the fsync that the real invoice_line pays for).
_FLOOR_TABLE = (
    "CREATE TABLE bench_line AS SELECT vendor, invoice, position, section, kind, "
    "description, meter, quantity, unit_price, amount, details, source, reference "
    "FROM invoice_line WHERE 1 = 0"
)
_FLOOR_INDEX = "CREATE UNIQUE INDEX bench_line_position ON bench_line (invoice, position)"


async def _raw_insert(engine: Any, lines: list[tuple[Any, ...]]) -> None:
    from piccolo.engine.postgres import PostgresEngine

    if isinstance(engine, PostgresEngine):
        async with engine.pool.acquire() as connection, connection.transaction():
            await connection.execute(_FLOOR_TABLE)
            await connection.execute(_FLOOR_INDEX)
            await connection.executemany(
                "INSERT INTO bench_line VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, "
                "$11, $12, $13)",
                lines,
            )
        return
    async with engine.connection() as connection:
        await connection.execute(_FLOOR_TABLE)
        await connection.execute(_FLOOR_INDEX)
        await connection.execute("BEGIN")  # one transaction, as the billing run's batches
        await connection.executemany(
            "INSERT INTO bench_line VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", lines
        )
        await connection.commit()


async def bill_inline(url: str, vendor_id: str) -> tuple[float, int]:
    engine = await open_engine(url)
    started = time.perf_counter()
    summary = await advance_and_run(PLUGINS, vendor_id, BILL_AT)
    elapsed = time.perf_counter() - started
    finalized = await Invoice.count().where(Invoice.status == "finalized")
    if summary.errors:
        raise SystemExit(f"errors: {summary.errors[:3]}")
    await close_engine(engine)
    return elapsed, finalized


def count_queries() -> Callable[[], int]:
    """Count statements sent to SQLite (aiosqlite) or PostgreSQL (asyncpg)."""
    import aiosqlite
    import asyncpg

    counter = {"n": 0}
    for cls, names in (
        (aiosqlite.Connection, ("execute", "executemany")),
        (asyncpg.connection.Connection, ("execute", "executemany", "fetch", "fetchrow")),
    ):
        for name in names:
            original = getattr(cls, name)

            def wrapped(self: Any, *args: Any, _original: Any = original, **kw: Any) -> Any:
                counter["n"] += 1
                return _original(self, *args, **kw)

            setattr(cls, name, wrapped)
    return lambda: counter["n"]


async def queries_per_customer(workdir: Path, counter: Callable[[], int]) -> dict[str, float]:
    out = {}
    for per_meter in (10, 100):
        url = f"sqlite:///{workdir / f'q{per_meter}.sqlite3'}"
        vendor_id = await seed(url, 100, per_meter * len(METERS))
        engine = await open_engine(url)
        before = counter()
        await advance_and_run(PLUGINS, vendor_id, BILL_AT)
        out[f"{per_meter}_per_meter"] = (counter() - before) / 100
        await close_engine(engine)
    return out


def _workers(url: str, vendor_id: str, count: int, workdir: Path) -> float:
    """Start ``count`` idle worker processes, then move the clock past the grace period as
    ``octane clock advance --on-workers`` does (the clock moves and the workers are woken)
    and time until they have closed and finalized everything."""

    async def move_and_wait(data: Path) -> float:
        engine = await open_engine(url)
        handle = await connect_queue(None, data)  # the workers' embedded Redis
        try:
            started = time.perf_counter()
            await advance_on_workers(handle.queue, vendor_id, BILL_AT)
            finalized = Invoice.count().where(Invoice.status == "finalized")
            while await finalized < CUSTOMERS_SEEDED[0]:  # noqa: ASYNC110 (polls the database)
                await asyncio.sleep(0.1)
            return time.perf_counter() - started
        finally:
            await handle.aclose()
            await close_engine(engine)

    data = Path(tempfile.mkdtemp(prefix="bw-", dir="/tmp"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("OCTANE_")}
    env.update(
        {
            "OCTANE_DATA_DIR": str(data),
            "OCTANE_DATABASE_URL": url,
            "OCTANE_LOG_LEVEL": "info",
            "OCTANE_WORKER__SWEEP_SECONDS": "1",
        }
    )
    logs = [workdir / f"worker{count}-{i}.log" for i in range(count)]
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "octane", "worker"],
            env=env,
            stdout=open(log, "w"),  # noqa: SIM115
            stderr=subprocess.STDOUT,
        )
        for log in logs
    ]
    try:
        while not all("worker started" in log.read_text() for log in logs):
            time.sleep(0.2)
        time.sleep(2)  # their start-up catch-up finds nothing due
        return asyncio.run(move_and_wait(data))
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=60)


CUSTOMERS_SEEDED = [0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--per-customer", type=int, default=200)
    parser.add_argument("--postgres", action="store_true", help="also run on PostgreSQL")
    parser.add_argument("--skip-sqlite", action="store_true", help="only the PostgreSQL runs")
    args = parser.parse_args()
    CUSTOMERS_SEEDED[0] = args.customers
    counter = count_queries()
    report: dict[str, Any] = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.python_version()}",
        "customers": args.customers,
        "measurements": args.customers * args.per_customer,
    }
    with tempfile.TemporaryDirectory(prefix="octane-bill-") as folder:
        workdir = Path(folder)
        url = f"sqlite:///{workdir / 'bench.sqlite3'}"
        if args.skip_sqlite:
            report.update(_postgres(args, workdir))
            print(json.dumps(report, indent=2))
            return
        started = time.perf_counter()
        vendor_id = asyncio.run(seed(url, args.customers, args.per_customer))
        report["sqlite_seed_s"] = round(time.perf_counter() - started, 1)
        report["sqlite_floor_s"] = round(asyncio.run(floor(url, vendor_id)), 2)
        elapsed, finalized = asyncio.run(bill_inline(url, vendor_id))
        report["sqlite_billing_run_s"] = round(elapsed, 1)
        report["sqlite_finalized"] = finalized
        report["sqlite_ratio_to_floor"] = round(elapsed / report["sqlite_floor_s"], 1)
        report["queries_per_customer"] = asyncio.run(queries_per_customer(workdir, counter))
        if args.postgres:
            report.update(_postgres(args, workdir))
    print(json.dumps(report, indent=2))


def _postgres(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    from octane.testing.postgres import ThrowawayPostgres

    out: dict[str, Any] = {}
    with ThrowawayPostgres() as server:
        template = server.create_database("bench_template")
        vendor_id = asyncio.run(seed(server.url_for(template), args.customers, args.per_customer))
        floor_s = asyncio.run(floor(server.url_for(template), vendor_id))
        out["postgres_floor_s"] = round(floor_s, 2)
        inline = server.create_database("bench_inline", template=template)
        elapsed, _ = asyncio.run(bill_inline(server.url_for(inline), vendor_id))
        out["postgres_billing_run_inline_s"] = round(elapsed, 2)
        out["postgres_inline_ratio_to_floor"] = round(elapsed / floor_s, 2)
        for count in (1, 2):
            name = server.create_database(f"bench_w{count}", template=template)
            elapsed = _workers(server.url_for(name), vendor_id, count, workdir)
            out[f"postgres_{count}_worker_s"] = round(elapsed, 2)
            out[f"postgres_{count}_worker_ratio_to_floor"] = round(elapsed / floor_s, 2)
    return out


if __name__ == "__main__":
    main()
