"""A Piccolo SQLite engine that keeps its connections.

Piccolo's SQLite engine opens a new connection (and a new aiosqlite thread) for
every statement outside a transaction, which costs more than most queries
themselves. This engine keeps a few long-lived connections (WAL allows
concurrent readers; the busy timeout queues writers) and hands one to each
statement. Transactions still use Piccolo's own dedicated connection.

A pool belongs to the event loop that first used it; a call from another loop
(a test client's portal thread, say) falls back to a one-off connection.

Every connection this engine opens, pooled, one-off or for a Piccolo transaction,
gets the same pragmas (:meth:`PooledSQLiteEngine.pragmas`): foreign keys on, the
configured ``synchronous`` level, and a page cache large enough for the
measurement indexes. ``synchronous`` decides what a commit survives:

* ``full`` (the default): every commit is fsynced; an acknowledged write survives
  a power cut or an OS crash.
* ``normal``: in WAL mode commits are not fsynced (only checkpoints are); the
  database stays consistent, and an acknowledged write survives a crash of the
  process, but the last commits before a power cut or an OS crash can be lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator
from typing import Any

import aiosqlite
from piccolo.engine.sqlite import SQLiteEngine, dict_factory

from octane.core.store.sqlite_writer import SQLiteWriter

__all__ = ["SYNCHRONOUS_LEVELS", "PooledSQLiteEngine", "connection_pragmas"]

SYNCHRONOUS_LEVELS = ("full", "normal")
#: Page cache per connection, in KiB (a negative ``cache_size`` is KiB). The default
#: 2 MiB cannot hold the measurement indexes' hot pages, and each batch then rereads
#: them from the OS. Allocated as used, so idle readers cost nothing.
CACHE_KIB = 65_536
#: Pages in the WAL before a commit checkpoints it (SQLite's default is 1,000). Batches
#: of measurements touch pages all over the indexes; a larger WAL copies each hot page
#: back to the database once per checkpoint rather than once per few commits.
WAL_AUTOCHECKPOINT_PAGES = 10_000


def connection_pragmas(synchronous: str) -> list[str]:
    """The statements run on every new connection (the ingestion benchmark's raw floor
    runs them too, so that it is measured under the same settings)."""
    if synchronous not in SYNCHRONOUS_LEVELS:
        raise ValueError(f"synchronous: one of {SYNCHRONOUS_LEVELS}, not {synchronous!r}")
    return [
        "PRAGMA foreign_keys = 1",
        f"PRAGMA synchronous = {synchronous.upper()}",
        f"PRAGMA cache_size = -{CACHE_KIB}",
        f"PRAGMA wal_autocheckpoint = {WAL_AUTOCHECKPOINT_PAGES}",
    ]


class PooledSQLiteEngine(SQLiteEngine):
    __slots__ = ("_idle", "_loop", "_opened", "_size", "_writer", "extras", "synchronous")

    def __init__(
        self, path: str, *, size: int = 4, synchronous: str = "full", **connection_kwargs: Any
    ) -> None:
        super().__init__(path=path, **connection_kwargs)
        connection_pragmas(synchronous)  # refuses an unknown level
        self.synchronous = synchronous
        self._writer: SQLiteWriter | None = None
        self._size = size
        self._idle: asyncio.Queue[aiosqlite.Connection] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._opened = 0
        self.extras: dict[str, Any] = {}
        """Per-engine state of other modules (e.g. the ingestion group committer)."""

    def pragmas(self) -> list[str]:
        """The statements run on every new connection."""
        return connection_pragmas(self.synchronous)

    async def open_connection(self) -> aiosqlite.Connection:
        """A new aiosqlite connection with this engine's pragmas (rows as dicts)."""
        pending = aiosqlite.connect(**self.connection_kwargs)
        # A kept connection must not keep the interpreter alive at exit.
        pending._thread.daemon = True
        connection = await pending
        try:
            connection.row_factory = dict_factory  # type: ignore[assignment]
            for pragma in self.pragmas():
                await connection.execute(pragma)
        except BaseException:
            await connection.close()
            raise
        return connection

    def open_sync_connection(self) -> sqlite3.Connection:
        """A new blocking ``sqlite3`` connection with the same pragmas (tuple rows), for
        the thread that writes measurements."""
        connection: sqlite3.Connection = sqlite3.connect(**self.connection_kwargs)
        for pragma in self.pragmas():
            connection.execute(pragma)
        return connection

    def writer(self) -> SQLiteWriter:
        """The thread and connection that write measurements (made on first use)."""
        if self._writer is None:
            in_file = self.path != ":memory:" and not self.path.startswith("file:")
            self._writer = SQLiteWriter(
                self.open_sync_connection, lock_path=f"{self.path}-writer.lock" if in_file else None
            )
        return self._writer

    async def get_connection(self) -> aiosqlite.Connection:
        """The connection of a Piccolo transaction: with the pragmas too."""
        return await self.open_connection()

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
                connection = await self.open_connection()
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
            one_off = await self.open_connection()
            try:
                yield one_off
            finally:
                await one_off.close()
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
        """Close the idle connections and the writer (at shutdown); later use opens new ones."""
        if self._writer is not None:
            writer, self._writer = self._writer, None
            await asyncio.get_running_loop().run_in_executor(None, writer.close)
        while self._idle is not None and not self._idle.empty():
            await self._idle.get_nowait().close()
            self._opened -= 1
