"""The job queue on the embedded Redis: round trips, keys, retries, persistence."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from octane.core.jobs import enqueue_unique, make_worker, sweep
from octane.core.queue import EmbeddedRedis, QueueHandle, connect_queue, job_options


@pytest.fixture
async def data_dir() -> AsyncIterator[Path]:
    # A short path: unix socket paths are limited to 108 bytes.
    import tempfile

    with tempfile.TemporaryDirectory(prefix="oq-", dir="/tmp") as folder:
        yield Path(folder)


async def _until_done(handle: QueueHandle, job: Any, seconds: float = 15) -> Any:
    for _ in range(int(seconds * 20)):
        await job.refresh()
        if job.completed or job.status.value in ("complete", "failed", "aborted"):
            return job
        await asyncio.sleep(0.05)
    raise AssertionError(f"job {job.key} did not finish: {job.status}")


async def test_ping_round_trip_and_keys_dedupe_while_pending(data_dir: Path) -> None:
    handle = await connect_queue(None, data_dir)
    try:
        first = await enqueue_unique(handle.queue, "ping", key="ping:1", value="hello")
        again = await enqueue_unique(handle.queue, "ping", key="ping:1", value="hello")
        assert first is not None and again is None  # same key while pending: stored once
        worker = make_worker(handle.queue, concurrency=4)
        task = asyncio.create_task(worker.start())
        done = await _until_done(handle, first)
        assert done.result == "hello"
        await worker.stop()
        task.cancel()
    finally:
        await handle.aclose()


async def test_a_failing_job_is_retried_with_backoff(data_dir: Path) -> None:
    attempts: list[int] = []

    async def flaky(ctx: dict[str, Any]) -> str:
        attempts.append(1)
        if len(attempts) < 3:
            raise RuntimeError("transient")
        return "finally"

    handle = await connect_queue(None, data_dir)
    try:
        options = job_options(key="flaky:1", retries=5, retry_delay=0.05)
        job = await handle.queue.enqueue("flaky", **options)
        worker = make_worker(handle.queue, functions=[("flaky", flaky)])
        task = asyncio.create_task(worker.start())
        done = await _until_done(handle, job)
        # At least three runs; SAQ's sweeper may add one (at-least-once delivery).
        assert done.result == "finally" and len(attempts) >= 3
        await worker.stop()
        task.cancel()
    finally:
        await handle.aclose()


async def test_queued_jobs_survive_a_restart_of_the_embedded_redis(data_dir: Path) -> None:
    handle = await connect_queue(None, data_dir)
    # With job_options, as every job that must not be lost is enqueued: SAQ's own
    # sweeper may abort a job it sees mid-dequeue, and only retries bring it back.
    job = await handle.queue.enqueue(
        "ping", value="kept", **job_options(key="ping:persist", retry_delay=0.05)
    )
    assert job is not None
    pid = handle.embedded.process.pid if handle.embedded and handle.embedded.process else None
    await handle.aclose()
    assert pid is not None
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # stopped with the handle that started it

    handle = await connect_queue(None, data_dir)
    try:
        worker = make_worker(handle.queue)
        task = asyncio.create_task(worker.start())
        restored = await handle.queue.job(job.key)
        assert restored is not None
        assert (await _until_done(handle, restored)).result == "kept"
        await worker.stop()
        task.cancel()
    finally:
        await handle.aclose()


async def test_a_second_process_reuses_the_running_server(data_dir: Path) -> None:
    owner = EmbeddedRedis(data_dir)
    assert await owner.start() is True
    guest = EmbeddedRedis(data_dir)
    assert await guest.start() is False  # already served: reused, not started twice
    await guest.stop()
    assert owner.process is not None and owner.process.poll() is None
    await owner.stop()


async def test_sweep_runs_every_sweeper_even_if_one_fails() -> None:
    calls: list[str] = []

    async def broken(ctx: dict[str, Any]) -> int:
        raise RuntimeError("boom")

    async def finds_two(ctx: dict[str, Any]) -> int:
        calls.append("ran")
        return 2

    assert await sweep({"sweepers": [broken, finds_two]}) == 2
    assert calls == ["ran"]


async def test_many_jobs_complete(data_dir: Path) -> None:
    handle = await connect_queue(None, data_dir)
    try:
        worker = make_worker(handle.queue, concurrency=10)
        task = asyncio.create_task(worker.start())
        await asyncio.sleep(0.5)  # past SAQ's startup sweep (see octane.core.queue)
        started = asyncio.get_running_loop().time()
        jobs = [
            await handle.queue.enqueue(
                "ping", value=str(i), **job_options(key=f"bulk:{i}", retry_delay=0.05)
            )
            for i in range(200)
        ]
        for job in jobs:
            assert job is not None
            await _until_done(handle, job, seconds=30)
        elapsed = asyncio.get_running_loop().time() - started
        print(f"200 jobs in {elapsed:.2f}s ({200 / elapsed:.0f} jobs/s)")
        await worker.stop()
        task.cancel()
    finally:
        await handle.aclose()
