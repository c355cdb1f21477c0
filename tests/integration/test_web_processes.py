"""``octane web --processes N``: real processes sharing one port and one database."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from octane.core.store.engine import close_engine, open_engine
from octane.core.store.tables import Measurement
from octane.testing.smtp import free_port

VENDOR = ("--name", "V", "--email", "v@v.example", "--test-clock", "2026-03-31T00:00:00Z", "--json")


def _env(site: Path, db_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OCTANE_")}
    env.update({"OCTANE_DATA_DIR": str(site / "data"), "OCTANE_DATABASE_URL": db_url})
    return env


def _children(pid: int) -> set[int]:
    """The web processes under ``pid`` (not the embedded Redis it started)."""
    found = set()
    for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split():
        try:
            command = Path(f"/proc/{child}/cmdline").read_bytes()
        except OSError:
            continue
        if b"octane" in command and b"redis" not in command:
            found.add(int(child))
    return found


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().rsplit(")", 1)[1].split()[0] == "Z")


def _wait(condition: Any, what: str, seconds: float = 30, explain: Any = lambda: "") -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}\n{explain()}")
        time.sleep(0.1)


class WebProcesses:
    """``octane web --processes 2`` on a free port, its output in a file."""

    def __init__(self, site: Path, db_url: str) -> None:
        self.site, self.env, self.port = site, _env(site, db_url), free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = site / "web.log"
        with open(self.log, "w") as out:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "octane",
                    "web",
                    "--processes",
                    "2",
                    "--port",
                    str(self.port),
                ],
                env=self.env,
                cwd=site,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        _wait(self.up, "the web processes")

    def up(self) -> bool:
        try:
            return httpx.get(f"{self.base}/healthz", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    def output(self) -> str:
        return self.log.read_text()


async def _stored(db_url: str) -> tuple[int, int]:
    """How many measurements the database holds, and the sum of their values."""
    engine = await open_engine(db_url, pool=False)
    try:
        rows = await Measurement.select(Measurement.value_micros).run()
    finally:
        await close_engine(engine)
    return len(rows), sum(row["value_micros"] for row in rows) // 1_000_000


def _vendor_key(site: Path, db_url: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "octane", "vendor", "create", *VENDOR],
        env=_env(site, db_url),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return str(json.loads(done.stdout)["api_key"])


@pytest.mark.db
def test_processes_share_the_port_store_each_id_once_and_are_replaced(
    db_url: str, tmp_path: Path
) -> None:
    key = _vendor_key(tmp_path, db_url)
    web = WebProcesses(tmp_path, db_url)
    try:
        first = _children(web.process.pid)
        assert len(first) == 2
        auth = {"Authorization": f"Bearer {key}"}
        with httpx.Client(base_url=web.base, headers=auth) as client:
            assert (
                client.post(
                    "/api/v1/meters", json={"name": "calls", "aggregation": "sum"}
                ).status_code
                == 201
            )
            created = client.post("/api/v1/customers", json={"name": "acme", "currency": "USD"})
            assert created.status_code == 201, created.text
        items = [
            {
                "id": f"e{i}",
                "meter": "calls",
                "customer": "acme",
                "value": str(i + 1),
                "time": "2026-03-30T12:00:00Z",
            }
            for i in range(300)
        ]

        def send(_: int) -> dict[str, Any]:
            # A fresh connection per sender: the kernel spreads them over both processes.
            with httpx.Client(base_url=web.base, headers=auth, timeout=30) as client:
                answer = client.post("/api/v1/measurements/batch", json={"measurements": items})
                assert answer.status_code == 200, answer.text
                return dict(answer.json())

        with ThreadPoolExecutor(8) as pool:
            results = list(pool.map(send, range(8)))
        assert sum(r["accepted"] for r in results) == 300  # each id stored once, by one of them
        assert all(r["accepted"] + r["duplicates"] == 300 and not r["errors"] for r in results)
        assert asyncio.run(_stored(db_url)) == (300, 300 * 301 // 2)

        # A web process that dies is replaced; the port keeps answering meanwhile.
        victim = sorted(first)[0]
        os.kill(victim, signal.SIGKILL)
        _wait(lambda: len(_children(web.process.pid) - first) == 1, "a replacement process")
        assert len(_children(web.process.pid)) == 2
        for _ in range(10):
            assert web.up()
    finally:
        web.process.send_signal(signal.SIGTERM)
        web.process.wait(timeout=60)
    assert web.process.returncode == 0, web.output()
    assert "starting another" in web.output()
    assert "Traceback" not in web.output(), web.output()
    assert not web.up()
    assert not (tmp_path / "data" / "redis.sock").exists()  # the shared embedded Redis stopped


def test_processes_stop_when_their_supervisor_is_killed(db_url: str, tmp_path: Path) -> None:
    web = WebProcesses(tmp_path, db_url)
    children = _children(web.process.pid)
    web.process.kill()  # SIGKILL: it cannot pass anything on
    web.process.wait(timeout=30)
    _wait(
        lambda: not any(_alive(pid) for pid in children),
        f"the orphaned web processes to stop ({children})",
        explain=web.output,
    )
    assert not web.up()


def _octane(site: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "octane", *args],
        env=_env(site, f"sqlite:///{site / 'db.sqlite3'}"),
        cwd=site,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_bad_process_count_is_refused_naming_it(tmp_path: Path) -> None:
    done = _octane(tmp_path, "web", "--processes", "0")
    assert done.returncode == 2
    assert "--processes: expected 1 to 64 web processes, got 0" in done.stderr
    (tmp_path / "octane.toml").write_text("[web]\nprocesses = 100\n")
    done = _octane(tmp_path, "check-config")
    assert done.returncode == 2 and "web.processes" in done.stderr


def test_a_port_in_use_is_refused_naming_it(tmp_path: Path) -> None:
    port = free_port()
    with socket.create_server(("127.0.0.1", port)):  # taken, without SO_REUSEPORT
        done = _octane(tmp_path, "web", "--processes", "2", "--port", str(port))
    assert done.returncode == 2
    assert f"web.port: cannot listen on 127.0.0.1:{port}" in done.stderr
