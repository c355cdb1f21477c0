"""Many rows in one statement inside the current transaction, on SQLite and PostgreSQL.

The ORM writes one statement per row; a billing run writes tens of thousands of rows
(invoice updates, lines, ledger entries). On SQLite every helper is one ``executemany``
(one statement per row, but in-process and in one transaction). On PostgreSQL each
statement is a round trip and a plan, so the rows travel together instead:

* :func:`insert_rows`: binary ``COPY`` (``copy_records_to_table``), or an
  ``INSERT ... SELECT FROM unnest(...) ON CONFLICT ...`` when conflicts must be skipped
  (``COPY`` has no ``ON CONFLICT``);
* :func:`update_rows`: one ``UPDATE ... FROM unnest(...)``, each row matched on its key
  and guard columns.

Must run inside a transaction opened with
:func:`~octane.core.store.engine.write_transaction`, whose connection it uses. Columns
are ``(name, PostgreSQL type)`` pairs; the types cast the unnest arrays (``json`` columns
travel as text).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from piccolo.columns import Column
from piccolo.columns.combination import WhereRaw
from piccolo.engine.postgres import PostgresEngine

from octane.core.store.engine import current_engine

__all__ = ["among", "insert_rows", "one_of", "update_rows"]


def one_of(column: Column, values: Sequence[str]) -> WhereRaw:
    """``column IN (values)`` for a where clause, for a batch's thousand ids: one array
    parameter on PostgreSQL (``= ANY($1)``; with ``is_in`` a batch's draft-invoice query
    took about 40 ms at 10,000 invoices and the ORM converted each value), a plain list
    on SQLite."""
    name = f'"{column._meta.table._meta.tablename}"."{column._meta.db_column_name}"'
    if not values:
        return WhereRaw("1 = 0")
    if isinstance(current_engine(), PostgresEngine):
        return WhereRaw(f"{name} = ANY({{}}::varchar[])", list(values))
    return WhereRaw(f"{name} IN ({', '.join('{}' for _ in values)})", *values)


def among(column: str, ids: Sequence[str] | None) -> tuple[str, list[Any]]:
    """`` AND <column> IN ids`` for a raw query, with its arguments: one array parameter on
    PostgreSQL, as :func:`one_of`; nothing at all when ``ids`` is None."""
    if ids is None:
        return "", []
    if isinstance(current_engine(), PostgresEngine):
        return f" AND {column} = ANY({{}}::varchar[])", [list(ids)]
    return f" AND {column} IN ({', '.join('{}' for _ in ids) or 'NULL'})", list(ids)


def _transaction() -> Any:
    transaction = current_engine().current_transaction.get()
    if transaction is None:
        raise RuntimeError("batch writes must run inside write_transaction()")
    return transaction


def _unnest(columns: Sequence[tuple[str, str]]) -> tuple[str, list[str]]:
    """``unnest($1::t1[], ...) AS u(c1, ...)`` and the expression reading each column."""
    arrays = ", ".join(
        f"${n}::{'text' if kind == 'json' else kind}[]"
        for n, (_, kind) in enumerate(columns, start=1)
    )
    aliases = ", ".join(f"c{n}" for n in range(1, len(columns) + 1))
    values = [
        f"u.c{n}::json" if kind == "json" else f"u.c{n}"
        for n, (_, kind) in enumerate(columns, start=1)
    ]
    return f"unnest({arrays}) AS u({aliases})", values


def _by_column(rows: Sequence[Sequence[Any]]) -> list[list[Any]]:
    return [list(column) for column in zip(*rows, strict=True)]


async def insert_rows(
    table: str,
    columns: Sequence[tuple[str, str]],
    rows: Sequence[Sequence[Any]],
    *,
    on_conflict: str = "",
) -> None:
    """Insert many rows in the current transaction. ``on_conflict`` (e.g.
    ``"(cycle) DO NOTHING"``) is appended as ``ON CONFLICT ...``."""
    if not rows:
        return
    names = ", ".join(f'"{name}"' for name, _ in columns)
    transaction = _transaction()
    if isinstance(current_engine(), PostgresEngine):
        connection = transaction.connection
        if not on_conflict:
            await connection.copy_records_to_table(
                table, records=rows, columns=[name for name, _ in columns]
            )
            return
        source, values = _unnest(columns)
        await connection.execute(
            f'INSERT INTO "{table}" ({names}) SELECT {", ".join(values)} FROM {source} '
            f"ON CONFLICT {on_conflict}",
            *_by_column(rows),
        )
        return
    marks = ", ".join("?" for _ in columns)
    conflict = f" ON CONFLICT {on_conflict}" if on_conflict else ""
    await transaction.connection.executemany(
        f'INSERT INTO "{table}" ({names}) VALUES ({marks}){conflict}', rows
    )


async def update_rows(
    table: str,
    values: Sequence[tuple[str, str]],
    match: Sequence[tuple[str, str]],
    rows: Sequence[Sequence[Any]],
    *,
    where: str = "",
) -> None:
    """Set ``values`` on the row matching ``match`` (the key, then guard columns whose
    stored value must equal the row's) for each row: ``(*values, *match)``. ``where`` is
    one more condition on the table's own columns (e.g. ``"status = 'draft'"``). A row
    that matches nothing changes nothing, as a guarded ``UPDATE``."""
    if not rows:
        return
    transaction = _transaction()
    extra = f" AND ({where})" if where else ""
    if isinstance(current_engine(), PostgresEngine):
        source, read = _unnest([*values, *match])
        sets = ", ".join(f'"{name}" = {read[n]}' for n, (name, _) in enumerate(values))
        matches = " AND ".join(
            f't."{name}" = {read[len(values) + n]}' for n, (name, _) in enumerate(match)
        )
        await transaction.connection.execute(
            f'UPDATE "{table}" AS t SET {sets} FROM {source} WHERE {matches}{extra}',
            *_by_column(rows),
        )
        return
    sets = ", ".join(f'"{name}" = ?' for name, _ in values)
    matches = " AND ".join(f'"{name}" = ?' for name, _ in match)
    await transaction.connection.executemany(
        f'UPDATE "{table}" SET {sets} WHERE {matches}{extra}', rows
    )
