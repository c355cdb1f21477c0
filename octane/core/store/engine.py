"""Build the database engine from a URL and bind every table to it.

SQLite (the embedded default) is opened in WAL mode with a busy timeout, as the
reliability rules require: readers don't block the writer, and a writer waits for
a lock instead of failing at once. PostgreSQL gets a connection pool.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from piccolo.engine.base import Engine
from piccolo.engine.postgres import PostgresEngine
from piccolo.engine.sqlite import SQLiteEngine, TransactionType

from octane.core.errors import ConfigError
from octane.core.store import piccolo_conf
from octane.core.store.sqlite_pool import PooledSQLiteEngine
from octane.core.store.tables import TABLES

__all__ = [
    "BUSY_TIMEOUT_SECONDS",
    "bind_engine",
    "close_engine",
    "create_engine",
    "current_engine",
    "is_postgres",
    "is_unique_violation",
    "open_engine",
    "sqlite_path",
    "write_transaction",
]

BUSY_TIMEOUT_SECONDS = 30.0

os.environ.setdefault("PICCOLO_CONF", "octane.core.store.piccolo_conf")


def sqlite_path(url: str) -> Path | None:
    """The file path of a ``sqlite:///`` URL, or None for any other URL."""
    if not url.startswith("sqlite:///"):
        return None
    return Path(url[len("sqlite:///") :])


def create_engine(url: str, *, sqlite_synchronous: str = "full") -> Engine:  # type: ignore[type-arg]
    """An engine for ``sqlite:///path`` or ``postgresql://...`` (not yet connected).

    ``sqlite_synchronous`` (``full`` or ``normal``) is SQLite's durability level for
    every connection of the engine; see :mod:`octane.core.store.sqlite_pool`.
    """
    path = sqlite_path(url)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        with sqlite3.connect(path) as connection:
            # WAL is persistent in the file; set it once here rather than per query.
            connection.execute("PRAGMA journal_mode=WAL")
        return PooledSQLiteEngine(
            path=str(path), timeout=BUSY_TIMEOUT_SECONDS, synchronous=sqlite_synchronous
        )
    scheme = urlsplit(url).scheme
    if scheme in ("postgresql", "postgres"):
        return PostgresEngine(config={"dsn": url})
    raise ConfigError(
        f"database_url: unsupported database URL scheme '{scheme}'.",
        field="database_url",
        hint="Use sqlite:///path/to/file.sqlite3 or postgresql://user:pass@host:5432/db",
    )


def bind_engine(engine: Engine) -> None:  # type: ignore[type-arg]
    """Make every Octane table (and Piccolo's migration tooling) use ``engine``."""
    piccolo_conf.DB = engine
    for table in TABLES:
        table._meta.db = engine


def current_engine() -> Engine:  # type: ignore[type-arg]
    return piccolo_conf.DB


def is_postgres(engine: Engine | None = None) -> bool:  # type: ignore[type-arg]
    return (engine or current_engine()).engine_type == "postgres"


async def open_engine(url: str, *, pool: bool = True, sqlite_synchronous: str = "full") -> Engine:  # type: ignore[type-arg]
    """Create and bind the engine for ``url``; for PostgreSQL start its connection pool.

    ``pool=False`` opens a connection per query instead: slower, but usable from any
    event loop (a pool belongs to the loop that created it).
    """
    engine = create_engine(url, sqlite_synchronous=sqlite_synchronous)
    bind_engine(engine)
    if pool and isinstance(engine, PostgresEngine):
        await engine.start_connection_pool(min_size=1, max_size=20)
    return engine


async def close_engine(engine: Engine) -> None:  # type: ignore[type-arg]
    if isinstance(engine, PostgresEngine) and engine.pool is not None:
        await engine.close_connection_pool()
    if isinstance(engine, PooledSQLiteEngine):
        await engine.close()


def is_unique_violation(error: BaseException) -> bool:
    """Whether ``error`` is a unique-index violation, on SQLite or PostgreSQL."""
    import sqlite3

    if isinstance(error, sqlite3.IntegrityError):
        return "UNIQUE" in str(error)
    return type(error).__name__ == "UniqueViolationError"  # asyncpg, imported lazily


def write_transaction() -> Any:
    """A transaction for read-then-write work: ``BEGIN IMMEDIATE`` on SQLite (a deferred
    transaction cannot upgrade its lock and fails instead of waiting), the default on
    PostgreSQL (whose guarded updates serialize on row locks)."""
    engine = current_engine()
    if isinstance(engine, SQLiteEngine):
        return engine.transaction(transaction_type=TransactionType.immediate)
    return engine.transaction()
