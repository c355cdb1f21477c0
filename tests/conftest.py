"""Shared fixtures.

``db``, ``db_url`` and ``smtp_sink`` come from :mod:`octane.testing.fixtures`, the same
fixtures plugin authors load: a fresh migrated database per test, a SQLite file by
default, or with ``OCTANE_TEST_POSTGRES=1`` (``make test``'s second pass) a database on a
throwaway PostgreSQL server started for the session.

Tests that use ``db`` are marked ``db`` automatically; ``pytest -m db`` selects them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from octane.core.store.engine import close_engine, open_engine

pytest_plugins = ["octane.testing.fixtures"]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if {"db", "db_url"} & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.db)


def pytest_report_header() -> str:
    from octane.testing.fixtures import ON_POSTGRES

    return f"octane database: {'postgresql (throwaway server)' if ON_POSTGRES else 'sqlite'}"


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
def smtp(smtp_sink: Any) -> Any:
    """A real SMTP server on loopback that keeps what it receives (octane.testing.smtp)."""
    return smtp_sink
