"""The public metering API through HTTP: customers, meters, plans, subscriptions,
measurements (idempotent, batched, late, corrected) and usage. Runs on SQLite and
PostgreSQL."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from octane.core.clock import utc
from octane.core.ids import new_id
from octane.core.store import bulk
from octane.core.store.tables import BillingCycle, Invoice, Measurement, Subscription
from tests.helpers import new_vendor

NOW = utc(2026, 2, 10, 12)  # the vendor's test clock: in the February cycle


@pytest.fixture(autouse=True, params=["settled at once", "left unsettled"])
def settling(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test twice: with SQLite's fresh rows settled into the usage index after each
    write, and with them all left unsettled (stage 0), so reads must find both."""
    monkeypatch.setattr(bulk, "SETTLE_AFTER", 1 if request.param == "settled at once" else 10**9)


async def setup_catalog(api: Any, headers: dict[str, str]) -> None:
    """A customer on a monthly plan with a graduated, a unique-count and a max meter."""
    for meter in (
        {"name": "api_calls", "aggregation": "sum", "unit": "calls"},
        {"name": "active_users", "aggregation": "unique_count", "unique_label": "user_id"},
        {"name": "storage_gb", "aggregation": "max", "unit": "GB"},
        {"name": "temperature", "aggregation": "last"},
        {"name": "logins", "aggregation": "count"},
    ):
        response = await api.post("/api/v1/meters", json=meter, headers=headers)
        assert response.status_code == 201, response.text
    plan = {
        "name": "growth",
        "currency": "USD",
        "period": "month",
        "fixed_fee": "10.00",
        "components": [
            {
                "meter": "api_calls",
                "model": "graduated",
                "tiers": [
                    {"up_to": "1000", "unit_price": "0.01"},
                    {"up_to": None, "unit_price": "0.001"},
                ],
            },
            {"meter": "active_users", "model": "per_unit", "unit_price": "2"},
            {
                "meter": "storage_gb",
                "model": "package",
                "package_size": "10",
                "package_price": "1.50",
            },
        ],
    }
    response = await api.post("/api/v1/price-plans", json=plan, headers=headers)
    assert response.status_code == 201, response.text
    customer = {
        "name": "acme",
        "currency": "USD",
        "email": "ap@acme.example",
        "timezone": "UTC",
        "address": {"country": "US"},
    }
    assert (await api.post("/api/v1/customers", json=customer, headers=headers)).status_code == 201
    subscription = {"price_plan": "growth", "starts_at": "2026-01-01T00:00:00Z"}
    response = await api.post(
        "/api/v1/customers/acme/subscription", json=subscription, headers=headers
    )
    assert response.status_code == 201, response.text


def measurement(
    key: str,
    value: Any = "1",
    *,
    meter: str = "api_calls",
    time: str = "2026-02-05T10:00:00Z",
    **extra: Any,
) -> dict[str, Any]:
    return {"id": key, "meter": meter, "customer": "acme", "value": value, "time": time, **extra}


def error_of(response: Any) -> dict[str, Any]:
    return response.json()["error"]  # type: ignore[no-any-return]


# ------------------------------------------------------------------------ customers


async def test_customer_lifecycle_and_errors(api: Any) -> None:
    headers = await new_vendor()
    body = {
        "name": "acme",
        "currency": "usd",
        "timezone": "Europe/Berlin",
        "tax_rate": "19",
        "invoice_settings": {"invoice_grace_period": "P3D"},
    }
    created = await api.post("/api/v1/customers", json=body, headers=headers)
    assert created.status_code == 201
    assert created.json()["currency"] == "USD" and created.json()["tax_rate"] == "19"

    duplicate = await api.post("/api/v1/customers", json=body, headers=headers)
    assert duplicate.status_code == 409 and error_of(duplicate)["code"] == "duplicate_name"

    patched = await api.patch(
        "/api/v1/customers/acme", json={"display_name": "Acme GmbH"}, headers=headers
    )
    assert patched.status_code == 200 and patched.json()["display_name"] == "Acme GmbH"
    assert (await api.get("/api/v1/customers/acme", headers=headers)).json()["display_name"] == (
        "Acme GmbH"
    )

    for bad, field in (
        ({"name": "x", "currency": "EURO"}, "currency"),
        ({"name": "x", "currency": "EUR", "timezone": "Mars/Olympus"}, "timezone"),
        ({"name": "has space", "currency": "EUR"}, "name"),
        ({"name": "x", "currency": "EUR", "email": "nope"}, "email"),
        ({"name": "x", "currency": "EUR", "tax_rate": "101"}, "tax_rate"),
        (
            {"name": "x", "currency": "EUR", "invoice_settings": {"grace": "P1D"}},
            "invoice_settings.grace",
        ),
        (
            {"name": "x", "currency": "EUR", "invoice_settings": {"invoice_grace_period": "-P1D"}},
            "invoice_settings.invoice_grace_period",
        ),
        ({"name": "x"}, "currency"),
    ):
        response = await api.post("/api/v1/customers", json=bad, headers=headers)
        assert response.status_code == 422, (bad, response.text)
        assert error_of(response)["field"] == field, (bad, response.text)
    float_rate = await api.post(
        "/api/v1/customers",
        json={"name": "x", "currency": "EUR", "tax_rate": 19.5},
        headers=headers,
    )
    assert float_rate.status_code == 422
    assert error_of(float_rate) | {"message": ""} == {
        "code": "float_not_allowed",
        "field": "tax_rate",
        "message": "",
    }


