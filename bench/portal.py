"""Portal benchmark: page latency and query counts with many customers and invoices.

Run with ``make bench`` or ``.venv/bin/python bench/portal.py [--customers N] [--cycles N]``.

1. Seed (not timed) a SQLite file: one vendor on a test clock with a portal user, a meter
   and a plan, ``--customers`` customers (default 10,000) each subscribed with
   ``--cycles`` past monthly cycles (default 10: 100,000 invoices with two lines, a
   ledger entry and a timeline event each). Statuses: mostly paid, some failed or
   uncollectible with a payment attempt, and the latest cycle of every tenth customer in
   its invoice grace period (a draft).
2. Latency: a real server (uvicorn, one process) on loopback; a logged-in httpx client
   requests each page ``--requests`` times (default 60) after a warm-up and reports p50
   and p95 per page.
3. Query counts: the same pages in-process, counting the statements the engine runs,
   on the big database and on a small one (``--small`` customers, 1 cycle each): a
   page's count must not grow with the data.

Prints one JSON object with the figures and the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import re
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from octane.core.clock import SystemClock, TestClock  # noqa: E402
from octane.core.config import load_config  # noqa: E402
from octane.core.plugins import load_plugins  # noqa: E402
from octane.core.runtime import Octane  # noqa: E402
from octane.core.store.engine import close_engine, open_engine  # noqa: E402
from octane.core.store.migrate import migrate  # noqa: E402
from octane.core.vendors import create_portal_user, create_vendor  # noqa: E402

PASSWORD = "benchmark password"
SECRET = "bench-secret-" + "x" * 32
START = datetime(2025, 1, 1, tzinfo=UTC)
PLUGINS = load_plugins(["sandbox"], use_entry_points=False)


def _ts(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S+00:00")


def _month(index: int) -> datetime:
    year, month = divmod(index, 12)
    return START.replace(year=START.year + year, month=month + 1)


async def _vendor(url: str, now: datetime) -> tuple[str, str]:
    engine = await open_engine(url, pool=False)
    await migrate()
    vendor = await create_vendor(
        name="Bench Inc", email="ops@bench.example", clock=TestClock(now), test_clock_start=now
    )
    vendor_id = str(vendor["id"])
    email = "ops@bench.example"
    await create_portal_user(vendor_id, email=email, password=PASSWORD, clock=SystemClock())
    await close_engine(engine)
    return vendor_id, email


def seed(path: Path, customers: int, cycles: int) -> dict[str, Any]:
    """Write the rows with plain sqlite3 (fast); return ids to request."""
    now = _month(cycles) + timedelta(hours=6)  # the latest cycle just ended
    vendor, email = asyncio.run(_vendor(f"sqlite:///{path}", now))
    db = sqlite3.connect(path)
    created = _ts(START)
    db.execute(
        "INSERT INTO meter (id, vendor, name, aggregation, unit, created_at) "
        "VALUES ('mtr_b', ?, 'calls', 'sum', 'calls', ?)",
        (vendor, created),
    )
    db.execute(
        "INSERT INTO price_plan (id, vendor, name, currency, period, fixed_fee, minimum_charge, "
        "trial_days, components, created_at) VALUES ('pln_b', ?, 'basic', 'USD', 'month', '10', "
        "'0', 0, ?, ?)",
        (
            vendor,
            json.dumps([{"meter": "calls", "model": "per_unit", "unit_price": "0.01"}]),
            created,
        ),
    )
    rng = random.Random(7)
    customer_rows, subscription_rows, cycle_rows, invoice_rows = [], [], [], []
    line_rows, ledger_rows, audit_rows, attempt_rows = [], [], [], []
    number = 0
    for c in range(customers):
        cid, sid = f"cus_b{c:06d}", f"sub_b{c:06d}"
        customer_rows.append(
            (cid, vendor, f"cust-{c:05d}", f"Company {c}", f"ap{c}@example.com", "USD", created)
        )
        subscription_rows.append((sid, vendor, cid, "pln_b", created, created, created))
        for k in range(cycles):
            start, end = _month(k), _month(k + 1)
            cyc, inv = f"cyc_b{c:06d}_{k:02d}", f"inv_b{c:06d}_{k:02d}"
            in_grace = k == cycles - 1 and c % 10 == 0
            calls = rng.randint(0, 5000)
            total = 1000 + calls
            if in_grace:
                status, state = "draft", "grace"
            else:
                state = "invoiced"
                status = rng.choices(
                    ("paid", "failed", "uncollectible", "delivered", "void"), (90, 4, 2, 3, 1)
                )[0]
            cycle_rows.append(
                (
                    cyc, vendor, cid, sid, _ts(start), _ts(end), state,
                    _ts(end + timedelta(days=1)), total, _ts(end),
                )
            )  # fmt: skip
            finalized = None if in_grace else _ts(end + timedelta(days=1))
            inv_number = None
            if not in_grace:
                number += 1
                inv_number = f"INV-{number:07d}"
            invoice_rows.append(
                (
                    inv, vendor, cid, sid, cyc, inv_number, status, "USD", _ts(start), _ts(end),
                    total, 0, total, total, total if status == "paid" else 0, _ts(end), finalized,
                )
            )  # fmt: skip
            if not in_grace:
                line_rows.append((vendor, inv, 1, "charge", "usage", "calls", "calls",
                                  str(calls), "0.01", calls))  # fmt: skip
                line_rows.append((vendor, inv, 2, "charge", "fixed_fee", "Fixed fee", None,
                                  None, None, 1000))  # fmt: skip
                ledger_rows.append((vendor, cid, cyc, inv, "charge", total, "USD", "Invoice",
                                    _ts(end + timedelta(days=1)), _ts(end)))  # fmt: skip
                audit_rows.append((vendor, "octane", "invoice.finalized", inv, "{}",
                                   _ts(end + timedelta(days=1))))  # fmt: skip
            if status in ("failed", "uncollectible"):
                attempt_rows.append((f"pay_{inv}", vendor, inv, 1, "sandbox", "failed", total,
                                     "USD", f"{inv}:1", "card_declined", "Declined",
                                     _ts(end + timedelta(days=4))))  # fmt: skip
            ledger_rows.append((vendor, cid, cyc, None, "accrual", total, "USD", "Accrued",
                                _ts(end - timedelta(hours=1)), _ts(end)))  # fmt: skip
    db.executemany(
        "INSERT INTO customer (id, vendor, name, display_name, email, currency, created_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        customer_rows,
    )
    db.executemany(
        "INSERT INTO subscription (id, vendor, customer, plan, starts_at, billing_anchor, "
        "created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        subscription_rows,
    )
    db.executemany(
        "INSERT INTO billing_cycle (id, vendor, customer, subscription, period_start, period_end, "
        "state, grace_ends_at, accrued_amount, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        cycle_rows,
    )
    db.executemany(
        "INSERT INTO invoice (id, vendor, customer, subscription, cycle, number, status, "
        "currency, period_start, period_end, subtotal, tax, total, amount_due, amount_paid, "
        "created_at, finalized_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        invoice_rows,
    )
    db.executemany(
        "INSERT INTO invoice_line (vendor, invoice, position, section, kind, description, meter, "
        "quantity, unit_price, amount) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        line_rows,
    )
    db.executemany(
        "INSERT INTO ledger_entry (vendor, customer, cycle, invoice, kind, amount, currency, "
        "description, effective_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        ledger_rows,
    )
    db.executemany(
        "INSERT INTO audit_log (vendor, actor, action, target, details, at) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        audit_rows,
    )
    db.executemany(
        "INSERT INTO payment_attempt (id, vendor, invoice, attempt_number, provider, status, "
        "amount, currency, idempotency_key, failure_code, failure_message, created_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        attempt_rows,
    )
    db.commit()
    db.execute("ANALYZE")
    db.close()
    failed = [row[0] for row in invoice_rows if row[6] in ("failed", "uncollectible")]
    return {
        "email": email,
        "customers": [row[2] for row in customer_rows],
        "invoices": [row[0] for row in invoice_rows],
        "failed": failed,
        "drafts": [row[0] for row in invoice_rows if row[6] == "draft"],
        "invoice_count": len(invoice_rows),
    }


def pages(ids: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    """Each page to measure: a name and a function giving its next path."""
    customers, invoices = ids["customers"], ids["invoices"]
    return {
        "dashboard": lambda: "/portal/",
        "invoices list": lambda: "/portal/invoices",
        "invoices list, status filter": lambda: "/portal/invoices?status=failed",
        "invoices list, customer filter": (
            lambda: f"/portal/invoices?customer={rng.choice(customers)}"
        ),
        "invoice detail": lambda: f"/portal/invoices/{rng.choice(invoices)}",
        "customers list": lambda: "/portal/customers",
        "customers search": lambda: f"/portal/customers?q={rng.choice(customers)[-4:]}",
        "customer detail": lambda: f"/portal/customers/{rng.choice(customers)}",
        "review list": lambda: "/portal/review",
        "review (draft recomputed)": lambda: f"/portal/review/{rng.choice(ids['drafts'])}",
    }  # fmt: skip


def _login(client: httpx.Client, email: str) -> None:
    form = client.get("/portal/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert token is not None
    done = client.post(
        "/portal/login", data={"email": email, "password": PASSWORD, "csrf_token": token[1]}
    )
    assert done.status_code == 200 and "Bench Inc" in done.text, done.text[:500]


def latency(path: Path, ids: dict[str, Any], requests: int) -> dict[str, Any]:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("OCTANE_")}
    env.update(
        {
            "OCTANE_DATA_DIR": str(path.parent / "data"),
            "OCTANE_DATABASE_URL": f"sqlite:///{path}",
            "OCTANE_SECRET_KEY": SECRET,
            "OCTANE_WEB__COOKIE_SECURE": "false",
            "OCTANE_PLUGINS__ENABLED": "sandbox",
            "OCTANE_LOG_LEVEL": "warning",
        }
    )
    server = subprocess.Popen([sys.executable, "-c", _SERVER, str(port)], cwd=ROOT, env=env)
    results: dict[str, Any] = {}
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(300):
            try:
                if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        rng = random.Random(11)
        with httpx.Client(base_url=base, follow_redirects=True, timeout=30) as client:
            _login(client, ids["email"])
            for name, next_path in pages(ids, rng).items():
                for _ in range(5):  # warm-up
                    client.get(next_path())
                times = []
                for _ in range(requests):
                    target = next_path()
                    began = time.perf_counter()
                    response = client.get(target)
                    times.append((time.perf_counter() - began) * 1000)
                    assert response.status_code == 200, (target, response.status_code)
                times.sort()
                results[name] = {
                    "p50_ms": round(statistics.median(times), 1),
                    "p95_ms": round(times[int(len(times) * 0.95) - 1], 1),
                }
    finally:
        server.terminate()
        server.wait(10)
    return results


_SERVER = """
import asyncio, sys, uvicorn
from octane.core.config import load_config
from octane.core.runtime import start_octane
from octane.web.app import create_app
async def main():
    runtime = await start_octane(load_config(), use_entry_points=False)
    config = uvicorn.Config(create_app(runtime), host="127.0.0.1", port=int(sys.argv[1]),
                            log_level="warning")
    await uvicorn.Server(config).serve()
