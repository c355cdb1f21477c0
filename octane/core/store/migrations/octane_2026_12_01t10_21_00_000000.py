"""One account per vendor and provider (hand-written, as the other unique indexes)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-12-01T10:21:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "unique provider account per vendor and provider"


async def _index():
    await engine_finder().run_ddl(
        'CREATE UNIQUE INDEX IF NOT EXISTS "ux_provider_account" '
        'ON "provider_account" ("vendor", "provider")'
    )


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="octane", description=DESCRIPTION)
    manager.add_raw(_index)
    return manager