async def test_customer_list_pagination_and_search(api: Any) -> None:
    headers = await new_vendor()
    for name in ("alpha", "bravo", "charlie", "delta"):
        await api.post("/api/v1/customers", json={"name": name, "currency": "EUR"}, headers=headers)
    page = (await api.get("/api/v1/customers?limit=3", headers=headers)).json()
    assert [c["name"] for c in page["data"]] == ["alpha", "bravo", "charlie"]
    assert page["has_more"] is True
    rest = (
        await api.get("/api/v1/customers?limit=3&starting_after=charlie", headers=headers)
    ).json()
    assert [c["name"] for c in rest["data"]] == ["delta"] and rest["has_more"] is False
    found = (await api.get("/api/v1/customers?search=rav", headers=headers)).json()
    assert [c["name"] for c in found["data"]] == ["bravo"]
    too_small = await api.get("/api/v1/customers?limit=0", headers=headers)
    assert too_small.status_code == 422 and error_of(too_small)["field"] == "limit"


async def test_another_vendors_resources_are_404(api: Any) -> None:
    first = await new_vendor("A", test_clock=NOW)
    second = await new_vendor("B", test_clock=NOW)
    await setup_catalog(api, first)
    for path in (
        "/api/v1/customers/acme",
        "/api/v1/customers/acme/subscription",
        "/api/v1/customers/acme/usage",
    ):
        response = await api.get(path, headers=second)
        assert response.status_code == 404, path
        assert "acme" in error_of(response)["message"]
    assert (await api.get("/api/v1/customers", headers=second)).json()["data"] == []
    assert (await api.get("/api/v1/meters", headers=second)).json() == []
    sneaky = await api.post("/api/v1/measurements", json=measurement("x"), headers=second)
    assert sneaky.status_code == 422
    assert error_of(sneaky)["code"] == "unknown_meter"
    patch = await api.patch("/api/v1/customers/acme", json={"display_name": "mine"}, headers=second)
    assert patch.status_code == 404


# ------------------------------------------------------------------- meters, plans


async def test_meter_and_plan_validation(api: Any) -> None:
    headers = await new_vendor()
    await api.post("/api/v1/meters", json={"name": "calls", "aggregation": "sum"}, headers=headers)
    for bad, field in (
        ({"name": "calls", "aggregation": "sum"}, "name"),
        ({"name": "users", "aggregation": "unique_count"}, "unique_label"),
        ({"name": "x", "aggregation": "median"}, "aggregation"),
    ):
        response = await api.post("/api/v1/meters", json=bad, headers=headers)
        assert response.status_code in (409, 422), response.text
        assert error_of(response)["field"] == field

    def plan(**component: Any) -> dict[str, Any]:
        return {
            "name": "p",
            "currency": "USD",
            "period": "month",
            "components": [{"meter": "calls", **component}],
        }

    cases = [
        (plan(model="tiered"), "components[0].model", "invalid_price"),
        (
            plan(
                model="graduated",
                tiers=[
                    {"up_to": "100", "unit_price": "1"},
                    {"up_to": "50", "unit_price": "1"},
                    {"up_to": None, "unit_price": "1"},
                ],
            ),
            "components[0].tiers[1].up_to",
            "invalid_price",
        ),
        (plan(model="per_unit", unit_price=0.1), "components.0.unit_price", "float_not_allowed"),
        (plan(model="per_unit", unit_price="abc"), "components[0].unit_price", "invalid_decimal"),
        (
            {
                **plan(model="per_unit", unit_price="1"),
                "components": [{"meter": "nope", "model": "per_unit", "unit_price": "1"}],
            },
            "components[0].meter",
            "unknown_meter",
        ),
        (
            {**plan(model="per_unit", unit_price="1"), "currency": "ABC"},
            "currency",
            "invalid_currency",
        ),
    ]
    for body, field, code in cases:
        response = await api.post("/api/v1/price-plans", json=body, headers=headers)
        assert response.status_code == 422, response.text
        assert (error_of(response)["field"], error_of(response)["code"]) == (
            field.replace("components.0", "components[0]"),
            code,
        ), response.text


