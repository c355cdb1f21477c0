"""Process entry points: ``octane serve`` (all in one), ``octane web``, ``octane worker``.

``serve`` is the embedded default: it migrates the database, starts a Redis server
embedded in the data directory, a SAQ worker and the web server in one process,
and stops all of them together. ``web`` and ``worker`` are the scale-out pieces,
run as many times as needed against PostgreSQL and a Redis given by URL.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from typing import Any

import uvicorn

from octane.core.config import OctaneConfig
from octane.core.jobs import make_worker
from octane.core.queue import connect_queue
from octane.core.runtime import Octane, start_octane
from octane.web.app import create_app

__all__ = ["run_serve", "run_web", "run_worker_process"]

log = logging.getLogger("octane")


def _configure_logging(config: OctaneConfig) -> None:
    logging.basicConfig(
        level=config.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


def _server(runtime: Octane, host: str, port: int) -> uvicorn.Server:
    app = create_app(runtime)
    return uvicorn.Server(
        uvicorn.Config(app, host=host, port=port, log_level=runtime.config.log_level, lifespan="on")
    )


async def _start_worker(runtime: Octane) -> tuple[Any, asyncio.Task[None]]:
    handle = await connect_queue(runtime.config.redis_url, runtime.config.data_path())
    runtime.state["queue"] = handle.queue
    worker = make_worker(
        handle.queue,
        concurrency=runtime.config.worker.concurrency,
        context={"octane": runtime},
    )
    task = asyncio.create_task(worker.start())
    return handle, task


async def _stop_worker(handle: Any, task: asyncio.Task[None], worker_stop: Any = None) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await task
    await handle.aclose()


async def run_serve(config: OctaneConfig, *, host: str, port: int) -> int:
    """Web + worker + embedded Redis (unless ``redis_url`` is set) in this process."""
    _configure_logging(config)
    runtime = await start_octane(config, run_migrations=True)
    handle, worker_task = await _start_worker(runtime)
    server = _server(runtime, host, port)
    print(f"Octane is serving on http://{host}:{port}/portal/ (Ctrl+C to stop)", flush=True)
    try:
        await server.serve()
    finally:
        await _stop_worker(handle, worker_task)
        await runtime.close()
    return 0


async def run_web(config: OctaneConfig, *, host: str, port: int) -> int:
    """A web process only (API and portal); pair it with ``octane worker`` processes."""
    _configure_logging(config)
    runtime = await start_octane(config)
    handle = await connect_queue(config.redis_url, config.data_path())
    runtime.state["queue"] = handle.queue
    try:
        await _server(runtime, host, port).serve()
    finally:
        await handle.aclose()
        await runtime.close()
    return 0


async def run_worker_process(config: OctaneConfig) -> int:
    """A worker process: runs queued jobs and the periodic sweep until SIGINT/SIGTERM."""
    _configure_logging(config)
    runtime = await start_octane(config)
    handle, worker_task = await _start_worker(runtime)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    log.info("worker started (concurrency %s)", config.worker.concurrency)
    try:
        await stop.wait()
    finally:
        await _stop_worker(handle, worker_task)
        await runtime.close()
    return 0
