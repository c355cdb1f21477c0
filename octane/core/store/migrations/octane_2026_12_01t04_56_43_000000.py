"""Indexes for the payment schedule and the sandbox provider's one charge per key.

Written by hand (Piccolo runs raw steps of a migration before its table changes, so
these live in a migration of their own, after the one creating the columns).
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-12-01T04:56:43:000000"
VERSION = "1.38.0"
DESCRIPTION = "indexes: one sandbox charge per idempotency key, due payments and deliveries"

INDEXES = (
    'CREATE UNIQUE INDEX IF NOT EXISTS "uq_sandbox_charge_key" '
    'ON "sandbox_charge" ("idempotency_key")',
    'CREATE INDEX IF NOT EXISTS "ix_invoice_next_payment" ON "invoice" ("next_payment_at")',
    'CREATE INDEX IF NOT EXISTS "ix_invoice_delivery_next" ON "invoice" ("delivery_next_at")',
    'CREATE INDEX IF NOT EXISTS "ix_payment_attempt_due" '
    'ON "payment_attempt" ("status", "next_retry_at")',
    'CREATE INDEX IF NOT EXISTS "ix_audit_log_target" ON "audit_log" ("vendor", "target")',
)


async def _indexes():
    engine = engine_finder()
    for sql in INDEXES:
        await engine.run_ddl(sql)


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="octane", description=DESCRIPTION)
    manager.add_raw(_indexes)
    return manager
