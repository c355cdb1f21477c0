"""Apply Octane's migrations (Piccolo's migration runner, driven programmatically)."""

from __future__ import annotations

import contextlib
import io

from piccolo.apps.migrations.commands.forwards import run_forwards
from piccolo.apps.migrations.tables import Migration

from octane.core.errors import OctaneError
from octane.core.store.engine import current_engine

__all__ = ["applied_migrations", "migrate"]

APP_NAME = "octane"


async def applied_migrations() -> list[str]:
    """The ids of the migrations already applied, oldest first."""
    Migration._meta.db = current_engine()
    if not await Migration.table_exists():
        return []
    rows = await Migration.select(Migration.name).where(Migration.app_name == APP_NAME)
    return sorted(str(row["name"]) for row in rows)


async def migrate(*, quiet: bool = True) -> list[str]:
    """Bring the bound database up to date; return the ids of the newly applied migrations.

    Safe to run again: applied migrations are skipped.
    """
    Migration._meta.db = current_engine()
    before = set(await applied_migrations())
    output = io.StringIO()
    with contextlib.redirect_stdout(output) if quiet else contextlib.nullcontext():
        result = await run_forwards(app_name=APP_NAME, migration_id="all")
    if not result.success:
        raise OctaneError(
            f"Migrating the database failed: {result.message}\n{output.getvalue()}",
            code="migration_failed",
        )
    return [name for name in await applied_migrations() if name not in before]
