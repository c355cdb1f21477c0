"""A small partial index over corrections only, so a billing run can ask "which customers
have corrections in this period?" without reading their measurements (hand-written:
partial indexes are not declarable through the ORM)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-12-01T05:40:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "partial index over corrections by vendor and time"


async def _index():
    await engine_finder().run_ddl(
        'CREATE INDEX IF NOT EXISTS "ix_measurement_corrections" '
        'ON "measurement" ("vendor", "time") WHERE "corrects" IS NOT NULL'
    )


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="octane", description=DESCRIPTION)
    manager.add_raw(_index)
    return manager
