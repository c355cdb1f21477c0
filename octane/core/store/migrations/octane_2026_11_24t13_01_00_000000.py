"""Invariants the ORM cannot declare portably: unique indexes and append-only tables.

Written by hand (frozen: it never imports the live table definitions). Unique
indexes are the real deduplication at every layer (ARCHITECTURE.md, "Reliability
rules"); triggers make the revenue ledger and the audit log append-only on both
SQLite and PostgreSQL.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-11-24T13:01:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "unique indexes, lookup indexes, append-only ledger and audit log"

UNIQUE_INDEXES = (
    ("uq_api_key_prefix", "api_key", ("prefix",)),
    ("uq_portal_user_email", "portal_user", ("email",)),
    ("uq_customer_name", "customer", ("vendor", "name")),
    ("uq_meter_name", "meter", ("vendor", "name")),
    ("uq_price_plan_name", "price_plan", ("vendor", "name")),
    ("uq_cycle_period", "billing_cycle", ("subscription", "period_start", "period_end")),
    ("uq_measurement_key", "measurement", ("vendor", "key")),
    ("uq_invoice_period", "invoice", ("subscription", "period_start", "period_end")),
    ("uq_invoice_cycle", "invoice", ("cycle",)),
    ("uq_invoice_number", "invoice", ("vendor", "number")),
    ("uq_invoice_line_position", "invoice_line", ("invoice", "position")),
    ("uq_invoice_sequence", "invoice_sequence", ("vendor", "series")),
    ("uq_coupon_code", "coupon", ("vendor", "code")),
    ("uq_payment_attempt_number", "payment_attempt", ("invoice", "attempt_number")),
    ("uq_payment_attempt_key", "payment_attempt", ("idempotency_key",)),
    ("uq_webhook_event", "webhook_event", ("provider", "event_id")),
)

INDEXES = (
    ("ix_measurement_usage", "measurement", ("vendor", "customer", "meter", "time")),
    ("ix_measurement_corrects", "measurement", ("corrects",)),
    ("ix_cycle_state", "billing_cycle", ("state", "grace_ends_at")),
    ("ix_invoice_status", "invoice", ("vendor", "status")),
    ("ix_ledger_customer", "ledger_entry", ("vendor", "customer", "effective_at")),
    ("ix_ledger_invoice", "ledger_entry", ("invoice",)),
    ("ix_subscription_customer", "subscription", ("vendor", "customer")),
)

APPEND_ONLY = ("ledger_entry", "audit_log")


def _index_sql(name, table, columns, unique):
    kind = "UNIQUE INDEX" if unique else "INDEX"
    cols = ", ".join(f'"{c}"' for c in columns)
    return f'CREATE {kind} IF NOT EXISTS "{name}" ON "{table}" ({cols})'


def _append_only_sql(engine_type, table):
    message = f"{table} is append-only: corrections are new rows"
    if engine_type == "postgres":
        return [
            f"""CREATE OR REPLACE FUNCTION "octane_refuse_{table}_change"() RETURNS trigger AS $$
                BEGIN RAISE EXCEPTION '{message}'; END; $$ LANGUAGE plpgsql""",
            f'''CREATE TRIGGER "{table}_append_only" BEFORE UPDATE OR DELETE ON "{table}"
                FOR EACH ROW EXECUTE FUNCTION "octane_refuse_{table}_change"()''',
        ]
    return [
        f'''CREATE TRIGGER IF NOT EXISTS "{table}_no_update" BEFORE UPDATE ON "{table}"
            BEGIN SELECT RAISE(ABORT, '{message}'); END''',
        f'''CREATE TRIGGER IF NOT EXISTS "{table}_no_delete" BEFORE DELETE ON "{table}"
            BEGIN SELECT RAISE(ABORT, '{message}'); END''',
    ]


async def _apply():
    engine = engine_finder()
    for name, table, columns in UNIQUE_INDEXES:
        await engine.run_ddl(_index_sql(name, table, columns, unique=True))
    for name, table, columns in INDEXES:
        await engine.run_ddl(_index_sql(name, table, columns, unique=False))
    for table in APPEND_ONLY:
        for statement in _append_only_sql(engine.engine_type, table):
            await engine.run_ddl(statement)


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="octane", description=DESCRIPTION)
    manager.add_raw(_apply)
    return manager
