"""One thread that owns one blocking SQLite connection, for the ingestion writes.

Through aiosqlite every statement, fetch and cursor close is a hop to the
connection's thread and back to the event loop; a batch of measurements took a
dozen hops. Here a whole write (begin, checks, insert, commit) is one plain
function run in this thread: one hop per transaction, and the rows never go
through aiosqlite's queues.

SQLite has one writer at a time anyway, so one thread per process loses nothing;
other processes wait on SQLite's lock (the busy timeout). If the awaiting request
is cancelled, the function still runs to its end in the thread: a write is never
left half done, and a client's retry of it is answered as a duplicate.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

__all__ = ["SQLiteWriter"]

T = TypeVar("T")


class SQLiteWriter:
    def __init__(self, connect: Callable[[], sqlite3.Connection]) -> None:
        self._connect = connect
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="octane-writer")
        self._connection: sqlite3.Connection | None = None

    def _call(self, function: Callable[..., T], args: tuple[Any, ...]) -> T:
        if self._connection is None:
            self._connection = self._connect()
        return function(self._connection, *args)

    async def run(self, function: Callable[..., T], *args: Any) -> T:
        """``function(connection, *args)`` in the writer thread."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._call, function, args)

    def close(self) -> None:
        """Close the connection and end the thread (waits for a write in progress)."""

        def close_connection() -> None:
            if self._connection is not None:
                self._connection.close()
                self._connection = None

        self._executor.submit(close_connection).result()
        self._executor.shutdown(wait=True)
