"""Job functions and the SAQ worker that runs them.

Jobs only *trigger* work; the database says what is due. The sweep runs every
``worker.sweep_seconds`` (a minute by default) and calls every registered sweeper
(each re-derives its due work from the database), so a lost or failed job delays work
but never skips it. The lifecycle registers its sweepers here as it is built; plugins
add jobs through the ``register_jobs`` hook.

The sweep is not a SAQ cron job: SAQ enqueues a cron job's next run only once the
previous one has left the queue, and moves scheduled jobs to the queue once a second,
so a sweep due every second ran every two (measured). Each worker runs its own sweep
loop instead (:func:`sweep_every`, on the wall clock's multiples of the interval, as
the cron job did), and the workers of a queue take turns through a key in Redis: one
sweep per interval for the whole fleet, whichever worker is up.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

from saq import CronJob, Worker
from saq.job import Job
from saq.queue.base import Queue

from octane.core.queue import job_options

__all__ = [
    "SWEEPERS",
    "Sweeper",
    "accrue_revenue",
    "enqueue_unique",
    "make_worker",
    "ping",
    "sweep",
    "sweep_every",
]

log = logging.getLogger("octane.jobs")

#: A sweeper receives the worker context and returns how much due work it found.
Sweeper = Callable[[dict[str, Any]], Awaitable[int]]

#: Sweepers run by :func:`sweep`, in order.
SWEEPERS: list[Sweeper] = []


async def ping(ctx: dict[str, Any], *, value: str = "pong") -> str:
    """Answer ``value``: proves a worker is alive and the queue round-trips."""
    return value


async def accrue_revenue(ctx: dict[str, Any]) -> int:
    """Hourly: record in the ledger the revenue accrued since the last run, per open cycle.

    Idempotent: a repeated or concurrent run writes nothing new (see octane.core.ledger).
    """
    from octane.core.accrual import accrue_open_cycles

    return await accrue_open_cycles(ctx["octane"].plugins)


async def sweep(ctx: dict[str, Any]) -> int:
    """Run every sweeper; one failing sweeper does not stop the others."""
    found = 0
    for sweeper in [*SWEEPERS, *ctx.get("sweepers", ())]:
        try:
            found += await sweeper(ctx)
        except Exception:
            log.exception("sweeper %s failed; the next sweep tries again", sweeper)
    return found


#: A sweep running longer than this is cancelled (and logged); the next one starts over.
SWEEP_TIMEOUT = 300.0


async def _take_turn(queue: Queue, seconds: float, token: str) -> bool:
    """Whether this worker sweeps now: the first worker to ask in an interval gets the
    turn (a Redis key living for 90% of the interval, so it is gone by the next multiple
    even between machines whose clocks differ a little). Without Redis every worker
    sweeps."""
    redis = getattr(queue, "redis", None)
    if redis is None:
        return True
    key = f"octane:{queue.name}:sweep-turn"
    return bool(await redis.set(key, token, nx=True, px=max(1, int(seconds * 900))))


def _until_boundary(seconds: float, *, after: float = 0.0) -> float:
    """Seconds from now to the first multiple of ``seconds`` of the wall clock that is at
    least ``after`` seconds away (as cron runs a per-minute job on each minute)."""
    now = time.time()
    target = now + after
    return math.ceil(target / seconds) * seconds - now


async def sweep_every(
    ctx: dict[str, Any], queue: Queue, seconds: float, stop: asyncio.Event | None = None
) -> None:
    """Run :func:`sweep` every ``seconds`` until ``stop`` is set (or cancelled), on the
    wall clock's multiples of ``seconds`` (every minute on the minute by default, like the
    cron job it replaces), taking turns with the other workers of the queue: they wake up
    together and the first takes the turn. The first sweep comes at least one interval
    after the start (a worker starting up does what is due at once, see
    ``octane.core.lifecycle_jobs.catch_up``). A sweep that overruns its interval is
    followed by the next one on the next multiple."""
    stop = stop or asyncio.Event()
    token = uuid.uuid4().hex
    delay = _until_boundary(seconds, after=seconds)
    while not await _stopped(stop, delay):
        try:
            if await _take_turn(queue, seconds, token):
                await asyncio.wait_for(sweep(ctx), timeout=SWEEP_TIMEOUT)
        except asyncio.CancelledError:
            raise
        except Exception:
            if stop.is_set():  # stopping: the queue or the database may be gone already
                return
            log.exception("the sweep failed; the next one tries again")
        delay = _until_boundary(seconds, after=0.001)


async def _stopped(stop: asyncio.Event, delay: float) -> bool:
    """Wait ``delay`` seconds, or less if ``stop`` is set; whether it is."""
    try:
        await asyncio.wait_for(stop.wait(), timeout=delay)
    except TimeoutError:
        return False
    return True


def make_worker(
    queue: Queue,
    *,
    concurrency: int = 10,
    context: Mapping[str, Any] | None = None,
    functions: Iterable[tuple[str, Callable[..., Awaitable[Any]]]] = (),
    cron_jobs: Iterable[CronJob[Any]] = (),
    sweep_seconds: float | None = 60,
) -> Worker[Any]:
    """A SAQ worker with Octane's jobs, extra ``functions`` and ``context`` in every job's ctx.

    ``functions`` are ``(name, function)`` pairs: jobs are enqueued by that name
    (plugin jobs by their namespaced ``JobSpec.name``, e.g. ``stripe:sync``). The worker
    runs the sweep every ``sweep_seconds`` (:func:`sweep_every`; ``None``: never) while
    it runs; ``sweep`` is also a job, to be enqueued for a sweep now.

    The worker installs no signal handlers of its own: the process that runs it
    (``octane serve`` or ``octane worker``) stops it, so it can share the process
    with a web server.
    """
    extra = dict(context or {})

    sweeping: list[asyncio.Task[None]] = []

    async def startup(ctx: dict[str, Any]) -> None:
        ctx.update(extra)
        if sweep_seconds:
            # The worker's event is set when it is asked to stop: the loop stops at once,
            # not after the grace period that running jobs get.
            loop = sweep_every(ctx, queue, sweep_seconds, worker.event)
            sweeping.append(asyncio.create_task(loop))

    async def shutdown(ctx: dict[str, Any]) -> None:
        for task in sweeping:
            task.cancel()
        await asyncio.gather(*sweeping, return_exceptions=True)
        sweeping.clear()

    worker: Worker[Any] = Worker(
        queue,
        functions=[("ping", ping), ("sweep", sweep), *functions],
        concurrency=concurrency,
        cron_jobs=list(cron_jobs),
        startup=startup,
        shutdown=shutdown,
        # Running jobs get a moment to finish; SAQ's sleeping upkeep tasks always use all
        # of it (and zero makes SAQ log an unretrieved CancelledError), so keep it short.
        shutdown_grace_period_s=3,
        dequeue_timeout=1.0,  # wake up each second, so a stop is noticed promptly
    )
    worker.SIGNALS = []
    return worker


async def enqueue_unique(
    queue: Queue,
    function: str,
    *,
    key: str,
    job_timeout: int = 60,
    retries: int = 5,
    **kwargs: Any,
) -> Job | None:
    """Enqueue with the money-job options; None when a job with this key is already pending."""
    return await queue.enqueue(
        function, **job_options(key=key, timeout=job_timeout, retries=retries), **kwargs
    )
