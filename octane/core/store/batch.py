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

__all__ = ["execute_many"]

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
