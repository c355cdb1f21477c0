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
import os
import signal
import socket
import sys
from collections.abc import Callable, Iterator
from typing import Any

import uvicorn
from saq import CronJob, Worker

from octane.core.config import OctaneConfig
from octane.core.jobs import accrue_revenue, make_worker
from octane.core.lifecycle_jobs import BATCH_JOBS, LIFECYCLE_JOBS, catch_up, lifecycle_sweeper
from octane.core.queue import QueueHandle, connect_queue
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


class _Server(uvicorn.Server):
    """uvicorn, minus its signal handling: the runner owns SIGINT/SIGTERM so that it can
    stop the worker and the embedded Redis in order before the process exits."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def _stop_on_signals(stop: Callable[[], None]) -> None:
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop)


def _server(runtime: Octane, host: str, port: int) -> uvicorn.Server:
    app = create_app(runtime)
    server = _Server(
        uvicorn.Config(app, host=host, port=port, log_level=runtime.config.log_level, lifespan="on")
    )
    _stop_on_signals(lambda: setattr(server, "should_exit", True))
    return server


async def _stop_when_orphaned(server: uvicorn.Server, supervisor: int) -> None:
    """Stop serving once the supervising parent is gone (killed outright, it could not
    pass on a signal): a web process must not outlive the command that started it.
    The parent's id is given, not read here: it may be gone before this process starts."""
    while os.getppid() == supervisor:  # noqa: ASYNC110 (no event tells of a parent's death)
        await asyncio.sleep(1)
    log.warning("the supervising process is gone; stopping")
    server.should_exit = True


class _RunningWorker:
    """SAQ workers (the main queue's and the billing batches') running as tasks of this
    process, with their queue connection."""

    def __init__(self, handle: QueueHandle, workers: list[Worker[Any]], runtime: Octane) -> None:
        self.handle = handle
        self.workers = workers
        self.tasks = [asyncio.create_task(worker.start()) for worker in workers]
        # Whatever fell due while no worker ran (or a killed worker left half done) is
        # done now, not at the next sweep: the database says what is due.
        self.catch_up = asyncio.create_task(catch_up(runtime.plugins))

    async def stop(self) -> None:
        # Setting the worker's event ends start(), which stops the worker; jobs still
        # running are cancelled and SAQ retries them later (they are idempotent).
        self.catch_up.cancel()
        for worker in self.workers:
            if worker.event is not None:
                worker.event.set()
        for task in self.tasks:
            try:
                await asyncio.wait_for(task, timeout=15)
            except (TimeoutError, asyncio.CancelledError, Exception):
                task.cancel()
        await self.handle.aclose()


async def _start_worker(runtime: Octane) -> _RunningWorker:
    handle = await connect_queue(runtime.config.redis_url, runtime.config.data_path())
    runtime.state["queue"] = handle.queue
    specs = [job for _, job in runtime.plugins.call_registration("register_jobs")]
    plugin_jobs = [(job.name, job.function) for job in specs]
    plugin_crons = [
        CronJob(job.function, cron=job.cron, timeout=job.timeout, retries=job.retries)
        for job in specs
        if job.cron
    ]
    context = {
        "octane": runtime,
        "queue": handle.queue,
        "batch_queue": handle.batch_queue,
        "sweepers": [lifecycle_sweeper],
    }
    worker = make_worker(
        handle.queue,
        concurrency=runtime.config.worker.concurrency,
        context=context,
        functions=[("accrue_revenue", accrue_revenue), *LIFECYCLE_JOBS, *plugin_jobs],
        cron_jobs=[
            CronJob(accrue_revenue, cron="0 * * * *", timeout=900, retries=3),
            *plugin_crons,
        ],
        sweep_seconds=runtime.config.worker.sweep_seconds,
    )
    batches = make_worker(
        handle.batch_queue,
        concurrency=runtime.config.worker.batch_concurrency,
        context=context,
        functions=BATCH_JOBS,
        sweep_seconds=None,
    )
    return _RunningWorker(handle, [worker, batches], runtime)


async def run_serve(config: OctaneConfig, *, host: str, port: int) -> int:
    """Web + worker + embedded Redis (unless ``redis_url`` is set) in this process."""
    _configure_logging(config)
    runtime = await start_octane(config, run_migrations=True)
    worker = await _start_worker(runtime)
    server = _server(runtime, host, port)
    print(f"Octane is serving on http://{host}:{port}/portal/ (Ctrl+C to stop)", flush=True)
    try:
        await server.serve()
    finally:
        await worker.stop()
        await runtime.close()
    return 0


async def run_web(
    config: OctaneConfig,
    *,
    host: str,
    port: int,
    sock: socket.socket | None = None,
    supervisor: int | None = None,
) -> int:
    """A web process only (API and portal); pair it with ``octane worker`` processes.

    With ``sock`` (``octane web --processes N``) it serves that listening socket, one of
    several on the port, and it stops once its ``supervisor`` (a process id) is gone.
    """
    _configure_logging(config)
    runtime = await start_octane(config)
    handle = await connect_queue(config.redis_url, config.data_path())
    runtime.state["queue"] = handle.queue
    server = _server(runtime, host, port)
    watch = None
    if supervisor is not None:
        watch = asyncio.create_task(_stop_when_orphaned(server, supervisor))
    try:
        await server.serve(sockets=None if sock is None else [sock])
    finally:
        if watch is not None:
            watch.cancel()
        await handle.aclose()
        await runtime.close()
    return 0


async def run_worker_process(config: OctaneConfig) -> int:
    """A worker process: runs queued jobs and the periodic sweep until SIGINT/SIGTERM."""
    _configure_logging(config)
    runtime = await start_octane(config)
    worker = await _start_worker(runtime)
    stop = asyncio.Event()
    _stop_on_signals(stop.set)
    log.info("worker started (concurrency %s)", config.worker.concurrency)
    try:
        await stop.wait()
    finally:
        await worker.stop()
        await runtime.close()
    return 0
