"""The measurement stage column (its indexes come in the next migration, which runs
after this one has added the column: a migration's raw SQL runs before its columns).

Measurements are written at stage 0 and settled into the usage index in bulk.

The usage index (vendor, customer, meter, time) places each of a batch's customers at a
different page, so a 1,000-row commit dirtied about 1,000 of its pages. On SQLite it
becomes a partial index over settled rows (stage = 1): a batch is inserted at stage 0,
outside it, and the writer settles thousands of rows at once, writing each index page
once per settlement instead of once per commit. ``ix_measurement_recent`` finds the
unsettled rows. PostgreSQL inserts settled rows (stage 1) and keeps its full index.
(Hand-written: partial indexes are not declarable through the ORM.)
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import Integer
from piccolo.columns.indexes import IndexMethod

ID = "2026-12-01T14:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "measurement stage: settled into the usage index in bulk"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="octane", description=DESCRIPTION)
    manager.add_column(
        table_class_name="Measurement",
        tablename="measurement",
        column_name="stage",
        db_column_name="stage",
        column_class_name="Integer",
        column_class=Integer,
        params={
            "default": 1,
            "null": False,
            "primary_key": False,
            "unique": False,
            "index": False,
            "index_method": IndexMethod.btree,
            "choices": None,
            "db_column_name": None,
            "secret": False,
        },
        schema=None,
    )
    return manager
