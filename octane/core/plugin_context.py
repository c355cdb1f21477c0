"""What a plugin's action hooks receive about the running Octane: ``context``.

Plugins are modules, and one process may run several Octanes (tests do), so a
plugin keeps nothing about a deployment in module globals. Instead each active
plugin gets one :class:`PluginContext` per running Octane, passed to its action
hooks as the ``context`` argument: its validated config block, the data folder,
the document store, the secret key, and ``state``, a dict for handles it creates lazily
(an HTTP client, a process pool) with :meth:`on_close` to release them when
Octane stops.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from octane.core.documents import DocumentStore

__all__ = ["PluginContext"]


@dataclass
class PluginContext:
    name: str
    """The plugin's name (``pdf_email``)."""
    config: Any
    """The plugin's ``[plugins.<name>]`` block decoded into its schema, or None."""
    data_dir: Path
    """The deployment's data directory (``<data_dir>/templates`` holds vendor overrides)."""
    documents: DocumentStore
    secret_key: str = ""
    """The deployment's secret key: sign state tokens and encrypt stored credentials
    with keys derived from it (never with the key itself, never logged)."""
    state: dict[str, Any] = field(default_factory=dict)
    _closers: list[Callable[[], Any]] = field(default_factory=list)

    def on_close(self, closer: Callable[[], Any]) -> None:
        """Call ``closer`` (sync or async) when this Octane stops."""
        self._closers.append(closer)

    async def close(self) -> None:
        while self._closers:
            result = self._closers.pop()()
            if inspect.isawaitable(result):
                await result
