"""SQLite durability and the ingestion fast path: every connection gets the configured
``synchronous`` level, and the fast parser accepts only what the careful one accepts."""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec
import pytest

from octane.core import metering
from octane.core.config import load_config
from octane.core.errors import ConfigError, OctaneError
from octane.core.store.engine import close_engine, open_engine
from octane.core.store.sqlite_pool import PooledSQLiteEngine

NOW = datetime(2026, 3, 10, 12, tzinfo=UTC)


def test_sqlite_synchronous_is_a_validated_setting(tmp_path: Path) -> None:
    assert load_config(env={"OCTANE_DATA_DIR": str(tmp_path)}).sqlite_synchronous == "full"
    config = load_config(env={"OCTANE_SQLITE_SYNCHRONOUS": "normal"})
    assert config.sqlite_synchronous == "normal"
    with pytest.raises(ConfigError) as caught:
        load_config(env={"OCTANE_SQLITE_SYNCHRONOUS": "off"})
    assert "sqlite_synchronous" in str(caught.value) and "off" in str(caught.value)


async def _synchronous(connection: Any) -> int:
    row = await (await connection.execute("PRAGMA synchronous")).fetchone()
    return int(row["synchronous"])


@pytest.mark.parametrize(("level", "code"), [("full", 2), ("normal", 1)])
async def test_every_sqlite_connection_gets_the_configured_level(
    tmp_path: Path, level: str, code: int
) -> None:
    engine = await open_engine(f"sqlite:///{tmp_path / 'db.sqlite3'}", sqlite_synchronous=level)
    assert isinstance(engine, PooledSQLiteEngine)
    try:
        seen = []
        async with engine.connection() as pooled:  # a pooled connection
            seen.append(await _synchronous(pooled))
        async with engine.transaction() as transaction:  # Piccolo's own connection
            seen.append(await _synchronous(transaction.connection))
        seen.append(
            await engine.writer().run(
                lambda c: c.execute("PRAGMA synchronous").fetchone()[0]  # the writer thread
            )
        )
        other_loop: list[Any] = []

        async def one_off() -> None:  # another event loop: a one-off connection
            async with engine.connection() as connection:
                other_loop.append(await _synchronous(connection))

        thread = threading.Thread(target=lambda: asyncio.run(one_off()))
        thread.start()
        thread.join()
        assert [*seen, *other_loop] == [code] * 4
        journal = await engine._run_in_new_connection("PRAGMA journal_mode")
        assert journal[0]["journal_mode"] == "wal"
    finally:
        await close_engine(engine)


def _both(raw: Any) -> tuple[Any, Any]:
    """(fast result, careful result) for one raw item; errors as (code, field)."""
    try:
        careful: Any = metering._parse_item(raw, 0, NOW)
        careful = (
            careful.key,
            careful.meter,
            careful.customer,
            careful.micros,
            careful.time,
            careful.labels,
        )
    except OctaneError as error:
        careful = (error.code, error.field)
    try:
        wire = msgspec.convert(raw, metering._Wire)
    except msgspec.ValidationError:
        return None, careful
    fast = metering._fast_item(wire, 0, NOW)
    if fast is None:
        return None, careful
    return (fast.key, fast.meter, fast.customer, fast.micros, fast.time, fast.labels), careful


BASE = {"id": "e1", "meter": "m", "customer": "c", "value": "1", "time": "2026-03-01T00:00:00Z"}


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"value": 7},
        {"value": -7},
        {"value": "-0"},
        {"value": "007.100"},
        {"value": "0.000001"},
        {"value": "0.0000001"},
        {"value": " 5 "},
        {"value": "1e3"},
        {"value": "5."},
        {"value": ".5"},
        {"value": "999999999999.999999"},
        {"value": "9999999999999"},
        {"value": 2**61},
        {"value": 1.5},
        {"value": True},
        {"value": None},
        {"value": "NaN"},
        {"time": "2026-03-01T00:00:00+02:00"},
        {"time": "2026-03-01t00:00:00z"},
        {"time": "2026-03-01 00:00:00+00:00"},
        {"time": "2026-03-01T00:00:00"},
        {"time": "2026-03-10T12:05:00Z"},
        {"time": "2026-03-10T12:05:01Z"},
        {"labels": {"a": "b"}},
        {"labels": {"a": 1}},
        {"labels": {"a": "x" * 501}},
        {"labels": {f"k{i}": "v" for i in range(51)}},
        {"labels": None},
        {"id": None},
        {"id": "has space"},
        {"id": "x" * 256},
        {"meter": ""},
        {"customer": 5},
        {"extra": 1},
    ],
)
def test_the_fast_parser_agrees_with_the_careful_one(changes: dict[str, Any]) -> None:
    fast, careful = _both({**BASE, **changes})
    if fast is not None:
        if changes.get("id", "") is None:  # a generated id differs per call
            fast, careful = fast[1:], careful[1:]
        assert fast == careful


def test_plain_items_take_the_fast_path() -> None:
    for changes in (
        {},
        {"value": 7},
        {"labels": {"a": "b"}},
        {"time": "2026-03-01T01:00:00+01:00"},
    ):
        fast, careful = _both({**BASE, **changes})
        assert fast is not None and fast == careful
