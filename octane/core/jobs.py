"""Job functions and the SAQ worker that runs them.

Jobs only *trigger* work; the database says what is due. The ``sweep`` cron job
runs every minute and calls every registered sweeper (each re-derives its due work
from the database), so a lost or failed job delays work but never skips it. The
lifecycle registers its sweepers here as it is built; plugins add jobs through the
``register_jobs`` hook.
"""

from __future__ import annotations

import logging
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
    "sweep_cron",
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


def sweep_cron(seconds: int) -> str:
    """A cron expression running every ``seconds`` (to the minute above 60 s)."""
    if seconds < 60:
        return f"* * * * * */{seconds}"
    return f"*/{max(1, seconds // 60)} * * * *"


def make_worker(
    queue: Queue,
    *,
    concurrency: int = 10,
    context: Mapping[str, Any] | None = None,
    functions: Iterable[tuple[str, Callable[..., Awaitable[Any]]]] = (),
    cron_jobs: Iterable[CronJob[Any]] = (),
    sweep_cron: str = "* * * * *",
) -> Worker[Any]:
    """A SAQ worker with Octane's jobs, extra ``functions`` and ``context`` in every job's ctx.

    ``functions`` are ``(name, function)`` pairs: jobs are enqueued by that name
    (plugin jobs by their namespaced ``JobSpec.name``, e.g. ``stripe:sync``).

    The worker installs no signal handlers of its own: the process that runs it
    (``octane serve`` or ``octane worker``) stops it, so it can share the process
    with a web server.
    """
    extra = dict(context or {})

    async def startup(ctx: dict[str, Any]) -> None:
        ctx.update(extra)

    worker: Worker[Any] = Worker(
        queue,
        functions=[("ping", ping), ("sweep", sweep), *functions],
        concurrency=concurrency,
        cron_jobs=[CronJob(sweep, cron=sweep_cron, timeout=300, retries=1), *cron_jobs],
        startup=startup,
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
