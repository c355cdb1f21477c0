"""The web app alone, for browser tests: ``python -m tests.e2e.server PORT``.

Configured by ``OCTANE_*`` environment variables (the database URL, the data folder,
the secret key, plain-HTTP cookies); migrates the database, then serves until killed.
No queue and no worker: the portal's actions run their work inline.
"""

from __future__ import annotations

import asyncio
import sys

import uvicorn

from octane.core.config import load_config
from octane.core.runtime import start_octane
from octane.web.app import create_app


async def main(port: int) -> None:
    runtime = await start_octane(load_config(), use_entry_points=False, run_migrations=True)
    config = uvicorn.Config(
        create_app(runtime), host="127.0.0.1", port=port, log_level="warning", lifespan="on"
    )
    try:
        await uvicorn.Server(config).serve()
    finally:
        await runtime.close()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
