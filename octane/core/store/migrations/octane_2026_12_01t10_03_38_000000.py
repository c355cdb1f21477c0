"""Lookup indexes for portal sessions and login throttling (hand-written, after the
migration creating the tables: Piccolo runs a migration's raw steps before its table
changes)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-12-01T10:03:38:000000"
VERSION = "1.38.0"
DESCRIPTION = "indexes: a user's portal sessions, recent login failures per key"

INDEXES = (
    'CREATE INDEX IF NOT EXISTS "ix_portal_session_user" ON "portal_session" ("user")',
    'CREATE INDEX IF NOT EXISTS "ix_portal_login_failure_key" '
    'ON "portal_login_failure" ("key", "at")',
)


async def _indexes():
    engine = engine_finder()
    for sql in INDEXES:
        await engine.run_ddl(sql)


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="octane", description=DESCRIPTION)
    manager.add_raw(_indexes)
    return manager
