"""Piccolo's app registration for Octane's tables, so Piccolo's migration tooling works.

Developers create a migration after changing :mod:`octane.core.store.tables` with::

    PICCOLO_CONF=octane.core.store.piccolo_conf piccolo migrations new octane --auto
"""

from __future__ import annotations

from pathlib import Path

from piccolo.conf.apps import AppConfig

from octane.core.store.tables import TABLES

__all__ = ["APP_CONFIG"]

APP_CONFIG = AppConfig(
    app_name="octane",
    migrations_folder_path=str(Path(__file__).parent / "migrations"),
    table_classes=list(TABLES),
    migration_dependencies=[],
    commands=[],
)
