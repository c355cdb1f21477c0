"""Browser tests: Playwright driving Debian's Chromium against a real server.

One server process (uvicorn, the real app, a SQLite file) and one headless Chromium
serve the whole session; each test gets its own vendor, user and browser context
(fresh cookies), so tests stay independent and fast. Chromium is Debian's
(``/usr/bin/chromium``, installed by ``.ci/run``); Playwright never downloads a browser.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio

from octane.core.store.engine import close_engine, open_engine
from octane.testing.fake_stripe import FakeStripe
from octane.testing.smtp import SmtpServer

CHROMIUM = os.environ.get("OCTANE_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
ROOT = Path(__file__).resolve().parents[2]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    missing = not Path(CHROMIUM).exists()
    for item in items:
        if "tests/e2e/" in str(item.path) or "tests\\e2e\\" in str(item.path):
            item.add_marker(pytest.mark.browser)
            if missing:
                item.add_marker(
                    pytest.mark.skip(
                        reason=f"Chromium not found at {CHROMIUM}: apt-get install -y chromium "
                        "(.ci/run installs it)"
                    )
                )


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Server:
    def __init__(self, workdir: Path, stripe: FakeStripe, smtp: SmtpServer) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.database_url = f"sqlite:///{workdir / 'e2e.sqlite3'}"
        config = workdir / "octane.toml"
        config.write_text(
            "[plugins]\n"
            'enabled = ["sandbox", "pdf_email", "stripe", "paddle"]\n'
            "[plugins.pdf_email]\n"
            f'smtp_host = "127.0.0.1"\nsmtp_port = {smtp.port}\n'
            'from_address = "billing@e2e.test"\nrender_processes = 1\n'
            "[plugins.stripe]\n"
            f'secret_key = "{stripe.secret_key}"\nconnect_client_id = "{stripe.client_id}"\n'
            f'webhook_secret = "{stripe.webhook_secret}"\napi_base = "{stripe.url}"\n'
        )
        env = {
            **os.environ,
            "OCTANE_CONFIG": str(config),
            "OCTANE_DATA_DIR": str(workdir / "data"),
            "OCTANE_DATABASE_URL": self.database_url,
            "OCTANE_SECRET_KEY": "e2e-secret-key-" + "x" * 32,
            "OCTANE_WEB__COOKIE_SECURE": "false",
            "OCTANE_LOG_LEVEL": "warning",
        }
        self.log = (workdir / "server.log").open("w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.e2e.server", str(self.port)],
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )

    def wait_ready(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited: see {self.log.name}")
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError("the server did not start in time")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()


@pytest.fixture(scope="session")
def e2e_stripe() -> Iterator[FakeStripe]:
    """The local Stripe the e2e server's ``stripe`` plugin talks to."""
    fake = FakeStripe()
    fake.start()
    yield fake
    fake.stop()


@pytest.fixture(scope="session")
def e2e_smtp() -> Iterator[SmtpServer]:
    """The SMTP server the e2e server's ``pdf_email`` plugin sends to."""
    sink = SmtpServer()
    sink.start()
    yield sink
    sink.stop()


@pytest.fixture(scope="session")
def server(
    tmp_path_factory: pytest.TempPathFactory, e2e_stripe: FakeStripe, e2e_smtp: SmtpServer
) -> Iterator[Server]:
    running = Server(tmp_path_factory.mktemp("e2e"), e2e_stripe, e2e_smtp)
    try:
        running.wait_ready()
        yield running
    finally:
        running.stop()


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def browser() -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    if shutil.which(CHROMIUM) is None:
        pytest.skip(f"Chromium not found at {CHROMIUM}")
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield launched
        await launched.close()


@pytest_asyncio.fixture(loop_scope="session")
async def e2e_db(server: Server) -> AsyncIterator[Any]:
    """The server's database, bound in this process to set up data for a test."""
    engine = await open_engine(server.database_url, pool=False)
    yield engine
    await close_engine(engine)


@pytest_asyncio.fixture(loop_scope="session")
async def page(browser: Any, server: Server) -> AsyncIterator[Any]:
    context = await browser.new_context(base_url=server.url)
    context.set_default_timeout(10_000)
    tab = await context.new_page()
    yield tab
    await context.close()
