"""Ingestion benchmark: batched and single measurements over real HTTP, against a raw floor.

Run with ``make bench`` or ``.venv/bin/python bench/ingest.py [--total N]``.

1. Batched: a running ``octane web`` server (SQLite, WAL) and a separate client
   process send ``--total`` measurements (default 1,000,000) in batches of 1,000,
   5% of them repeating an id already sent (they must come back as duplicates).
2. Floor: raw ``sqlite3.executemany`` of the same rows into the same migrated table
   and indexes, 1,000 rows per transaction, in the same run.
3. Single: 8 concurrent client connections POST one measurement each, for
   ``--single`` requests (default 20,000); reports requests/s and latency percentiles.

Prints one JSON object with the figures, the machine and the durability settings.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import platform
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
CUSTOMERS = 1000
METERS = ("api_calls", "storage_gb", "events", "tokens", "requests")
START = datetime(2026, 3, 1, tzinfo=UTC)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _env(data_dir: Path, port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OCTANE_")}
    env.update(
        {
            "OCTANE_DATA_DIR": str(data_dir),
            "OCTANE_WEB__PORT": str(port),
            "OCTANE_LOG_LEVEL": "warning",
        }
    )
    return env


def _octane(args: list[str], env: dict[str, str]) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "octane", *args], env=env, check=True, capture_output=True, text=True
    )
    return done.stdout


def _setup(data_dir: Path, port: int) -> str:
    env = _env(data_dir, port)
    _octane(["migrate"], env)
    created = json.loads(
        _octane(
            [
                "vendor",
                "create",
                "--name",
                "Bench",
                "--email",
                "bench@example.com",
                "--test-clock",
                "2026-03-31T00:00:00Z",
                "--json",
            ],
            env,
        )
    )
    key = created["api_key"]
    headers = {"Authorization": f"Bearer {key}"}
    server = _start_server(env, port)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=headers) as client:
            for meter in METERS:
                client.post("/api/v1/meters", json={"name": meter, "aggregation": "sum"})
            for index in range(CUSTOMERS):
                client.post("/api/v1/customers", json={"name": f"c{index}", "currency": "USD"})
    finally:
        _stop_server(server)
    return str(key)


def _start_server(env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    server = subprocess.Popen(
        [sys.executable, "-m", "octane", "web"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(200):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return server
        except httpx.TransportError:
            time.sleep(0.05)
    server.kill()
    raise RuntimeError("the server did not start")


def _stop_server(server: subprocess.Popen[bytes]) -> None:
    server.terminate()
    server.wait(timeout=30)


def _items(total: int, duplicate_share: float) -> list[dict[str, Any]]:
    items = []
    unique = int(total * (1 - duplicate_share))
    for index in range(total):
        source = index if index < unique else (index * 7919) % unique
        items.append(
            {
                "id": f"m{source}",
                "meter": METERS[source % len(METERS)],
                "customer": f"c{source % CUSTOMERS}",
                "value": str(source % 1000 + 1),
                "time": (START + timedelta(seconds=source % 2_500_000)).isoformat(),
            }
        )
    # Spread the repeats through the run rather than all at the end.
    repeats = items[unique:]
    firsts = items[:unique]
    step = max(1, len(firsts) // max(1, len(repeats)))
    mixed: list[dict[str, Any]] = []
    for position, item in enumerate(firsts):
        mixed.append(item)
        if position % step == step - 1 and repeats:
            mixed.append(repeats.pop())
    mixed.extend(repeats)
    return mixed


def _client_batches(port: int, key: str, payloads: list[bytes], connections: int, out: Any) -> None:
    async def run() -> dict[str, int]:
        counts = {"accepted": 0, "duplicates": 0, "errors": 0}
        queue: asyncio.Queue[bytes] = asyncio.Queue()
        for payload in payloads:
            queue.put_nowait(payload)
        headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{port}", headers=headers, timeout=120
        ) as client:

            async def worker() -> None:
                while not queue.empty():
                    body = queue.get_nowait()
                    response = await client.post("/api/v1/measurements/batch", content=body)
                    result = response.json()
                    counts["accepted"] += result["accepted"]
                    counts["duplicates"] += result["duplicates"]
                    counts["errors"] += len(result["errors"])

            await asyncio.gather(*[worker() for _ in range(connections)])
        return counts

    started = time.perf_counter()
    counts = asyncio.run(run())
    out.put({**counts, "seconds": time.perf_counter() - started})


def _client_single(port: int, key: str, bodies: list[bytes], connections: int, out: Any) -> None:
    async def run() -> list[float]:
        latencies: list[float] = []
        queue: asyncio.Queue[bytes] = asyncio.Queue()
        for body in bodies:
            queue.put_nowait(body)
        headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{port}", headers=headers, timeout=60
        ) as client:

            async def worker() -> None:
                while not queue.empty():
                    body = queue.get_nowait()
                    began = time.perf_counter()
                    response = await client.post("/api/v1/measurements", content=body)
                    latencies.append(time.perf_counter() - began)
                    assert response.status_code in (200, 201), response.text

            await asyncio.gather(*[worker() for _ in range(connections)])
        return latencies

    started = time.perf_counter()
    latencies = asyncio.run(run())
    out.put({"seconds": time.perf_counter() - started, "latencies": latencies})


def _in_process(target: Any, *args: Any) -> dict[str, Any]:
    context = multiprocessing.get_context("spawn")
    out = context.Queue()
    process = context.Process(target=target, args=(*args, out))
    process.start()
    result = out.get()
    process.join()
    return dict(result)


def _raw_floor(data_dir: Path, items: list[dict[str, Any]]) -> float:
    """Raw sqlite3.executemany of the same rows into a copy of the migrated empty table."""
    source = data_dir / "octane.sqlite3"
    target = data_dir / "floor.sqlite3"
    connection = sqlite3.connect(source)
    connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    connection.close()
    backup_source = sqlite3.connect(source)
    backup_target = sqlite3.connect(target)
    backup_source.backup(backup_target)
    backup_source.close()
    backup_target.execute("DELETE FROM measurement")
    backup_target.commit()
    vendor = backup_target.execute("SELECT id FROM vendor").fetchone()[0]
    customers = dict(backup_target.execute("SELECT name, id FROM customer").fetchall())
    meters = dict(backup_target.execute("SELECT name, id FROM meter").fetchall())
    backup_target.execute("PRAGMA journal_mode=WAL")
    seen: set[str] = set()
    rows = []
    now = str(datetime.now(UTC))
    for item in items:
        if item["id"] in seen:
            continue
        seen.add(item["id"])
        rows.append(
            (
                vendor,
                customers[item["customer"]],
                meters[item["meter"]],
                item["id"],
                int(item["value"]) * 1_000_000,
                str(datetime.fromisoformat(item["time"])),
                "{}",
                "0" * 64,
                now,
                0,
                "",
                "",
            )
        )
    started = time.perf_counter()
    for start in range(0, len(rows), 1000):
        backup_target.execute("BEGIN")
        backup_target.executemany(
            'INSERT INTO measurement ("vendor", "customer", "meter", "key", "value_micros", '
            '"time", "labels", "content_hash", "received_at", "voided", "correction_reason", '
            '"corrected_by") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
            rows[start : start + 1000],
        )
        backup_target.execute("COMMIT")
    elapsed = time.perf_counter() - started
    backup_target.close()
    return len(items) / elapsed  # same number of input items as the HTTP run


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--total", type=int, default=1_000_000)
    parser.add_argument("--single", type=int, default=20_000)
    parser.add_argument("--connections", type=int, default=2)
    args = parser.parse_args()

    data_dir = Path(tempfile.mkdtemp(prefix="oct-bench-", dir="/tmp"))
    port = _free_port()
    try:
        key = _setup(data_dir, port)
        items = _items(args.total, 0.05)
        payloads = [
            json.dumps({"measurements": items[i : i + 1000]}).encode()
            for i in range(0, len(items), 1000)
        ]
        server = _start_server(_env(data_dir, port), port)
        try:
            batched = _in_process(_client_batches, port, key, payloads, args.connections)
            single_bodies = [
                json.dumps(
                    {
                        "id": f"s{i}",
                        "meter": "api_calls",
                        "customer": f"c{i % CUSTOMERS}",
                        "value": "1",
                        "time": "2026-03-30T12:00:00Z",
                    }
                ).encode()
                for i in range(args.single)
            ]
            single = _in_process(_client_single, port, key, single_bodies, 8)
        finally:
            _stop_server(server)
        floor = _raw_floor(data_dir, items)
        with sqlite3.connect(data_dir / "octane.sqlite3") as connection:
            stored = connection.execute(
                "SELECT count(*) FROM measurement WHERE key LIKE 'm%'"
            ).fetchone()[0]
            journal = connection.execute("PRAGMA journal_mode").fetchone()[0]
        rate = args.total / batched["seconds"]
        latencies = single["latencies"]
        report = {
            "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python "
            f"{platform.python_version()}, SQLite {sqlite3.sqlite_version}",
            "durability": f"journal_mode={journal}, synchronous=FULL (sqlite3 default; WAL)",
            "batched": {
                "measurements": args.total,
                "seconds": round(batched["seconds"], 2),
                "per_second": round(rate),
                "accepted": batched["accepted"],
                "duplicates": batched["duplicates"],
                "errors": batched["errors"],
                "stored": stored,
                "raw_executemany_per_second": round(floor),
                "ratio_to_raw": round(rate / floor, 3),
            },
            "single": {
                "requests": args.single,
                "connections": 8,
                "per_second": round(args.single / single["seconds"]),
                "p50_ms": round(_percentile(latencies, 0.50) * 1000, 2),
                "p99_ms": round(_percentile(latencies, 0.99) * 1000, 2),
            },
        }
        print(json.dumps(report, indent=2))
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
