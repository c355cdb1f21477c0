"""One thread that owns one blocking SQLite connection, for the ingestion writes.

Through aiosqlite every statement, fetch and cursor close is a hop to the
connection's thread and back to the event loop; a batch of measurements took a
dozen hops. Here a whole write (begin, checks, insert, commit) is one plain
function run in this thread: one hop per transaction, and the rows never go
through aiosqlite's queues.

SQLite has one writer at a time anyway, so one thread per process loses nothing.
Between processes (``octane web --processes N``), the ingestion writes take turns on
a file lock beside the database (:meth:`SQLiteWriter.run_exclusive`) before they
begin: waiting on SQLite's own lock means its busy handler, which sleeps 1, 2, 5,
10 ms and more between tries, so the waiting process woke up late each time: two
processes ingested no more than one (45,000 measurements/s; 57,000 with the file lock).
Other writers (the worker, the portal) still wait on SQLite's lock, as before.

If the awaiting request is cancelled, the function still runs to its end in the
thread: a write is never left half done, and a client's retry of it is answered as a
duplicate.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

__all__ = ["SQLiteWriter"]

try:
    import fcntl
except ImportError:  # Windows: one web process there, nothing to take turns with
    fcntl = None  # type: ignore[assignment]

T = TypeVar("T")


class SQLiteWriter:
    def __init__(
        self, connect: Callable[[], sqlite3.Connection], *, lock_path: str | None = None
    ) -> None:
        self._connect = connect
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="octane-writer")
        self._connection: sqlite3.Connection | None = None
        self._lock_path = lock_path if fcntl is not None else None
        self._lock_fd: int | None = None

    def _call(self, function: Callable[..., T], args: tuple[Any, ...]) -> T:
        if self._connection is None:
            self._connection = self._connect()
        return function(self._connection, *args)

    def _call_exclusive(self, function: Callable[..., T], args: tuple[Any, ...]) -> T:
        if self._lock_path is None or fcntl is None:
            return self._call(function, args)
        if self._lock_fd is None:
            self._lock_fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(self._lock_fd, fcntl.LOCK_EX)
        try:
            return self._call(function, args)
        finally:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)

    async def run(self, function: Callable[..., T], *args: Any) -> T:
        """``function(connection, *args)`` in the writer thread."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._call, function, args)

    async def run_exclusive(self, function: Callable[..., T], *args: Any) -> T:
        """Like :meth:`run`, holding the file lock that the other processes' writers take
        too (on POSIX, for a database in a file)."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._call_exclusive, function, args)

    def close(self) -> None:
        """Close the connection and end the thread (waits for a write in progress)."""

        def close_connection() -> None:
            if self._connection is not None:
                self._connection.close()
                self._connection = None
            if self._lock_fd is not None:
                os.close(self._lock_fd)
                self._lock_fd = None

        self._executor.submit(close_connection).result()
        self._executor.shutdown(wait=True)