async def test_subscription_shows_its_current_cycle(api: Any) -> None:
    headers = await new_vendor(test_clock=NOW)
    await setup_catalog(api, headers)
    shown = (await api.get("/api/v1/customers/acme/subscription", headers=headers)).json()
    assert shown["price_plan"] == "growth"
    assert shown["current_cycle"]["period_start"].startswith("2026-02-01T00:00:00")
    assert shown["current_cycle"]["period_end"].startswith("2026-03-01T00:00:00")
    assert shown["current_cycle"]["state"] == "open"
    again = await api.post(
        "/api/v1/customers/acme/subscription",
        json={"price_plan": "growth", "starts_at": "2026-01-01T00:00:00Z"},
        headers=headers,
    )
    assert again.status_code == 409

    await api.post("/api/v1/customers", json={"name": "euro", "currency": "EUR"}, headers=headers)
    mismatch = await api.post(
        "/api/v1/customers/euro/subscription",
        json={"price_plan": "growth", "starts_at": "2026-01-01T00:00:00Z"},
        headers=headers,
    )
    assert mismatch.status_code == 422
    assert error_of(mismatch)["code"] == "currency_mismatch"
    assert error_of(mismatch)["field"] == "price_plan"


# --------------------------------------------------------------------- measurements


async def test_idempotent_single_measurements(api: Any) -> None:
    headers = await new_vendor(test_clock=NOW)
    await setup_catalog(api, headers)
    first = await api.post("/api/v1/measurements", json=measurement("evt-1", "5"), headers=headers)
    assert first.status_code == 201 and first.json() == {"id": "evt-1", "status": "created"}
    replay = await api.post(
        "/api/v1/measurements", json=measurement("evt-1", "5.000"), headers=headers
    )
    assert replay.status_code == 200 and replay.json()["status"] == "duplicate"
    conflict = await api.post(
        "/api/v1/measurements", json=measurement("evt-1", "6"), headers=headers
    )
    assert conflict.status_code == 409
    assert error_of(conflict)["code"] == "idempotency_conflict"
    assert "evt-1" in error_of(conflict)["message"]
    generated = await api.post(
        "/api/v1/measurements",
        json={k: v for k, v in measurement("x").items() if k != "id"},
        headers=headers,
    )
    assert generated.status_code == 201 and generated.json()["id"].startswith("msr_")
    assert await Measurement.count() == 2
    newline = await api.post(
        "/api/v1/measurements", json=measurement("evt-2\n", "5"), headers=headers
    )
    assert newline.status_code == 422 and error_of(newline)["field"] == "id"
    assert await Measurement.count() == 2


@pytest.mark.parametrize(
    ("changes", "status", "code", "field"),
    [
        ({"meter": "nope"}, 422, "unknown_meter", "meter"),
        ({"customer": "nobody"}, 422, "unknown_customer", "customer"),
        ({"time": "2026-02-05T10:00:00"}, 422, "invalid_time", "time"),
        ({"time": "2026-02-05"}, 422, "invalid_time", "time"),
        ({"time": "yesterday"}, 422, "invalid_time", "time"),
        ({"time": "2026-02-10T12:06:00Z"}, 422, "time_in_future", "time"),
        ({"value": "NaN"}, 422, "invalid_decimal", "value"),
        ({"value": "Infinity"}, 422, "invalid_decimal", "value"),
        ({"value": "ten"}, 422, "invalid_decimal", "value"),
        ({"value": 1.5}, 422, "float_not_allowed", "value"),
        ({"value": "0.0000001"}, 422, "too_many_decimals", "value"),
        ({"value": "-3"}, 422, "negative_value", "value"),
        ({"labels": {"user_id": 7}}, 422, "validation_error", "labels.user_id"),
        ({"id": "has space"}, 422, "validation_error", "id"),
    ],
)
async def test_bad_measurements_are_refused_with_field_errors(
    api: Any, changes: dict[str, Any], status: int, code: str, field: str
) -> None:
    headers = await new_vendor(test_clock=NOW)
    await setup_catalog(api, headers)
    response = await api.post(
        "/api/v1/measurements", json={**measurement("e"), **changes}, headers=headers
    )
    assert response.status_code == status, response.text
    assert error_of(response)["field"] == field, response.text
    if code != "validation_error":
        assert error_of(response)["code"] == code, response.text
    assert await Measurement.count() == 0


