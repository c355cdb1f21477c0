"""One running Octane: its configuration, active plugins, database engine and clock.

The web app, the worker and the CLI all start from :func:`start_octane`, so they
fail the same way on the same bad configuration: plugins are loaded and their
config blocks validated before anything touches the database.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from piccolo.engine.base import Engine

from octane.core.clock import Clock, SystemClock
from octane.core.config import OctaneConfig
from octane.core.documents import FileDocumentStore
from octane.core.plugins import PluginHost, load_plugins
from octane.core.store.engine import close_engine, open_engine
from octane.core.store.migrate import migrate

__all__ = ["Octane", "ensure_secret_key", "start_octane"]


@dataclass
class Octane:
    config: OctaneConfig
    plugins: PluginHost
    engine: Engine  # type: ignore[type-arg]
    clock: Clock = field(default_factory=SystemClock)
    secret_key: str = ""
    state: dict[str, Any] = field(default_factory=dict)
    """Room for the web app and the worker to keep their handles (queue, pools)."""

    def __post_init__(self) -> None:
        data = self.config.data_path()
        self.plugins.bind(data, FileDocumentStore(data / "documents"), self.secret_key)

    async def close(self) -> None:
        await self.plugins.close()
        await close_engine(self.engine)


def ensure_secret_key(config: OctaneConfig) -> str:
    """The configured secret key, or one generated once into ``<data_dir>/secret_key``.

    Generating it keeps the embedded default a one-command start; deployments with
    several machines must configure the same ``secret_key`` everywhere.
    """
    if config.secret_key:
        return config.secret_key
    path: Path = config.data_path() / "secret_key"
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    # Written aside, then linked into place: the file appears whole or not at all, and
    # of several processes starting together on a fresh data directory (two workers)
    # the first link wins and the others read its key (with O_EXCL on the file itself
    # the others crashed, or could read it still empty).
    draft = path.with_name(f".secret_key.{os.getpid()}.{secrets.token_hex(4)}")
    descriptor = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(key)
    try:
        os.link(draft, path)
    except FileExistsError:
        key = path.read_text().strip()
    finally:
        draft.unlink()
    return key


async def start_octane(
    config: OctaneConfig,
    *,
    extra_plugins: Mapping[str, object] | None = None,
    use_entry_points: bool = True,
    run_migrations: bool = False,
    clock: Clock | None = None,
) -> Octane:
    """Validate plugins, open the database (migrating it if asked) and return the runtime."""
    plugins = load_plugins(
        config.plugins.enabled,
        blocks=config.plugins.blocks,
        extra_plugins=extra_plugins,
        use_entry_points=use_entry_points,
    )
    config.data_path().mkdir(parents=True, exist_ok=True)
    engine = await open_engine(
        config.resolved_database_url(), sqlite_synchronous=config.sqlite_synchronous
    )
    if run_migrations:
        await migrate()
    return Octane(
        config=config,
        plugins=plugins,
        engine=engine,
        clock=clock or SystemClock(),
        secret_key=ensure_secret_key(config),
    )
