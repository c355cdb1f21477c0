"""The web app: health, API-key authentication, error shapes, plugin routes, OpenAPI."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from litestar import get
from litestar.testing import AsyncTestClient

from octane import hookimpl
from octane.core.clock import SystemClock, utc
from octane.core.config import load_config
from octane.core.plugins import load_plugins
from octane.core.runtime import Octane
from octane.core.store.engine import close_engine, open_engine
from octane.core.vendors import create_api_key, create_vendor, revoke_api_key
from octane.web.app import create_app


class WebhookPlugin:
    @hookimpl
    def register_routes(self) -> list[Any]:
        @get("/webhooks/echo/ping", media_type="application/json")
        async def ping() -> dict[str, str]:
            return {"pong": "echo"}

        return [ping]


@pytest.fixture
async def client(db_url: str, tmp_path: Path) -> AsyncIterator[AsyncTestClient[Any]]:
    # The test client serves the app from its own event loop, so no connection pool.
    db = await open_engine(db_url, pool=False)
    config = load_config(env={"OCTANE_DATA_DIR": str(tmp_path / "data")})
    plugins = load_plugins(
        ["echo"], extra_plugins={"echo": WebhookPlugin()}, use_entry_points=False
    )
    runtime = Octane(config=config, plugins=plugins, engine=db, clock=SystemClock())
    async with AsyncTestClient(app=create_app(runtime)) as test_client:
        yield test_client
    await close_engine(db)


async def _key(name: str = "Vendor", test_clock: bool = False) -> tuple[str, str]:
    clock = SystemClock()
    vendor = await create_vendor(
        name=name,
        email="ops@vendor.example",
        clock=clock,
        test_clock_start=utc(2026, 3, 1) if test_clock else None,
    )
    key = await create_api_key(str(vendor["id"]), clock=clock)
    return str(vendor["id"]), key.key


async def test_health(client: AsyncTestClient[Any]) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


async def test_vendor_endpoint_with_a_valid_key(client: AsyncTestClient[Any]) -> None:
    vendor_id, key = await _key(test_clock=True)
    response = await client.get("/api/v1/vendor", headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 200
    body = response.json()
    assert body["id"] == vendor_id
    assert body["test_mode"] is True
    assert body["now"].startswith("2026-03-01T00:00:00")


@pytest.mark.parametrize(
    ("header", "code"),
    [
        (None, "missing_api_key"),
        ("Basic dXNlcjpwYXNz", "invalid_api_key"),
        ("Bearer ", "invalid_api_key"),
        ("Bearer octk_notarealkeyatall", "invalid_api_key"),
    ],
)
async def test_bad_credentials_get_401_with_a_json_error(
    client: AsyncTestClient[Any], header: str | None, code: str
) -> None:
    headers = {"Authorization": header} if header is not None else {}
    response = await client.get("/api/v1/vendor", headers=headers)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == code
    assert response.json()["error"]["message"]
    assert response.headers["www-authenticate"] == "Bearer"


async def test_revoked_key_is_refused(client: AsyncTestClient[Any]) -> None:
    vendor_id, key = await _key()
    auth = {"Authorization": f"Bearer {key}"}
    assert (await client.get("/api/v1/vendor", headers=auth)).status_code == 200
    from octane.core.store.tables import ApiKey

    key_id = (await ApiKey.select(ApiKey.id).where(ApiKey.vendor == vendor_id).first())["id"]
    await revoke_api_key(vendor_id, key_id, clock=SystemClock())
    response = await client.get("/api/v1/vendor", headers=auth)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "revoked_api_key"


async def test_unknown_address_answers_json_404(client: AsyncTestClient[Any]) -> None:
    response = await client.get("/api/v1/nothing-here")
    assert response.status_code == 404
    assert response.json() == {
        "error": {
            "code": "not_found",
            "message": "There is nothing at this address.",
            "field": None,
        }
    }


async def test_wrong_method_answers_json_405(client: AsyncTestClient[Any]) -> None:
    response = await client.delete("/healthz")
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"


async def test_plugin_routes_are_mounted(client: AsyncTestClient[Any]) -> None:
    response = await client.get("/webhooks/echo/ping")
    assert response.json() == {"pong": "echo"}


async def test_portal_asks_for_login_and_schema(client: AsyncTestClient[Any]) -> None:
    page = await client.get("/portal/", follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"].startswith("/portal/login")
    assert "/portal" not in "".join((await client.get("/schema/openapi.json")).json()["paths"])
    schema = await client.get("/schema/openapi.json")
    assert schema.status_code == 200
    assert "/api/v1/vendor" in schema.json()["paths"]
