"""The module Piccolo's ``engine_finder`` imports (``PICCOLO_CONF``).

``DB`` is replaced at start-up by :func:`octane.core.store.engine.bind_engine` with
the engine built from Octane's configuration. The default below only serves
Piccolo's command line when a developer generates migrations.
"""

from __future__ import annotations

import os
from typing import Any

from piccolo.conf.apps import AppRegistry
from piccolo.engine.base import Engine
from piccolo.engine.sqlite import SQLiteEngine

__all__ = ["APP_REGISTRY", "DB"]

DB: Engine[Any] = SQLiteEngine(path=os.environ.get("OCTANE_PICCOLO_DEV_DB", "octane-dev.sqlite3"))

APP_REGISTRY = AppRegistry(apps=["octane.core.store.piccolo_app"])
