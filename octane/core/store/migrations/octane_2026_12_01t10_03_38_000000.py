"""Indexes for the portal: sessions and login throttling, and the orders and filters of
its pages, so list pages and the dashboard stay fast with 100,000s of invoices
(``bench/portal.py``). Hand-written, after the migration creating the session tables
(Piccolo runs a migration's raw steps before its table changes)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-12-01T10:03:38:000000"
VERSION = "1.38.0"
DESCRIPTION = "indexes: portal sessions, login failures, invoice and ledger orders for the portal"

INDEXES = (
    'CREATE INDEX IF NOT EXISTS "ix_portal_session_user" ON "portal_session" ("user")',
    'CREATE INDEX IF NOT EXISTS "ix_portal_session_created" ON "portal_session" ("created_at")',
    'CREATE INDEX IF NOT EXISTS "ix_portal_login_failure_key" '
    'ON "portal_login_failure" ("key", "at")',
    # The invoice list, newest first, whole or for one customer.
    'CREATE INDEX IF NOT EXISTS "ix_invoice_vendor_created" ON "invoice" ("vendor", "created_at", "id")',
    'CREATE INDEX IF NOT EXISTS "ix_invoice_customer_created" ON "invoice" ("customer", "created_at")',
    # The dashboard: invoices by status and currency (read from the index alone)...
    'CREATE INDEX IF NOT EXISTS "ix_invoice_status_totals" '
    'ON "invoice" ("vendor", "status", "currency", "total")',
    # ...and accrual per day from the ledger.
    'CREATE INDEX IF NOT EXISTS "ix_ledger_kind_time" ON "ledger_entry" ("vendor", "kind", "effective_at")',
)


async def _indexes():
    engine = engine_finder()
    for sql in INDEXES:
        await engine.run_ddl(sql)


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="octane", description=DESCRIPTION)
    manager.add_raw(_indexes)
    return manager
