"""Set-based writes for the ingestion hot path.

The ORM issues one statement per call, far too slow for thousands of
measurements per request. Here a batch is written with one ``executemany``
(SQLite, inside ``BEGIN IMMEDIATE`` so that the existence check and the insert
see the same state) or one ``INSERT ... SELECT FROM unnest(...) ON CONFLICT DO
NOTHING`` (PostgreSQL). Either way the unique index on ``(vendor, key)`` is what
makes a key stored once.

SQLite commits are durable (``synchronous=FULL``): each is an fsync, and there
is one writer at a time. So concurrent requests are **group-committed**: batches
that arrive while a transaction is being written wait for the next one, which
writes them all and commits once. Each request still gets its own answer, and a
batch in the group sees the rows of the batches before it (duplicates across
concurrent requests are found). If a group fails, its batches are retried one by
one, so one bad batch cannot fail the others.

The **invoiced-cycle fence** is checked inside the same transaction as the insert:
a row whose time falls in a cycle that is already invoiced is not written (and is
reported back), even if the cycle was invoiced after the request's own check. On
SQLite the finalizing transaction and this one are serialized; on PostgreSQL the
customers' cycle rows are read ``FOR SHARE``, so a finalization in progress is
waited for, and a finalization that starts later waits for this insert to commit
before it reads the usage. Either way a measurement is billed or refused, never
stored and then left out of its invoice.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import aiosqlite
from piccolo.engine.postgres import PostgresEngine
from piccolo.engine.sqlite import SQLiteEngine

from octane.core.clock import as_utc
from octane.core.store.engine import current_engine
from octane.core.store.sqlite_pool import PooledSQLiteEngine

__all__ = ["MeasurementRow", "Outcome", "insert_measurements"]

#: (vendor, customer, meter, key, value_micros, time, labels json, content_hash, received_at)
MeasurementRow = tuple[str, str, str, str, int, datetime, str, str, datetime]

_COLUMNS = (
    '"vendor", "customer", "meter", "key", "value_micros", "time", "labels", '
    '"content_hash", "received_at", "voided", "correction_reason", "corrected_by"'
)
_CHUNK = 500


#: (keys created, {existing key: content hash}, keys refused by the invoiced-cycle fence)
Outcome = tuple[set[str], dict[str, str], set[str]]


def _fenced(rows: Sequence[MeasurementRow], invoiced: Sequence[tuple[Any, Any, Any]]) -> set[str]:
    """Keys of the rows whose time falls in one of the invoiced ``(customer, start, end)``."""
    periods: dict[str, list[tuple[datetime, datetime]]] = {}
    for customer, start, end in invoiced:
        periods.setdefault(str(customer), []).append((as_utc(start), as_utc(end)))
    return {
        row[3]
        for row in rows
        if any(start <= row[5] < end for start, end in periods.get(row[1], ()))
    }


async def insert_measurements(rows: Sequence[MeasurementRow], vendor_id: str) -> Outcome:
    """Insert rows whose key is new and whose cycle is not invoiced."""
    if not rows:
        return set(), {}, set()
    engine = current_engine()
    if isinstance(engine, PostgresEngine):
        return await _postgres(engine, rows, vendor_id)
    assert isinstance(engine, SQLiteEngine)
    return await _sqlite(engine, rows, vendor_id)


async def _write_one(
    connection: aiosqlite.Connection, rows: Sequence[MeasurementRow], vendor_id: str
) -> Outcome:
    """Check and insert one batch inside the caller's transaction."""
    customers = sorted({row[1] for row in rows})
    marks = ", ".join("?" for _ in customers)
    async with connection.execute(
        'SELECT "customer", "period_start", "period_end" FROM "billing_cycle" '
        f'WHERE "vendor" = ? AND "state" = \'invoiced\' AND "period_end" > ? '
        f'AND "customer" IN ({marks})',
        (vendor_id, min(row[5] for row in rows), *customers),
    ) as cursor:
        fenced = _fenced(rows, [tuple(r) for r in await cursor.fetchall()])
    rows = [row for row in rows if row[3] not in fenced]
    keys = [row[3] for row in rows]
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
    return {row[3] for row in fresh}, existing, fenced


async def _write_group(
    engine: SQLiteEngine, group: Sequence[tuple[Sequence[MeasurementRow], str]]
) -> list[Outcome]:
    """Write batches in one transaction, one commit."""
    borrowed = (
        engine.connection()
        if isinstance(engine, PooledSQLiteEngine)
        else aiosqlite.connect(**engine.connection_kwargs)
    )
    async with borrowed as connection:
        connection.row_factory = None
        await connection.execute("BEGIN IMMEDIATE")
        outcomes = [await _write_one(connection, rows, vendor) for rows, vendor in group]
        await connection.commit()
    return outcomes


class _GroupCommitter:
    """Coalesces the batches of concurrent requests into shared transactions."""

    def __init__(self, engine: SQLiteEngine) -> None:
        self.engine = engine
        self.waiting: list[tuple[Sequence[MeasurementRow], str, asyncio.Future[Outcome]]] = []
        self.flusher: asyncio.Task[None] | None = None

    async def write(self, rows: Sequence[MeasurementRow], vendor_id: str) -> Outcome:
        future: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
        self.waiting.append((rows, vendor_id, future))
        if self.flusher is None or self.flusher.done():
            self.flusher = asyncio.create_task(self._flush())
        return await future

    async def _flush(self) -> None:
        while self.waiting:
            group, self.waiting = self.waiting, []
            try:
                outcomes = await _write_group(self.engine, [(r, v) for r, v, _ in group])
            except Exception:
                # Isolate the failure: each batch alone, each answer its own.
                for rows, vendor, future in group:
                    try:
                        outcome = (await _write_group(self.engine, [(rows, vendor)]))[0]
                    except Exception as exc:
                        if not future.done():
                            future.set_exception(exc)
                    else:
                        if not future.done():
                            future.set_result(outcome)
                continue
            for (_, _, future), outcome in zip(group, outcomes, strict=True):
                if not future.done():
                    future.set_result(outcome)


async def _sqlite(engine: SQLiteEngine, rows: Sequence[MeasurementRow], vendor_id: str) -> Outcome:
    if isinstance(engine, PooledSQLiteEngine) and engine.owns_running_loop():
        committer = engine.extras.get("group_committer")
        if committer is None:
            committer = engine.extras["group_committer"] = _GroupCommitter(engine)
        return await committer.write(rows, vendor_id)
    return (await _write_group(engine, [(rows, vendor_id)]))[0]


async def _postgres(
    engine: PostgresEngine, rows: Sequence[MeasurementRow], vendor_id: str
) -> Outcome:
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
            cycles = await connection.fetch(
                'SELECT "customer", "period_start", "period_end", "state" FROM "billing_cycle" '
                'WHERE "vendor" = $1 AND "customer" = ANY($2::varchar[]) AND "period_end" > $3 '
                "FOR SHARE",
                vendor_id,
                sorted({row[1] for row in rows}),
                min(row[5] for row in rows),
            )
            fenced = _fenced(
                rows,
                [
                    (c["customer"], c["period_start"], c["period_end"])
                    for c in cycles
                    if c["state"] == "invoiced"
                ],
            )
            rows = [row for row in rows if row[3] not in fenced]
            if not rows:
                return set(), {}, fenced
            columns: list[list[Any]] = [list(column) for column in zip(*rows, strict=True)]
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
    return created, existing, fenced
