"""Set-based writes for the ingestion hot path.

The ORM issues one statement per call, far too slow for thousands of
measurements per request. Here a batch is written with one ``executemany``
(SQLite, inside ``BEGIN IMMEDIATE`` so that the existence check and the insert
see the same state) or one ``INSERT ... SELECT FROM unnest(...) ON CONFLICT DO
NOTHING`` (PostgreSQL). Either way the unique index on ``(vendor, key)`` is what
makes a key stored once.

On SQLite the whole write is one plain function run in the engine's writer thread
(:mod:`octane.core.store.sqlite_writer`), and there is one writer at a time. So
concurrent requests are **group-committed**: batches that arrive while a
transaction is being written wait for the next one, which writes them all and
commits once (with ``synchronous=full`` a commit is an fsync). Each request still
gets its own answer, and a batch in the group sees the rows of the batches before
it (duplicates across concurrent requests are found). If a group fails, its
batches are retried one by one, so one bad batch cannot fail the others.

The **invoiced-cycle fence** is the check, inside the same transaction as the
insert: a row whose time falls in a cycle that is already invoiced is not written
and is reported back with the invoice's number. On SQLite the finalizing
transaction and this one are serialized; on PostgreSQL the customers' cycle rows
are read ``FOR SHARE``, so a finalization in progress is waited for, and a
finalization that starts later waits for this insert to commit before it reads the
usage. Either way a measurement is billed or refused, never stored and then left
out of its invoice.

Rows may repeat a key: fenced rows are set aside first, then the first remaining
row of each key is the one written (later ones are answered from it).
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from piccolo.engine.postgres import PostgresEngine

from octane.core.clock import as_utc
from octane.core.store.engine import current_engine
from octane.core.store.sqlite_pool import PooledSQLiteEngine

__all__ = [
    "SETTLE_AFTER",
    "MeasurementRow",
    "Outcome",
    "insert_measurements",
    "settle",
    "settle_measurements",
]

#: (vendor, customer, meter, key, value_micros, time, labels json, content_hash, received_at)
MeasurementRow = tuple[str, str, str, str, int, datetime, str, str, datetime]

_COLUMNS = (
    '"vendor", "customer", "meter", "key", "value_micros", "time", "labels", '
    '"content_hash", "received_at", "voided", "correction_reason", "corrected_by"'
)
_SQLITE_COLUMNS = _COLUMNS + ', "stage"'
_CHUNK = 500

SETTLE_AFTER = 20_000
"""On SQLite, rows are written at stage 0, outside the usage index, and settled into it
once about this many have gathered: one transaction then writes each index page once,
where a commit per batch wrote about one page per row. 20,000 rows settle in about a
tenth of a second here; reads cover both stages meanwhile."""


#: (keys created, {existing key: content hash}, {index of a row refused by the
#: invoiced-cycle fence: the number of the invoice (or the cycle id if it has none)})
Outcome = tuple[set[str], dict[str, str], dict[int, str]]


def _fenced(rows: Sequence[MeasurementRow], invoiced: Sequence[Sequence[Any]]) -> dict[int, str]:
    """Indexes of the rows whose time falls in one of the invoiced
    ``(customer, start, end, cycle id)``, with that cycle's id."""
    periods: dict[str, list[tuple[datetime, datetime, str]]] = {}
    for customer, start, end, cycle in invoiced:
        periods.setdefault(str(customer), []).append((as_utc(start), as_utc(end), str(cycle)))
    fenced: dict[int, str] = {}
    if not periods:
        return fenced
    for index, row in enumerate(rows):
        for start, end, cycle in periods.get(row[1], ()):
            if start <= row[5] < end:
                fenced[index] = cycle
                break
    return fenced


def _firsts(rows: Sequence[MeasurementRow], fenced: dict[int, str]) -> dict[str, int]:
    """The index of the first row of each key among the rows not fenced."""
    firsts: dict[str, int] = {}
    for index, row in enumerate(rows):
        if row[3] not in firsts and index not in fenced:
            firsts[row[3]] = index
    return firsts


def _numbered(fenced: dict[int, str], numbers: dict[str, str | None]) -> dict[int, str]:
    return {index: numbers.get(cycle) or cycle for index, cycle in fenced.items()}


