"""The throwaway PostgreSQL server the suite runs its second pass on."""

from __future__ import annotations

import socket
from pathlib import Path

import asyncpg
import pytest

from octane.testing import postgres
from octane.testing.postgres import PostgresUnavailable, ThrowawayPostgres

pytestmark = pytest.mark.skipif(
    not postgres.postgres_available(), reason="PostgreSQL server binaries are not installed"
)


async def test_databases_are_independent_and_the_server_goes_away() -> None:
    server = ThrowawayPostgres().start()
    root = server.root
    assert root is not None and root.exists()
    try:
        first = await server.acreate_database()
        second = server.create_database()
        for name, value in ((first, 1), (second, 2)):
            connection = await asyncpg.connect(server.url_for(name))
            await connection.execute("CREATE TABLE t (v int)")
            await connection.execute("INSERT INTO t VALUES ($1)", value)
            await connection.close()
        connection = await asyncpg.connect(server.url_for(first))
        assert await connection.fetchval("SELECT sum(v) FROM t") == 1
        await connection.close()
    finally:
        server.stop()
    assert not Path(root).exists()
    with pytest.raises(OSError), socket.create_connection((server.host, server.port), timeout=1):
        pass


def test_missing_binaries_name_the_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(postgres.shutil, "which", lambda name: None)
    monkeypatch.setattr(postgres.glob, "glob", lambda pattern: [])
    with pytest.raises(PostgresUnavailable, match="apt-get install postgresql"):
        ThrowawayPostgres()
