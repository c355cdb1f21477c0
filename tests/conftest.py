"""Shared fixtures.

``db`` gives a test its own freshly migrated database and binds every table to it.
By default that is a SQLite file; with ``OCTANE_TEST_POSTGRES=1`` (``make test``'s
second pass) it is a database on a throwaway PostgreSQL server started for the
session. The schema is migrated once per session into a template (a SQLite file
copied per test, or a PostgreSQL template database cloned per test), so each test
starts from the real migrations quickly.

Tests that use ``db`` are marked ``db`` automatically; ``pytest -m db`` selects them.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from octane.core.store.engine import close_engine, open_engine
from octane.core.store.migrate import migrate

ON_POSTGRES = os.environ.get("OCTANE_TEST_POSTGRES", "") not in ("", "0")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if {"db", "db_url"} & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.db)


def pytest_report_header() -> str:
    return f"octane database: {'postgresql (throwaway server)' if ON_POSTGRES else 'sqlite'}"


class _Databases:
    """Hands out fresh migrated databases of the session's kind."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.server: Any = None
        self.template: str | None = None

    def start(self) -> None:
        if ON_POSTGRES:
            from octane.testing.postgres import ThrowawayPostgres

            self.server = ThrowawayPostgres()
            self.server.start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()

    async def _ensure_template(self) -> None:
        if self.template is not None:
            return
        if ON_POSTGRES:
            name = "octane_template"
            await self.server.acreate_database(name)
            url = self.server.url_for(name)
        else:
            path = self.workdir / "template.sqlite3"
            url = f"sqlite:///{path}"
        engine = await open_engine(url)
        await migrate()
        await close_engine(engine)
        self.template = name if ON_POSTGRES else str(path)

    async def fresh_url(self) -> str:
        await self._ensure_template()
        assert self.template is not None
        if ON_POSTGRES:
            name = await self.server.acreate_database(template=self.template)
            return str(self.server.url_for(name))
        path = self.workdir / f"{uuid.uuid4().hex}.sqlite3"
        shutil.copyfile(self.template, path)
        return f"sqlite:///{path}"


@pytest.fixture(scope="session")
def databases(tmp_path_factory: pytest.TempPathFactory) -> Iterator[_Databases]:
    handle = _Databases(tmp_path_factory.mktemp("databases"))
    handle.start()
    yield handle
    handle.stop()


@pytest.fixture
async def db_url(databases: _Databases) -> str:
    """The URL of a fresh migrated database (not bound; for subprocess tests)."""
    return await databases.fresh_url()


@pytest.fixture
async def db(databases: _Databases) -> AsyncIterator[Any]:
    """A fresh migrated database, bound to every table for the duration of the test."""
    engine = await open_engine(await databases.fresh_url())
    yield engine
    await close_engine(engine)


@pytest.fixture
async def api(db_url: str, tmp_path: Path) -> AsyncIterator[Any]:
    """A test client for the whole app on a fresh database (no pool: the client serves the
    app from its own event loop)."""
    from litestar.testing import AsyncTestClient

    from octane.core.clock import SystemClock
    from octane.core.config import load_config
    from octane.core.plugins import load_plugins
    from octane.core.runtime import Octane
    from octane.web.app import create_app

    engine = await open_engine(db_url, pool=False)
    config = load_config(env={"OCTANE_DATA_DIR": str(tmp_path / "data")})
    plugins = load_plugins(["sandbox"], use_entry_points=False)
    runtime = Octane(config=config, plugins=plugins, engine=engine, clock=SystemClock())
    async with AsyncTestClient(app=create_app(runtime)) as client:
        yield client
    await plugins.close()
    await close_engine(engine)


@pytest.fixture
def smtp() -> Iterator[Any]:
    """A real SMTP server on loopback that keeps what it receives (see tests/mail.py)."""
    from tests.mail import SmtpServer

    server = SmtpServer()
    server.start()
    yield server
    server.stop()