async def insert_measurements(rows: Sequence[MeasurementRow], vendor_id: str) -> Outcome:
    """Insert the rows whose key is new and whose cycle is not invoiced."""
    if not rows:
        return set(), {}, {}
    engine = current_engine()
    if isinstance(engine, PostgresEngine):
        return await _postgres(engine, rows, vendor_id)
    assert isinstance(engine, PooledSQLiteEngine)
    return await _sqlite(engine, rows, vendor_id)


def _sqlite_time(value: datetime) -> str:
    """A datetime as Piccolo's SQLite adapter stores it (UTC, ``str()``)."""
    return value.isoformat(" ") if value.tzinfo is UTC else str(value.astimezone(UTC))


def _insertable(rows: Sequence[MeasurementRow]) -> list[tuple[Any, ...]]:
    """The rows as bound by the INSERT, datetimes already text. Built in the event loop's
    thread, which has time to spare, rather than in the writer thread, which has none:
    there the adapter Piccolo registers for datetimes is a Python call per value."""
    if not rows:
        return []
    received = _sqlite_time(rows[0][8])
    return [
        (r[0], r[1], r[2], r[3], r[4], _sqlite_time(r[5]), r[6], r[7], received, 0, "", "", 0)
        if r[8] is rows[0][8]
        else (*r[:5], _sqlite_time(r[5]), r[6], r[7], _sqlite_time(r[8]), 0, "", "", 0)
        for r in rows
    ]


#: One batch for the writer thread: (rows, the same rows ready to insert, vendor id).
_Batch = tuple[Sequence[MeasurementRow], list[tuple[Any, ...]], str]


def _write_one(connection: sqlite3.Connection, batch: _Batch) -> Outcome:
    """Check and insert one batch inside the caller's transaction (writer thread)."""
    rows, insertable, vendor_id = batch
    customers = sorted({row[1] for row in rows})
    marks = ", ".join("?" for _ in customers)
    cycles = connection.execute(
        'SELECT "customer", "period_start", "period_end", "id" FROM "billing_cycle" '
        f'WHERE "vendor" = ? AND "state" = \'invoiced\' AND "period_end" > ? '
        f'AND "customer" IN ({marks})',
        (vendor_id, min(row[5] for row in rows), *customers),
    ).fetchall()
    fenced = _fenced(rows, cycles)
    firsts = _firsts(rows, fenced)
    keys = list(firsts)
    existing: dict[str, str] = {}
    for start in range(0, len(keys), _CHUNK):
        chunk = keys[start : start + _CHUNK]
        marks = ", ".join("?" for _ in chunk)
        existing.update(
            connection.execute(
                f'SELECT "key", "content_hash" FROM "measurement" '
                f'WHERE "vendor" = ? AND "key" IN ({marks})',
                (vendor_id, *chunk),
            ).fetchall()
        )
    fresh = [insertable[index] for key, index in firsts.items() if key not in existing]
    connection.executemany(
        f'INSERT INTO "measurement" ({_SQLITE_COLUMNS}) '
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        fresh,
    )
    numbers: dict[str, str | None] = {}
    if fenced:
        cycle_ids = sorted(set(fenced.values()))
        marks = ", ".join("?" for _ in cycle_ids)
        numbers = dict(
            connection.execute(
                f'SELECT "cycle", MAX("number") FROM "invoice" WHERE "cycle" IN ({marks}) '
                'GROUP BY "cycle"',
                cycle_ids,
            ).fetchall()
        )
    return {row[3] for row in fresh}, existing, _numbered(fenced, numbers)


def _write_group(connection: sqlite3.Connection, group: Sequence[_Batch]) -> list[Outcome]:
    """Write batches in one transaction, one commit (writer thread); then settle the
    unsettled rows into the usage index if enough have gathered."""
    connection.execute("BEGIN IMMEDIATE")
    try:
        outcomes = [_write_one(connection, batch) for batch in group]
        connection.execute("COMMIT")
    except BaseException:
        if connection.in_transaction:
            connection.execute("ROLLBACK")
        raise
    settle(connection, at_least=SETTLE_AFTER)
    return outcomes