asyncio.run(main())
"""


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def query_counts(path: Path, ids: dict[str, Any]) -> dict[str, int]:
    """Statements per page, counted in-process (the engine's query method wrapped)."""
    from litestar.testing import AsyncTestClient
    from piccolo.engine.sqlite import SQLiteEngine

    from octane.web.app import create_app

    engine = await open_engine(f"sqlite:///{path}", pool=False)
    counter = {"n": 0}
    original = SQLiteEngine.run_querystring

    async def counting(self: Any, *args: Any, **kwargs: Any) -> Any:
        counter["n"] += 1
        return await original(self, *args, **kwargs)

    SQLiteEngine.run_querystring = counting  # type: ignore[method-assign]
    runtime = Octane(
        config=load_config(env={"OCTANE_DATA_DIR": str(path.parent / "data")}),
        plugins=PLUGINS,
        engine=engine,
        clock=SystemClock(),
        secret_key=SECRET,
    )
    counts: dict[str, int] = {}
    try:
        async with AsyncTestClient(app=create_app(runtime), base_url="https://bench") as client:
            form = await client.get("/portal/login")
            token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
            assert token is not None
            await client.post(
                "/portal/login",
                data={"email": ids["email"], "password": PASSWORD, "csrf_token": token[1]},
            )
            rng = random.Random(3)
            for name, next_path in pages(ids, rng).items():
                await client.get(next_path())  # the session's last-seen write happens once
                counter["n"] = 0
                response = await client.get(next_path())
                assert response.status_code == 200, (name, response.status_code)
                counts[name] = counter["n"]
    finally:
        SQLiteEngine.run_querystring = original  # type: ignore[method-assign]
        await close_engine(engine)
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--cycles", type=int, default=10)
    parser.add_argument("--small", type=int, default=100)
    parser.add_argument("--requests", type=int, default=60)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        big, small = Path(tmp) / "big.sqlite3", Path(tmp) / "small.sqlite3"
        began = time.perf_counter()
        ids = seed(big, args.customers, args.cycles)
        seeded = time.perf_counter() - began
        small_ids = seed(small, args.small, 2)
        figures = latency(big, ids, args.requests)
        counts_big = asyncio.run(query_counts(big, ids))
        counts_small = asyncio.run(query_counts(small, small_ids))
    print(
        json.dumps(
            {
                "customers": args.customers,
                "invoices": ids["invoice_count"],
                "seed_seconds": round(seeded, 1),
                "latency": figures,
                "queries_big": counts_big,
                "queries_small": counts_small,
                "query_count_constant": counts_big == counts_small,
                "machine": {
                    "python": platform.python_version(),
                    "sqlite": sqlite3.sqlite_version,
                    "cpus": os.cpu_count(),
                },
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
