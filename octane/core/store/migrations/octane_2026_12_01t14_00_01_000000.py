"""The usage index over settled measurements only (SQLite), and the index of the unsettled
ones; see the previous migration for why (hand-written: partial indexes are not
declarable through the ORM)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder
from piccolo.engine.sqlite import SQLiteEngine

ID = "2026-12-01T14:00:01:000000"
VERSION = "1.38.0"
DESCRIPTION = "partial usage index over settled measurements; index of unsettled ones"


async def _indexes():
    engine = engine_finder()
    await engine.run_ddl(
        'CREATE INDEX IF NOT EXISTS "ix_measurement_recent" '
        'ON "measurement" ("id") WHERE "stage" = 0'
    )
    if isinstance(engine, SQLiteEngine):
        await engine.run_ddl('DROP INDEX IF EXISTS "ix_measurement_usage"')
        await engine.run_ddl(
            'CREATE INDEX "ix_measurement_usage" ON "measurement" '
            '("vendor", "customer", "meter", "time") WHERE "stage" = 1'
        )


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="octane", description=DESCRIPTION)
    manager.add_raw(_indexes)
    return manager