def settle(connection: sqlite3.Connection, *, at_least: int = 1) -> int:
    """Move the unsettled rows (stage 0) into the usage index, in one transaction, when
    they span at least ``at_least`` ids; the number of rows settled. Idempotent, and safe
    from any process: a row is settled once, by whoever gets the write lock first."""
    low = connection.execute('SELECT MIN("id") FROM "measurement" WHERE "stage" = 0').fetchone()[0]
    if low is None:
        return 0
    high = connection.execute('SELECT MAX("id") FROM "measurement"').fetchone()[0]
    if high - low + 1 < at_least:
        return 0
    connection.execute("BEGIN IMMEDIATE")
    try:
        settled = connection.execute(
            'UPDATE "measurement" SET "stage" = 1 WHERE "stage" = 0'
        ).rowcount
        connection.execute("COMMIT")
    except BaseException:
        if connection.in_transaction:
            connection.execute("ROLLBACK")
        raise
    return int(settled)


async def settle_measurements() -> int:
    """Settle every unsettled measurement now (SQLite; nothing to do on PostgreSQL)."""
    engine = current_engine()
    if not isinstance(engine, PooledSQLiteEngine):
        return 0
    return await engine.writer().run_exclusive(settle)


class _GroupCommitter:
    """Coalesces the batches of concurrent requests into shared transactions."""

    def __init__(self, engine: PooledSQLiteEngine) -> None:
        self.engine = engine
        self.waiting: list[tuple[_Batch, asyncio.Future[Outcome]]] = []
        self.flusher: asyncio.Task[None] | None = None

    async def write(self, batch: _Batch) -> Outcome:
        future: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
        self.waiting.append((batch, future))
        if self.flusher is None or self.flusher.done():
            self.flusher = asyncio.create_task(self._flush())
        return await future

    async def _flush(self) -> None:
        writer = self.engine.writer()
        while self.waiting:
            group, self.waiting = self.waiting, []
            try:
                outcomes = await writer.run_exclusive(_write_group, [batch for batch, _ in group])
            except Exception:
                # Isolate the failure: each batch alone, each answer its own.
                for batch, future in group:
                    try:
                        outcome = (await writer.run_exclusive(_write_group, [batch]))[0]
                    except Exception as exc:
                        if not future.done():
                            future.set_exception(exc)
                    else:
                        if not future.done():
                            future.set_result(outcome)
                continue
            for (_, future), outcome in zip(group, outcomes, strict=True):
                if not future.done():
                    future.set_result(outcome)


async def _sqlite(
    engine: PooledSQLiteEngine, rows: Sequence[MeasurementRow], vendor_id: str
) -> Outcome:
    batch = (rows, _insertable(rows), vendor_id)
    if engine.owns_running_loop():
        committer = engine.extras.get("group_committer")
        if committer is None:
            committer = engine.extras["group_committer"] = _GroupCommitter(engine)
        return await committer.write(batch)
    return (await engine.writer().run_exclusive(_write_group, [batch]))[0]


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
                'SELECT "customer", "period_start", "period_end", "state", "id" '
                'FROM "billing_cycle" WHERE "vendor" = $1 AND "customer" = ANY($2::varchar[]) '
                'AND "period_end" > $3 FOR SHARE',
                vendor_id,
                sorted({row[1] for row in rows}),
                min(row[5] for row in rows),
            )
            fenced = _fenced(
                rows,
                [
                    (c["customer"], c["period_start"], c["period_end"], c["id"])
                    for c in cycles
                    if c["state"] == "invoiced"
                ],
            )
            numbers: dict[str, str | None] = {}
            if fenced:
                records = await connection.fetch(
                    'SELECT "cycle", MAX("number") AS "number" FROM "invoice" '
                    'WHERE "cycle" = ANY($1::varchar[]) GROUP BY "cycle"',
                    sorted(set(fenced.values())),
                )
                numbers = {r["cycle"]: r["number"] for r in records}
            firsts = [rows[index] for index in _firsts(rows, fenced).values()]
            if not firsts:
                return set(), {}, _numbered(fenced, numbers)
            columns: list[list[Any]] = [list(column) for column in zip(*firsts, strict=True)]
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
    return created, existing, _numbered(fenced, numbers)