async def test_last_meter_accepts_negative_readings(api: Any) -> None:
    headers = await new_vendor(test_clock=NOW)
    await setup_catalog(api, headers)
    response = await api.post(
        "/api/v1/measurements", json=measurement("t1", "-4.5", meter="temperature"), headers=headers
    )
    assert response.status_code == 201


async def test_batch_stores_valid_items_and_reports_the_others(api: Any) -> None:
    headers = await new_vendor(test_clock=NOW)
    await setup_catalog(api, headers)
    await api.post("/api/v1/measurements", json=measurement("seen", "1"), headers=headers)
    items = [
        measurement("b1", "10"),
        measurement("b2", 1.5),
        measurement("seen", "1"),  # duplicate of an earlier request
        measurement("seen", "2"),  # conflict with it
        measurement("b3", "3", meter="ghost"),
        measurement("b1", "10"),  # duplicate inside the batch
        {"meter": "api_calls"},
        "not an object",
        measurement("b4", "4", time="2026-02-05T11:00:00+01:00"),
    ]
    response = await api.post(
        "/api/v1/measurements/batch", json={"measurements": items}, headers=headers
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["accepted"] == 2 and body["duplicates"] == 2
    assert [(e["index"], e["code"], e["field"]) for e in body["errors"]] == [
        (1, "float_not_allowed", "value"),
        (3, "idempotency_conflict", "id"),
        (4, "unknown_meter", "meter"),
        (6, "validation_error", "value"),
        (7, "validation_error", None),
    ]
    assert await Measurement.count() == 3


async def test_oversize_batch_is_refused(api: Any) -> None:
    headers = await new_vendor(test_clock=NOW)
    await setup_catalog(api, headers)
    items = [measurement(f"k{i}") for i in range(10_001)]
    response = await api.post(
        "/api/v1/measurements/batch", json={"measurements": items}, headers=headers
    )
    assert response.status_code == 422
    assert error_of(response)["field"] == "measurements"
    assert await Measurement.count() == 0


async def test_concurrent_duplicate_batches_store_each_id_once(api: Any) -> None:
    headers = await new_vendor(test_clock=NOW)
    await setup_catalog(api, headers)
    items = [measurement(f"c{i}", str(i)) for i in range(300)]
    responses = await asyncio.gather(
        *[
            api.post("/api/v1/measurements/batch", json={"measurements": items}, headers=headers)
            for _ in range(5)
        ]
    )
    bodies = [r.json() for r in responses]
    assert sum(b["accepted"] for b in bodies) == 300
    assert sum(b["duplicates"] for b in bodies) == 4 * 300
    assert all(b["errors"] == [] for b in bodies)
    assert await Measurement.count() == 300


# ------------------------------------------------------------- late data, corrections


async def _invoice_january(headers: dict[str, str], state: str) -> str:
    """Put the January cycle in ``state`` with an invoice (what the lifecycle will do)."""
    vendor_id = headers["X-Vendor-Id"]
    subscription = await Subscription.select().first()
    assert subscription is not None
    cycle_id = new_id("cyc")
    await BillingCycle.insert(
        BillingCycle(
            id=cycle_id,
            vendor=vendor_id,
            customer=subscription["customer"],
            subscription=subscription["id"],
            period_start=utc(2026, 1, 1),
            period_end=utc(2026, 2, 1),
            state=state,
            created_at=NOW,
        )
    )
    if state == "invoiced":
        await Invoice.insert(
            Invoice(
                id=new_id("inv"),
                vendor=vendor_id,
                customer=subscription["customer"],
                subscription=subscription["id"],
                cycle=cycle_id,
                number="ACME-2026-000001",
                status="finalized",
                currency="USD",
                period_start=utc(2026, 1, 1),
                period_end=utc(2026, 2, 1),
                created_at=NOW,
            )
        )
    return cycle_id


async def test_late_data_is_accepted_in_grace_and_refused_after_invoicing(api: Any) -> None:
    headers = await new_vendor(test_clock=NOW)
    await setup_catalog(api, headers)
    cycle_id = await _invoice_january(headers, "grace")
    late = await api.post(
        "/api/v1/measurements",
        json=measurement("late-1", "7", time="2026-01-31T23:59:59Z"),
        headers=headers,
    )
    assert late.status_code == 201
    usage = (
        await api.get(f"/api/v1/customers/acme/usage?cycle={cycle_id}", headers=headers)
    ).json()
    assert usage["meters"][0]["quantity"] == "7"

    await BillingCycle.update({BillingCycle.state: "invoiced"}).where(BillingCycle.id == cycle_id)
    await Invoice.insert(
        Invoice(
            id=new_id("inv"),
            vendor=headers["X-Vendor-Id"],
            customer=usage and (await Subscription.select().first())["customer"],
            subscription=(await Subscription.select().first())["id"],
            cycle=cycle_id,
            number="ACME-2026-000001",
            status="finalized",
            currency="USD",
            period_start=utc(2026, 1, 1),
            period_end=utc(2026, 2, 1),
            created_at=NOW,
        )
    )
    refused = await api.post(
        "/api/v1/measurements",
        json=measurement("late-2", "7", time="2026-01-15T00:00:00Z"),
        headers=headers,
    )
    assert refused.status_code == 409
    assert error_of(refused)["code"] == "cycle_invoiced"
    assert "ACME-2026-000001" in error_of(refused)["message"]
    correction = await api.post(
        "/api/v1/measurements/late-1/correction", json={"value": "1"}, headers=headers
    )
    assert correction.status_code == 409 and error_of(correction)["code"] == "cycle_invoiced"
    in_current_cycle = await api.post(
        "/api/v1/measurements", json=measurement("now-1", "1"), headers=headers
    )
    assert in_current_cycle.status_code == 201


async def test_corrections_change_usage(api: Any) -> None:
    headers = await new_vendor(test_clock=NOW)
    await setup_catalog(api, headers)
    batch = [
        measurement("u1", "600"),
        measurement("u2", "600"),
        measurement("s1", "12", meter="storage_gb"),
        measurement("s2", "25.5", meter="storage_gb"),
        measurement("a1", "1", meter="active_users", labels={"user_id": "ann"}),
        measurement("a2", "1", meter="active_users", labels={"user_id": "bob"}),
        measurement("a3", "1", meter="active_users", labels={"user_id": "ann"}),
        measurement("old", "999", time="2026-01-20T00:00:00Z"),  # previous cycle
    ]
    await api.post("/api/v1/measurements/batch", json={"measurements": batch}, headers=headers)
    usage = (await api.get("/api/v1/customers/acme/usage", headers=headers)).json()
    quantities = {m["meter"]: m["quantity"] for m in usage["meters"]}
    assert quantities == {"api_calls": "1200", "active_users": "2", "storage_gb": "25.5"}
    # 1000 x 0.01 + 200 x 0.001 = 10.20; 2 users x 2 = 4.00; 3 packages x 1.50 = 4.50; fee 10
    assert [line["amount"] for line in usage["lines"]] == [1020, 400, 450, 1000]
    assert usage["accrued_total"] == 2870 and usage["accrued_total_decimal"] == "28.70"
    assert usage["adjustments"] == [] and usage["estimated_total"] == 2870

    # Adjustments show in the estimate, never in the (undiscounted) accrued total.
    await api.put("/api/v1/settings/tax", json={"tax_rate": "10"}, headers=headers)
    await api.post(
        "/api/v1/coupons",
        json={"code": "HALF", "percent_off": "50", "duration": "forever"},
        headers=headers,
    )
    await api.post("/api/v1/customers/acme/coupons", json={"code": "HALF"}, headers=headers)
    await api.post(
        "/api/v1/customers/acme/credits", json={"amount": "5", "currency": "USD"}, headers=headers
    )
    usage = (await api.get("/api/v1/customers/acme/usage", headers=headers)).json()
    assert [(a["kind"], a["amount"]) for a in usage["adjustments"]] == [
        ("discount", -1435),
        ("tax", 144),
        ("credit", -500),
    ]
    assert usage["accrued_total"] == 2870 and usage["estimated_total"] == 1079

    fixed = await api.post(
        "/api/v1/measurements/u2/correction",
        json={"value": "100", "reason": "double-counted"},
        headers=headers,
    )
    assert fixed.status_code == 201
    assert fixed.json()["corrected_by"].startswith("api_key:key_")
    await api.post("/api/v1/measurements/s2/correction", json={"void": True}, headers=headers)
    await api.post("/api/v1/measurements/a2/correction", json={"void": True}, headers=headers)
    again = await api.post(
        "/api/v1/measurements/u2/correction", json={"value": "200"}, headers=headers
    )
    assert again.json()["correction_id"] == "u2~correction-2"
    usage = (await api.get("/api/v1/customers/acme/usage", headers=headers)).json()
    quantities = {m["meter"]: m["quantity"] for m in usage["meters"]}
    assert quantities == {"api_calls": "800", "active_users": "1", "storage_gb": "12"}

    for body, field in (
        ({}, "value"),
        ({"value": "1", "void": True}, "void"),
        ({"value": "-1"}, "value"),
        ({"value": 2.5}, "value"),
    ):
        bad = await api.post("/api/v1/measurements/u1/correction", json=body, headers=headers)
        assert bad.status_code == 422, body
        assert error_of(bad)["field"] == field
    missing = await api.post(
        "/api/v1/measurements/nope/correction", json={"value": "1"}, headers=headers
    )
    assert missing.status_code == 404


async def test_openapi_documents_the_contract(api: Any) -> None:
    schema = (await api.get("/schema/openapi.json")).json()
    for path in (
        "/api/v1/customers",
        "/api/v1/customers/{name}",
        "/api/v1/meters",
        "/api/v1/price-plans",
        "/api/v1/customers/{name}/subscription",
        "/api/v1/measurements",
        "/api/v1/measurements/batch",
        "/api/v1/measurements/{key}/correction",
        "/api/v1/customers/{name}/usage",
    ):
        assert path in schema["paths"], path
    create = schema["paths"]["/api/v1/measurements"]["post"]
    assert {"401", "404", "409", "422"} <= set(create["responses"])


async def test_a_price_plan_changes_until_a_subscription_uses_it(api: Any) -> None:
    headers = await new_vendor(test_clock=NOW)
    await setup_catalog(api, headers)  # "growth" is in use by acme's subscription
    draft = {
        "name": "pro",
        "currency": "USD",
        "period": "month",
        "components": [{"meter": "api_calls", "model": "per_unit", "unit_price": "0.01"}],
    }
    assert (await api.post("/api/v1/price-plans", json=draft, headers=headers)).status_code == 201
    changed = {
        **draft,
        "fixed_fee": "49.00",
        "components": [
            {
                "meter": "api_calls",
                "model": "graduated",
                "tiers": [
                    {"up_to": "1000", "unit_price": "0.02"},
                    {"up_to": None, "unit_price": "0.01"},
                ],
            }
        ],
    }
    response = await api.put("/api/v1/price-plans/pro", json=changed, headers=headers)
    assert response.status_code == 200, response.text
    assert response.json()["fixed_fee"] == "49.00"
    assert response.json()["components"][0]["model"] == "graduated"
    bad = {
        **changed,
        "components": [
            {
                "meter": "api_calls",
                "model": "graduated",
                "tiers": [
                    {"up_to": "1000", "unit_price": "0.02"},
                    {"up_to": "500", "unit_price": "0.01"},
                ],
            }
        ],
    }
    refused = await api.put("/api/v1/price-plans/pro", json=bad, headers=headers)
    assert refused.status_code == 422 and error_of(refused)["field"].startswith("components[0]")
    renamed = await api.put(
        "/api/v1/price-plans/pro", json={**changed, "name": "other"}, headers=headers
    )
    assert renamed.status_code == 422 and error_of(renamed)["field"] == "name"
    used = await api.get("/api/v1/price-plans", headers=headers)
    growth = next(p for p in used.json() if p["name"] == "growth")
    in_use = await api.put(
        "/api/v1/price-plans/growth",
        json={k: growth[k] for k in ("name", "currency", "period", "components")},
        headers=headers,
    )
    assert in_use.status_code == 409 and error_of(in_use)["code"] == "plan_in_use"
    missing = await api.put(
        "/api/v1/price-plans/nope", json={**draft, "name": "nope"}, headers=headers
    )
    assert missing.status_code == 404
