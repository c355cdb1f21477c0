"""A Piccolo SQLite engine that keeps its connections.

Piccolo's SQLite engine opens a new connection (and a new aiosqlite thread) for
every statement outside a transaction, which costs more than most queries
themselves. This engine keeps a few long-lived connections (WAL allows
concurrent readers; the busy timeout queues writers) and hands one to each
statement. Transactions still use Piccolo's own dedicated connection.

A pool belongs to the event loop that first used it; a call from another loop
(a test client's portal thread, say) falls back to Piccolo's one-off connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator
from typing import Any

import aiosqlite
from piccolo.engine.sqlite import SQLiteEngine, dict_factory

__all__ = ["PooledSQLiteEngine"]


class PooledSQLiteEngine(SQLiteEngine):
    __slots__ = ("_idle", "_loop", "_opened", "_size", "extras")

    def __init__(self, path: str, *, size: int = 4, **connection_kwargs: Any) -> None:
        super().__init__(path=path, **connection_kwargs)
        self._size = size
        self._idle: asyncio.Queue[aiosqlite.Connection] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._opened = 0
        self.extras: dict[str, Any] = {}
        """Per-engine state of other modules (e.g. the ingestion group committer)."""

    def owns_running_loop(self) -> bool:
        """Whether the running event loop is the one this pool serves (or will)."""
        loop = asyncio.get_running_loop()
        return self._loop is None or self._loop is loop

    async def _acquire(self) -> aiosqlite.Connection | None:
        loop = asyncio.get_running_loop()
        if self._loop is None:
            self._loop, self._idle = loop, asyncio.Queue()
        if loop is not self._loop or self._idle is None:
            return None
        if self._idle.empty() and self._opened < self._size:
            self._opened += 1  # counted before the await, so concurrent callers respect size
            try:
                pending = aiosqlite.connect(**self.connection_kwargs)
                # A kept connection must not keep the interpreter alive at exit.
                pending._thread.daemon = True
                connection = await pending
                connection.row_factory = dict_factory  # type: ignore[assignment]
                await connection.execute("PRAGMA foreign_keys = 1")
            except BaseException:
                self._opened -= 1
                raise
            return connection
        return await self._idle.get()

    def _release(self, connection: aiosqlite.Connection) -> None:
        assert self._idle is not None
        self._idle.put_nowait(connection)

    async def _discard(self, connection: aiosqlite.Connection) -> None:
        self._opened -= 1
        with contextlib.suppress(Exception):
            await connection.close()

    @contextlib.asynccontextmanager
    async def connection(self) -> AsyncIterator[aiosqlite.Connection]:
        """Borrow a pooled connection (or a one-off one from another event loop)."""
        pooled = await self._acquire()
        if pooled is None:
            async with aiosqlite.connect(**self.connection_kwargs) as one_off:
                yield one_off
            return
        try:
            yield pooled
        except sqlite3.Error:
            if pooled.in_transaction:
                await pooled.rollback()
            self._release(pooled)
            raise
        except BaseException:
            await self._discard(pooled)  # cancelled mid-statement: state unknown
            raise
        if pooled.in_transaction:
            await pooled.rollback()  # a borrower that forgot to finish: never leak a txn
        self._release(pooled)

    async def _run_in_new_connection(
        self,
        query: str,
        args: list[Any] | None = None,
        query_type: str = "generic",
        table: Any = None,
    ) -> Any:
        async with self.connection() as connection:
            connection.row_factory = dict_factory  # type: ignore[assignment]
            async with connection.execute(query, args or []) as cursor:
                return await cursor.fetchall()

    async def close(self) -> None:
        """Close the idle connections (at shutdown); later use opens one-off connections."""
        while self._idle is not None and not self._idle.empty():
            await self._idle.get_nowait().close()
            self._opened -= 1
