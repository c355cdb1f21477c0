"""Set-based writes for the ingestion hot path, one transaction per batch.

The ORM issues one statement per call (and, on SQLite, opens a connection per
query), far too slow for thousands of measurements per request. Here a batch is
written with one ``executemany`` (SQLite, inside ``BEGIN IMMEDIATE`` so that the
existence check and the insert see the same state) or one ``INSERT ... SELECT
FROM unnest(...) ON CONFLICT DO NOTHING`` (PostgreSQL). Either way the unique
index on ``(vendor, key)`` is what makes a key stored once.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import aiosqlite
from piccolo.engine.postgres import PostgresEngine
from piccolo.engine.sqlite import SQLiteEngine

from octane.core.store.engine import current_engine
from octane.core.store.sqlite_pool import PooledSQLiteEngine

__all__ = ["MeasurementRow", "insert_measurements"]

#: (vendor, customer, meter, key, value_micros, time, labels json, content_hash, received_at)
MeasurementRow = tuple[str, str, str, str, int, datetime, str, str, datetime]

_COLUMNS = (
    '"vendor", "customer", "meter", "key", "value_micros", "time", "labels", '
    '"content_hash", "received_at", "voided", "correction_reason", "corrected_by"'
)
_CHUNK = 500


async def insert_measurements(
    rows: Sequence[MeasurementRow], vendor_id: str
) -> tuple[set[str], dict[str, str]]:
    """Insert rows whose key is new; return (keys created, {existing key: content hash})."""
    if not rows:
        return set(), {}
    engine = current_engine()
    if isinstance(engine, PostgresEngine):
        return await _postgres(engine, rows, vendor_id)
    assert isinstance(engine, SQLiteEngine)
    return await _sqlite(engine, rows, vendor_id)


async def _sqlite(
    engine: SQLiteEngine, rows: Sequence[MeasurementRow], vendor_id: str
) -> tuple[set[str], dict[str, str]]:
    keys = [row[3] for row in rows]
    borrowed = (
        engine.connection()
        if isinstance(engine, PooledSQLiteEngine)
        else aiosqlite.connect(**engine.connection_kwargs)
    )
    async with borrowed as connection:
        connection.row_factory = None
        await connection.execute("BEGIN IMMEDIATE")
        existing: dict[str, str] = {}
        for start in range(0, len(keys), _CHUNK):
            chunk = keys[start : start + _CHUNK]
            marks = ", ".join("?" for _ in chunk)
            async with connection.execute(
                f'SELECT "key", "content_hash" FROM "measurement" '
                f'WHERE "vendor" = ? AND "key" IN ({marks})',
                (vendor_id, *chunk),
            ) as cursor:
                existing.update({k: h for k, h in await cursor.fetchall()})
        fresh = [(*row, False, "", "") for row in rows if row[3] not in existing]
        await connection.executemany(
            f'INSERT INTO "measurement" ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
            fresh,
        )
        await connection.commit()
    return {row[3] for row in fresh}, existing


async def _postgres(
    engine: PostgresEngine, rows: Sequence[MeasurementRow], vendor_id: str
) -> tuple[set[str], dict[str, str]]:
    columns: list[list[Any]] = [list(column) for column in zip(*rows, strict=True)]
    sql = (
        f'INSERT INTO "measurement" ({_COLUMNS}) '
        "SELECT v, c, m, k, val, t, l::json, h, r, false, '', '' FROM unnest("
        "$1::varchar[], $2::varchar[], $3::varchar[], $4::varchar[], $5::bigint[], "
        "$6::timestamptz[], $7::text[], $8::varchar[], $9::timestamptz[]"
        ") AS u(v, c, m, k, val, t, l, h, r) "
        'ON CONFLICT ("vendor", "key") DO NOTHING RETURNING "key"'
    )
    connection = await engine.pool.acquire() if engine.pool else await engine.get_new_connection()
    try:
        async with connection.transaction():
            created = {record["key"] for record in await connection.fetch(sql, *columns)}
            others = [key for key in columns[3] if key not in created]
            existing: dict[str, str] = {}
            if others:
                records = await connection.fetch(
                    'SELECT "key", "content_hash" FROM "measurement" '
                    'WHERE "vendor" = $1 AND "key" = ANY($2::varchar[])',
                    vendor_id,
                    others,
                )
                existing = {r["key"]: r["content_hash"] for r in records}
    finally:
        if engine.pool:
            await engine.pool.release(connection)
        else:
            await connection.close()
    return created, existing
