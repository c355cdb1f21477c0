"""Pytest fixtures for testing Octane plugins: fresh migrated databases and an SMTP sink.

Load them from your plugin's ``conftest.py``::

    pytest_plugins = ["octane.testing.fixtures"]

- ``db_url``: the URL of a fresh, migrated database for one test (not bound; give it to
  :func:`octane.testing.world.open_world`).
- ``db``: the same, opened and bound to every Octane table for the test.
- ``smtp_sink``: a real SMTP server on loopback keeping what it receives
  (:class:`octane.testing.smtp.SmtpServer`).

A SQLite file by default. With ``OCTANE_TEST_POSTGRES=1`` every test gets its own database
on a throwaway PostgreSQL server started once for the session (``initdb`` and ``pg_ctl``
must be installed), so the same tests prove a plugin on both. The schema is migrated once
per session into a template that each test copies, so a fresh database costs milliseconds.
Needs the ``testing`` extra: ``pip install 'octane-billing[testing]'``.
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
from octane.testing.smtp import SmtpServer

__all__ = ["ON_POSTGRES", "Databases"]

ON_POSTGRES = os.environ.get("OCTANE_TEST_POSTGRES", "") not in ("", "0")
"""Whether this session's databases are on PostgreSQL (``OCTANE_TEST_POSTGRES=1``)."""


class Databases:
    """Hands out fresh migrated databases of the session's kind."""

    def __init__(self, workdir: Path, *, postgres: bool = ON_POSTGRES) -> None:
        self.workdir = workdir
        self.postgres = postgres
        self.server: Any = None
        self.template: str | None = None

    def start(self) -> None:
        if self.postgres:
            from octane.testing.postgres import ThrowawayPostgres

            self.server = ThrowawayPostgres()
            self.server.start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()

    async def _ensure_template(self) -> None:
        if self.template is not None:
            return
        if self.postgres:
            name = "octane_template"
            await self.server.acreate_database(name)
            url = self.server.url_for(name)
        else:
            path = self.workdir / "template.sqlite3"
            url = f"sqlite:///{path}"
        engine = await open_engine(url)
        await migrate()
        await close_engine(engine)
        self.template = name if self.postgres else str(path)

    async def fresh_url(self) -> str:
        """A new database, migrated: a copy of the session's template."""
        await self._ensure_template()
        assert self.template is not None
        if self.postgres:
            name = await self.server.acreate_database(template=self.template)
            return str(self.server.url_for(name))
        path = self.workdir / f"{uuid.uuid4().hex}.sqlite3"
        shutil.copyfile(self.template, path)
        return f"sqlite:///{path}"


@pytest.fixture(scope="session")
def databases(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Databases]:
    handle = Databases(tmp_path_factory.mktemp("databases"))
    handle.start()
    yield handle
    handle.stop()


@pytest.fixture
async def db_url(databases: Databases) -> str:
    """The URL of a fresh migrated database (not bound; for open_world and subprocesses)."""
    return await databases.fresh_url()


@pytest.fixture
async def db(databases: Databases) -> AsyncIterator[Any]:
    """A fresh migrated database, bound to every table for the duration of the test."""
    engine = await open_engine(await databases.fresh_url())
    yield engine
    await close_engine(engine)


@pytest.fixture
def smtp_sink() -> Iterator[SmtpServer]:
    """A real SMTP server on loopback that keeps what it receives."""
    server = SmtpServer()
    server.start()
    yield server
    server.stop()
