"""``executemany`` inside the current transaction, on SQLite and PostgreSQL alike.

The ORM writes one statement per row; a billing run writes tens of thousands of rows
(invoice updates, lines, ledger entries). SQL is written with ``?`` placeholders and
turned into ``$1, $2...`` for PostgreSQL. Must run inside a transaction opened with
:func:`~octane.core.store.engine.write_transaction`, whose connection it uses.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from piccolo.engine.postgres import PostgresEngine

from octane.core.store.engine import current_engine

__all__ = ["execute_many", "insert_rows"]

_MARK = re.compile(r"\?")


def _numbered(sql: str) -> str:
    counter = iter(range(1, 10_000))
    return _MARK.sub(lambda _: f"${next(counter)}", sql)


async def execute_many(sql: str, rows: Sequence[Sequence[Any]]) -> None:
    if not rows:
        return
    engine = current_engine()
    transaction = engine.current_transaction.get()
    if transaction is None:
        raise RuntimeError("execute_many must run inside write_transaction()")
    if isinstance(engine, PostgresEngine):
        await transaction.connection.executemany(_numbered(sql), rows)
    else:
        await transaction.connection.executemany(sql, rows)


async def insert_rows(
    table: str, columns: Sequence[tuple[str, str]], rows: Sequence[Sequence[Any]]
) -> None:
    """Insert many rows in the current transaction. ``columns`` are ``(name, PostgreSQL
    type)`` pairs: on PostgreSQL the rows travel as one array per column in a single
    ``INSERT ... SELECT FROM unnest(...)`` (several times faster than one statement per
    row); on SQLite they go through ``executemany``."""
    if not rows:
        return
    names = ", ".join(f'"{name}"' for name, _ in columns)
    engine = current_engine()
    transaction = engine.current_transaction.get()
    if transaction is None:
        raise RuntimeError("insert_rows must run inside write_transaction()")
    if isinstance(engine, PostgresEngine):
        arrays = ", ".join(
            f"${n}::{'text' if kind == 'json' else kind}[]"
            for n, (_, kind) in enumerate(columns, start=1)
        )
        values = ", ".join(
            f"u.c{n}::json" if kind == "json" else f"u.c{n}"
            for n, (_, kind) in enumerate(columns, start=1)
        )
        aliases = ", ".join(f"c{n}" for n in range(1, len(columns) + 1))
        await transaction.connection.execute(
            f'INSERT INTO "{table}" ({names}) SELECT {values} '
            f"FROM unnest({arrays}) AS u({aliases})",
            *[list(column) for column in zip(*rows, strict=True)],
        )
        return
    marks = ", ".join("?" for _ in columns)
    await transaction.connection.executemany(
        f'INSERT INTO "{table}" ({names}) VALUES ({marks})', rows
    )
