"""The throwaway PostgreSQL server the suite runs its second pass on."""

from __future__ import annotations

import os
import socket
import tempfile
from pathlib import Path

import asyncpg
import pytest

from octane.testing import postgres
from octane.testing.postgres import PostgresUnavailable, ThrowawayPostgres

pytestmark = pytest.mark.skipif(
    not postgres.postgres_available(), reason="PostgreSQL server binaries are not installed"
)


def _accepts_connections(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


async def test_databases_are_independent_and_the_server_goes_away() -> None:
    server = ThrowawayPostgres().start()
    root = server.root
    assert root is not None and root.exists()
    assert server.url_for("x") == f"postgresql://octane@127.0.0.1:{server.port}/x"
    try:
        # Both ways of creating: from inside this running loop, and the sync one.
        first = await server.acreate_database()
        second = server.create_database()
        assert first != second
        for name, value in ((first, 1), (second, 2)):
            connection = await asyncpg.connect(server.url_for(name))
            await connection.execute("CREATE TABLE t (v int)")
            await connection.execute("INSERT INTO t VALUES ($1)", value)
            await connection.close()
        for name, value in ((first, 1), (second, 2)):
            connection = await asyncpg.connect(server.url_for(name))
            assert await connection.fetch("SELECT v FROM t") == [(value,)]
            await connection.close()
    finally:
        server.stop()
    assert server.root is None
    assert not Path(root).exists()
    assert not _accepts_connections(server.host, server.port)


async def test_named_and_template_databases_and_drop() -> None:
    with ThrowawayPostgres() as server:
        template = server.create_database("Template-Db")  # needs quoting in SQL
        connection = await asyncpg.connect(server.url_for(template))
        await connection.execute("CREATE TABLE seeded (v int); INSERT INTO seeded VALUES (7)")
        await connection.close()
        clone = await server.acreate_database(template=template)
        connection = await asyncpg.connect(server.url_for(clone))
        assert await connection.fetchval("SELECT v FROM seeded") == 7
        await connection.close()

        server.drop_database(clone)
        with pytest.raises(asyncpg.InvalidCatalogNameError):
            await asyncpg.connect(server.url_for(clone))
        server.drop_database(clone)  # already gone: not an error


def test_servers_are_independent_and_restartable() -> None:
    with ThrowawayPostgres() as one, ThrowawayPostgres() as two:
        assert one.port != two.port and one.root != two.root
        with pytest.raises(RuntimeError, match="already running"):
            one.start()  # would orphan the running server
        one.stop()
        assert _accepts_connections(two.host, two.port)
        one.start()  # a fresh server after a stop
        assert one.root is not None and _accepts_connections(one.host, one.port)


def test_a_temp_dir_the_server_user_cannot_enter_is_avoided(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # pytest's tmp_path sits under a 0700 folder: as root, `postgres` could not enter it.
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    monkeypatch.setattr(tempfile, "tempdir", str(private))
    with ThrowawayPostgres() as server:
        assert server.root is not None
        if os.geteuid() == 0:
            assert private not in server.root.parents
        assert _accepts_connections(server.host, server.port)


def test_a_failed_start_shows_the_server_log_and_cleans_up() -> None:
    server = ThrowawayPostgres(settings={"max_connections": "-5"})
    with pytest.raises(PostgresUnavailable, match="max_connections") as raised:
        server.start()
    assert "server log" in str(raised.value)
    assert server.root is None


def test_missing_binaries_name_the_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(postgres.shutil, "which", lambda name: None)
    monkeypatch.setattr(postgres.glob, "glob", lambda pattern: [])
    assert not postgres.postgres_available()
    with pytest.raises(PostgresUnavailable, match="apt-get install postgresql"):
        ThrowawayPostgres()
