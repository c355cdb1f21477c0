"""One outbound message per message id: the guard that keeps a channel from sending
the same message twice (hand-written, as the other unique indexes)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-12-01T10:06:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "unique outbound message id"


async def _index():
    await engine_finder().run_ddl(
        'CREATE UNIQUE INDEX IF NOT EXISTS "ux_outbound_message_id" '
        'ON "outbound_message" ("message_id")'
    )


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="octane", description=DESCRIPTION)
    manager.add_raw(_index)
    return manager
