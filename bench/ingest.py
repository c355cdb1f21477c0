"""Ingestion benchmark: batched and single measurements over real HTTP, against a raw floor.

Run with ``make bench`` or ``.venv/bin/python bench/ingest.py [--total N] [--single N]
[--connections N] [--processes 1,2] [--synchronous full|normal]``.

1. Batched: a running ``octane web`` server (SQLite, WAL) and a separate client
   process send ``--total`` measurements (default 1,000,000) in batches of 1,000 over
   ``--connections`` (default 16), 5% of them repeating an id already sent (they must
   come back as duplicates). Once per ``--processes`` count (default ``1,2``: one web
   process, then ``octane web --processes 2``), each on a fresh database.
2. Floor: raw ``sqlite3.executemany`` of the same rows into the same migrated table
   and indexes, 1,000 rows per transaction, in the same run, on a connection with the
   same pragmas as the server's (``synchronous``, page cache, WAL checkpointing), the
   rows settled into the usage index by the same rule as the server's.
3. Single: 8 concurrent client connections POST one measurement each, for
   ``--single`` requests (default 20,000); reports requests/s and latency percentiles.

The clients speak HTTP/1.1 over asyncio streams (:class:`_Http`) rather than httpx:
httpx spends about 1 ms of CPU per request, so on a 2-core machine shared with the
server it measured the client more than the server.

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

from octane.core.store.bulk import SETTLE_AFTER, settle
from octane.core.store.sqlite_pool import SYNCHRONOUS_LEVELS, connection_pragmas

ROOT = Path(__file__).resolve().parents[1]
CUSTOMERS = 1000
METERS = ("api_calls", "storage_gb", "events", "tokens", "requests")
START = datetime(2026, 3, 1, tzinfo=UTC)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _env(data_dir: Path, port: int, synchronous: str = "full") -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OCTANE_")}
    env.update(
        {
            "OCTANE_DATA_DIR": str(data_dir),
            "OCTANE_WEB__PORT": str(port),
            "OCTANE_LOG_LEVEL": "warning",
            "OCTANE_SQLITE_SYNCHRONOUS": synchronous,
        }
    )
    return env


class _Http:
    """One keep-alive HTTP/1.1 connection that POSTs JSON and reads the answer."""

    def __init__(self, port: int, key: str) -> None:
        self.port = port
        self.head = (
            "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Authorization: Bearer {key}\r\nContent-Type: application/json\r\n"
            "Content-Length: {length}\r\n\r\n"
        )
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        if self.reader is None or self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        self.writer.write(self.head.format(path=path, length=len(body)).encode() + body)
        status = int((await self.reader.readuntil(b"\r\n")).split()[1])
        length = None
        while (line := await self.reader.readuntil(b"\r\n")) != b"\r\n":
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        if length is None:
            raise RuntimeError("the server answered without a Content-Length")
        return status, await self.reader.readexactly(length)

    async def aclose(self) -> None:
        if self.writer is not None:
            self.writer.close()


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


def _cpu_seconds(pid: int) -> float:
    """CPU time (user + system) of a process and its direct children, from /proc (Linux);
    a steadier measure than wall time on a shared machine."""
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if stat.parent.name == str(pid) or fields[1] == str(pid):
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


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

        async def worker() -> None:
            client = _Http(port, key)
            try:
                while not queue.empty():
                    body = queue.get_nowait()
                    status, answer = await client.post("/api/v1/measurements/batch", body)
                    assert status == 200, answer
                    result = json.loads(answer)
                    counts["accepted"] += result["accepted"]
                    counts["duplicates"] += result["duplicates"]
                    counts["errors"] += len(result["errors"])
            finally:
                await client.aclose()

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

        async def worker() -> None:
            client = _Http(port, key)
            try:
                while not queue.empty():
                    body = queue.get_nowait()
                    began = time.perf_counter()
                    status, answer = await client.post("/api/v1/measurements", body)
                    latencies.append(time.perf_counter() - began)
                    assert status in (200, 201), answer
            finally:
                await client.aclose()

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


def _raw_floor(data_dir: Path, items: list[dict[str, Any]], synchronous: str) -> float:
    """Raw sqlite3.executemany of the same rows into a copy of the migrated empty table,
    on a connection with the server's pragmas."""
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
    for pragma in connection_pragmas(synchronous):
        backup_target.execute(pragma)
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
                0,
            )
        )
    started = time.perf_counter()
    for start in range(0, len(rows), 1000):
        backup_target.execute("BEGIN")
        backup_target.executemany(
            'INSERT INTO measurement ("vendor", "customer", "meter", "key", "value_micros", '
            '"time", "labels", "content_hash", "received_at", "voided", "correction_reason", '
            '"corrected_by", "stage") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
            rows[start : start + 1000],
        )
        backup_target.execute("COMMIT")
        settle(backup_target, at_least=SETTLE_AFTER)  # into the usage index, as Octane does
    elapsed = time.perf_counter() - started
    backup_target.close()
    return len(items) / elapsed  # same number of input items as the HTTP run


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def _run_server(
    data_dir: Path, key: str, payloads: list[bytes], processes: int, args: argparse.Namespace
) -> dict[str, Any]:
    """The batched run, then the single POSTs, against ``octane web --processes N``."""
    port = _free_port()
    env = _env(data_dir, port, args.synchronous)
    env["OCTANE_WEB__PROCESSES"] = str(processes)
    server = _start_server(env, port)
    try:
        cpu = _cpu_seconds(server.pid)
        batched = _in_process(_client_batches, port, key, payloads, args.connections)
        batched_cpu = _cpu_seconds(server.pid) - cpu
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
        cpu = _cpu_seconds(server.pid)
        single = _in_process(_client_single, port, key, single_bodies, 8)
        single_cpu = _cpu_seconds(server.pid) - cpu
    finally:
        _stop_server(server)
    with sqlite3.connect(data_dir / "octane.sqlite3") as connection:
        stored = connection.execute(
            "SELECT count(*) FROM measurement WHERE key LIKE 'm%'"
        ).fetchone()[0]
    latencies = single["latencies"]
    return {
        "batched": {
            "measurements": args.total,
            "connections": args.connections,
            "seconds": round(batched["seconds"], 2),
            "per_second": round(args.total / batched["seconds"]),
            "accepted": batched["accepted"],
            "duplicates": batched["duplicates"],
            "errors": batched["errors"],
            "stored": stored,
            "server_cpu_us_per_measurement": round(batched_cpu / args.total * 1e6, 1),
        },
        "single": {
            "requests": args.single,
            "connections": 8,
            "per_second": round(args.single / single["seconds"]),
            "p50_ms": round(_percentile(latencies, 0.50) * 1000, 2),
            "p99_ms": round(_percentile(latencies, 0.99) * 1000, 2),
            "server_cpu_us_per_request": round(single_cpu / args.single * 1e6),
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--total", type=int, default=1_000_000)
    parser.add_argument("--single", type=int, default=20_000)
    parser.add_argument("--connections", type=int, default=16, help="for the batched run")
    parser.add_argument(
        "--processes",
        default="1,2",
        help="web processes (`octane web --processes N`), one run each, comma-separated",
    )
    parser.add_argument("--synchronous", choices=SYNCHRONOUS_LEVELS, default="full")
    args = parser.parse_args()
    counts = [int(count) for count in args.processes.split(",")]

    folders = []
    try:
        items = _items(args.total, 0.05)
        payloads = [
            json.dumps({"measurements": items[i : i + 1000]}).encode()
            for i in range(0, len(items), 1000)
        ]
        runs = {}
        for processes in counts:
            data_dir = Path(tempfile.mkdtemp(prefix="oct-bench-", dir="/tmp"))
            folders.append(data_dir)
            key = _setup(data_dir, _free_port())
            runs[f"{processes}_process" + ("es" if processes > 1 else "")] = _run_server(
                data_dir, key, payloads, processes, args
            )
        floor = _raw_floor(folders[0], items, args.synchronous)
        for run in runs.values():
            run["batched"]["raw_executemany_per_second"] = round(floor)
            run["batched"]["ratio_to_raw"] = round(run["batched"]["per_second"] / floor, 3)
        with sqlite3.connect(folders[0] / "octane.sqlite3") as connection:
            journal = connection.execute("PRAGMA journal_mode").fetchone()[0]
        report = {
            "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python "
            f"{platform.python_version()}, SQLite {sqlite3.sqlite_version}",
            "durability": f"journal_mode={journal}, synchronous={args.synchronous.upper()}",
            "pragmas (server and floor)": connection_pragmas(args.synchronous),
            **runs,
        }
        print(json.dumps(report, indent=2))
    finally:
        for folder in folders:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
