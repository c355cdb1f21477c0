"""Closing cycles and finalizing invoices: numbering, idempotence, races, plugins' lines."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from octane import hookimpl
from octane.core.catalog import create_meter, create_plan
from octane.core.clock import TestClock, utc
from octane.core.clocks import advance_test_clock, vendor_clock
from octane.core.contracts import ChargeLine
from octane.core.customers import create_customer
from octane.core.errors import StateError
from octane.core.finalization import finalize_invoice
from octane.core.ledger import check_invariants
from octane.core.lifecycle import close_ended_cycles, run_due_work
from octane.core.metering import ingest
from octane.core.plugins import load_plugins
from octane.core.store.tables import BillingCycle, Invoice, InvoiceLine, LedgerEntry, Measurement
from octane.core.subscriptions import create_subscription
from octane.core.vendor_settings import set_numbering
from octane.core.vendors import create_vendor
from tests.helpers import PLUGINS, new_vendor, setup_billed_customer


class Seats:
    @hookimpl
    def compute_charges(self) -> list[ChargeLine]:
        return [ChargeLine(kind="seats", description="5 seats x 4.00", amount=2000)]


async def _closed(vendor: str) -> str:
    """Move past March and close it; return the draft invoice's id."""
    await advance_test_clock(vendor, utc(2026, 4, 1, 1))
    assert await close_ended_cycles(vendor, await vendor_clock(vendor)) == 1
    row = await Invoice.select(Invoice.id).where(Invoice.vendor == vendor).first()
    assert row is not None
    return str(row["id"])


async def test_a_third_party_charge_is_on_the_invoice_and_in_the_ledger(db: Any) -> None:
    vendor, _ = await setup_billed_customer()
    invoice_id = await _closed(vendor)
    host = load_plugins(["seats"], extra_plugins={"seats": Seats()}, use_entry_points=False)
    clock = await vendor_clock(vendor)
    invoice = await finalize_invoice(host, vendor, invoice_id, clock=clock, early=True)
    assert (invoice["status"], invoice["total"], invoice["number"]) == (
        "finalized",
        9000,
        "INV-2026-000001",
    )
    lines = await InvoiceLine.select().where(InvoiceLine.invoice == invoice_id)
    assert [(line["kind"], line["source"], line["amount"]) for line in lines] == [
        ("usage", "pricing", 5000),
        ("fixed_fee", "pricing", 2000),
        ("seats", "seats", 2000),
    ]
    entries = await LedgerEntry.select().where(LedgerEntry.invoice == invoice_id)
    assert sorted(
        (e["description"], e["amount"]) for e in entries if e["kind"] == "charge"
    ) == sorted((line["description"], line["amount"]) for line in lines)
    assert await check_invariants(vendor) == []


async def test_finalizing_waits_for_the_grace_period_and_happens_once(db: Any) -> None:
    vendor, _ = await setup_billed_customer()
    invoice_id = await _closed(vendor)
    clock = await vendor_clock(vendor)
    with pytest.raises(StateError, match=r"grace period of .* ends at 2026-04-02"):
        await finalize_invoice(PLUGINS, vendor, invoice_id, clock=clock)
    assert (await run_due_work(PLUGINS, vendor, clock)).invoices_finalized == 0
    await advance_test_clock(vendor, utc(2026, 4, 2))
    clock = await vendor_clock(vendor)
    first, second, _ = await asyncio.gather(
        finalize_invoice(PLUGINS, vendor, invoice_id, clock=clock),
        finalize_invoice(PLUGINS, vendor, invoice_id, clock=clock),
        run_due_work(PLUGINS, vendor, clock),
    )
    assert first["number"] == second["number"] == "INV-2026-000001"
    assert (
        await LedgerEntry.count().where(
            (LedgerEntry.invoice == invoice_id) & (LedgerEntry.kind == "charge")
        )
        == 2
    )
    assert await check_invariants(vendor) == []
    late = await ingest(
        vendor,
        [{"meter": "calls", "customer": "acme", "value": "5", "time": "2026-03-30T00:00:00Z"}],
        clock=clock,
    )
    assert late.errors[0].error.code == "cycle_invoiced"
    assert "INV-2026-000001" in late.errors[0].error.message


async def test_concurrent_finalizations_never_share_or_skip_a_number(db: Any) -> None:
    clock = TestClock(utc(2026, 1, 15))
    made = await create_vendor(
        name="V", email="v@v.example", clock=clock, test_clock_start=clock.now()
    )
    vendor = str(made["id"])
    await set_numbering(vendor, prefix="ACME", template="{prefix}-{year}-{number:04d}")
    await create_meter(vendor, name="calls", aggregation="sum", clock=clock)
    await create_plan(
        vendor,
        name="p",
        currency="USD",
        period="month",
        fixed_fee="5",
        components=[{"meter": "calls", "model": "per_unit", "unit_price": "0.01"}],
        clock=clock,
    )
    for n in range(12):
        await create_customer(vendor, {"name": f"c{n:02d}", "currency": "USD"}, clock=clock)
        await create_subscription(
            vendor, f"c{n:02d}", price_plan="p", starts_at=utc(2026, 1, 1), clock=clock
        )
    await advance_test_clock(vendor, utc(2026, 2, 3))
    clock = await vendor_clock(vendor)
    assert await close_ended_cycles(vendor, clock) == 12
    ids = [r["id"] for r in await Invoice.select(Invoice.id).where(Invoice.vendor == vendor)]
    await asyncio.gather(
        *(finalize_invoice(PLUGINS, vendor, i, clock=clock) for i in ids + ids),
        run_due_work(PLUGINS, vendor, clock),
    )
    numbers = sorted(r["number"] for r in await Invoice.select(Invoice.number))
    assert numbers == [f"ACME-2026-{n:04d}" for n in range(1, 13)]
    assert await check_invariants(vendor) == []


async def test_invoice_api_lists_shows_and_refuses_bad_requests(api: Any) -> None:
    headers = await new_vendor("A", test_clock=utc(2026, 1, 10))
    other = await new_vendor("B")
    for path, body in [
        ("/api/v1/meters", {"name": "calls", "aggregation": "sum"}),
        (
            "/api/v1/price-plans",
            {
                "name": "p",
                "currency": "EUR",
                "period": "month",
                "fixed_fee": "9.99",
                "components": [{"meter": "calls", "model": "per_unit", "unit_price": "0.001"}],
            },
        ),
        ("/api/v1/customers", {"name": "acme", "currency": "EUR"}),
        (
            "/api/v1/customers/acme/subscription",
            {"price_plan": "p", "starts_at": "2026-01-01T00:00:00Z"},
        ),
    ]:
        assert (await api.post(path, json=body, headers=headers)).status_code == 201
    put = await api.put(
        "/api/v1/settings/invoicing", json={"invoice_grace_period": "PT12H"}, headers=headers
    )
    assert put.status_code == 200 and put.json()["invoice_grace_period"] == "PT12H"
    advanced = await api.post(
        "/api/v1/clock/advance", json={"to": "2026-02-01T06:00:00Z"}, headers=headers
    )
    assert advanced.json()["cycles_closed"] == 1
    # Moving the clock also accrues the open cycle, as the worker's hourly job would have.
    accrued = await LedgerEntry.select(LedgerEntry.amount).where(
        (LedgerEntry.vendor == headers["X-Vendor-Id"]) & (LedgerEntry.kind == "accrual")
    )
    assert accrued and sum(row["amount"] for row in accrued) > 0
    listed = (await api.get("/api/v1/invoices?status=draft", headers=headers)).json()
    (draft,) = listed["invoices"]
    assert draft["number"] is None
    # A late measurement in the grace period changes the draft, recomputed on every read.
    late = await api.post(
        "/api/v1/measurements",
        json={"meter": "calls", "customer": "acme", "value": 1000, "time": "2026-01-31T23:00:00Z"},
        headers=headers,
    )
    assert late.status_code == 201
    shown = (await api.get(f"/api/v1/invoices/{draft['id']}", headers=headers)).json()
    assert [(line["kind"], line["amount"]) for line in shown["lines"]] == [
        ("usage", 100),
        ("fixed_fee", 999),
    ]
    assert shown["cycle"]["grace_ends_at"].startswith("2026-02-01T12:00:00")
    # Another vendor sees nothing of it.
    assert (await api.get(f"/api/v1/invoices/{draft['id']}", headers=other)).status_code == 404
    assert (await api.get("/api/v1/invoices", headers=other)).json()["invoices"] == []
    assert (
        await api.post(f"/api/v1/invoices/{draft['id']}/finalize", headers=other)
    ).status_code == 404
    # Finalize now, twice: the same invoice both times.
    done = await api.post(f"/api/v1/invoices/{draft['id']}/finalize", headers=headers)
    again = await api.post(f"/api/v1/invoices/{draft['id']}/finalize", headers=headers)
    assert done.status_code == again.status_code == 200
    assert done.json()["number"] == again.json()["number"] == "INV-2026-000001"
    assert done.json()["total"] == 1099 and done.json()["status"] == "finalized"
    refused = await api.post(
        "/api/v1/measurements",
        json={"meter": "calls", "customer": "acme", "value": 1, "time": "2026-01-31T23:30:00Z"},
        headers=headers,
    )
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "cycle_invoiced"
    for path, status, field in [
        ("/api/v1/invoices/inv_nope", 404, "id"),
        ("/api/v1/invoices?status=sent", 422, "status"),
        ("/api/v1/invoices?customer=nobody", 404, "customer"),
        ("/api/v1/invoices?limit=0", 422, "limit"),
    ]:
        response = await api.get(path, headers=headers)
        assert response.status_code == status, (path, response.text)
        if field:
            assert response.json()["error"]["field"] == field


@pytest.mark.parametrize(
    ("body", "field", "code"),
    [
        ({"invoice_grace_period": "-P1D"}, "invoice_grace_period", "invalid_duration"),
        ({"payment_grace_period": "P400D"}, "payment_grace_period", "invalid_duration"),
        ({"payment_retry_schedule": ["P1D", "soon"]}, "payment_retry_schedule[1]", None),
        ({"payment_provider": "acmepay"}, "payment_provider", "unknown_provider"),
        ({"auto_charge": "yes"}, "auto_charge", None),
        ({"grace": "P1D"}, "grace", None),
    ],
)
async def test_invoice_settings_refuse_bad_values(
    api: Any, body: dict[str, Any], field: str, code: str | None
) -> None:
    headers = await new_vendor()
    response = await api.put("/api/v1/settings/invoicing", json=body, headers=headers)
    assert response.status_code in (400, 422), response.text
    error = response.json()["error"]
    assert error["field"] == field
    if code:
        assert error["code"] == code
    assert (await api.get("/api/v1/settings/invoicing", headers=headers)).json()[
        "invoice_grace_period"
    ] == "P1D"


async def test_numbering_and_customer_overrides_are_validated(api: Any) -> None:
    headers = await new_vendor()
    for body, field in [
        ({"format": "{prefix}-{year}"}, "format"),
        ({"format": "{prefix}-{month}-{number}"}, "format"),
        ({"prefix": "has space"}, "prefix"),
    ]:
        response = await api.put("/api/v1/settings/numbering", json=body, headers=headers)
        assert response.status_code == 422 and response.json()["error"]["field"] == field
    ok = await api.put("/api/v1/settings/numbering", json={"prefix": "ACME"}, headers=headers)
    assert ok.json() == {"prefix": "ACME", "format": "{prefix}-{year}-{number:06d}"}
    response = await api.post(
        "/api/v1/customers",
        json={"name": "x", "currency": "USD", "invoice_settings": {"payment_provider": "nope"}},
        headers=headers,
    )
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "invoice_settings.payment_provider"


async def test_a_measurement_in_an_invoiced_cycle_is_refused_by_the_write_itself(
    db: Any,
) -> None:
    """The invoiced-cycle fence runs inside the write transaction (there is no earlier
    check that could be stale): the late item is refused, naming the invoice, the other
    item of the batch is stored."""
    vendor, _ = await setup_billed_customer()
    invoice_id = await _closed(vendor)
    clock = await vendor_clock(vendor)
    invoice = await finalize_invoice(PLUGINS, vendor, invoice_id, clock=clock, early=True)
    result = await ingest(
        vendor,
        [
            {"meter": "calls", "customer": "acme", "value": "7", "time": "2026-03-31T00:00:00Z"},
            {"meter": "calls", "customer": "acme", "value": "8", "time": "2026-04-01T00:30:00Z"},
        ],
        clock=clock,
    )
    assert result.accepted == 1
    (error,) = result.errors
    assert (error.index, error.error.code, error.error.field) == (0, "cycle_invoiced", "time")
    assert invoice["number"] in error.error.message
    assert await Measurement.count().where(Measurement.key.like("%")) == 2  # March 5 + April 1


async def test_a_fenced_item_does_not_take_its_id_from_a_later_one(db: Any) -> None:
    """The same id twice in a batch, first in an invoiced cycle: the first is refused and
    the second is stored (the fence sets refused items aside before duplicates are
    matched)."""
    vendor, _ = await setup_billed_customer()
    invoice_id = await _closed(vendor)
    clock = await vendor_clock(vendor)
    await finalize_invoice(PLUGINS, vendor, invoice_id, clock=clock, early=True)
    item = {"id": "same", "meter": "calls", "customer": "acme", "value": "7"}
    result = await ingest(
        vendor,
        [{**item, "time": "2026-03-31T00:00:00Z"}, {**item, "time": "2026-04-01T00:30:00Z"}],
        clock=clock,
    )
    assert [(e.index, e.error.code) for e in result.errors] == [(0, "cycle_invoiced")]
    assert result.accepted == 1 and result.ids[1] == ("same", "created")


async def test_a_customer_s_older_invoice_is_numbered_and_credited_first(db: Any) -> None:
    """Two cycles of one customer due at once (a clock moved without stepping): January is
    finalized first, gets the first number and draws the credit first."""
    from octane.core.credit_grants import grant_credit

    clock = TestClock(utc(2026, 1, 5))
    made = await create_vendor(
        name="V", email="v@v.example", clock=clock, test_clock_start=clock.now()
    )
    vendor = str(made["id"])
    await create_plan(vendor, name="p", currency="USD", period="month", fixed_fee="10", clock=clock)
    await create_customer(vendor, {"name": "acme", "currency": "USD"}, clock=clock)
    await create_subscription(
        vendor, "acme", price_plan="p", starts_at=utc(2026, 1, 1), clock=clock
    )
    await grant_credit(vendor, "acme", amount="15.00", currency="USD", clock=clock)
    await advance_test_clock(vendor, utc(2026, 3, 3))
    summary = await run_due_work(PLUGINS, vendor, await vendor_clock(vendor))
    assert summary.invoices_finalized == 2
    invoices = await Invoice.select().where(Invoice.vendor == vendor).order_by(Invoice.period_start)
    assert [(i["number"], i["total"]) for i in invoices] == [
        ("INV-2026-000001", 0),
        ("INV-2026-000002", 500),
    ]
    assert await check_invariants(vendor) == []


async def test_cycles_nobody_looked_at_are_still_billed(db: Any) -> None:
    """The current cycle's row can exist before any earlier one (a usage question in March
    about a subscription from January): closing still creates and bills January and
    February, and later sweeps bill each new period once."""
    from octane.core.usage import cycle_usage

    clock = TestClock(utc(2026, 3, 15))
    made = await create_vendor(
        name="V", email="v@v.example", clock=clock, test_clock_start=clock.now()
    )
    vendor = str(made["id"])
    await create_plan(vendor, name="p", currency="USD", period="month", fixed_fee="10", clock=clock)
    await create_customer(vendor, {"name": "acme", "currency": "USD"}, clock=clock)
    await create_subscription(
        vendor, "acme", price_plan="p", starts_at=utc(2026, 1, 1), clock=clock
    )
    await cycle_usage(PLUGINS, vendor, "acme", cycle_id=None, clock=clock)  # March's row
    assert await close_ended_cycles(vendor, clock) == 2
    await advance_test_clock(vendor, utc(2026, 5, 3))
    await run_due_work(PLUGINS, vendor, await vendor_clock(vendor))
    periods = [
        (c["period_start"].month, c["state"])
        for c in await BillingCycle.select()
        .where(BillingCycle.vendor == vendor)
        .order_by(BillingCycle.period_start)
    ]
    assert periods == [(1, "invoiced"), (2, "invoiced"), (3, "invoiced"), (4, "invoiced")]
    assert await close_ended_cycles(vendor, await vendor_clock(vendor)) == 0
    assert await Invoice.count().where(Invoice.vendor == vendor) == 4


async def test_due_drafts_are_finalized_oldest_first_per_customer_in_concurrent_batches(
    db: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Three months due at once for two customers, in batches of one invoice (so a round's
    batches run at once on PostgreSQL): every draft is finalized, each customer's months
    in order, with gapless numbers."""
    from octane.core import lifecycle

    monkeypatch.setattr(lifecycle, "BATCH_SIZE", 1)
    vendor, clock = await setup_billed_customer()
    await create_customer(vendor, {"name": "globex", "currency": "USD"}, clock=clock)
    await create_subscription(
        vendor, "globex", price_plan="p", starts_at=utc(2026, 3, 1), clock=clock
    )
    await advance_test_clock(vendor, utc(2026, 6, 15))
    clock = await vendor_clock(vendor)
    assert await close_ended_cycles(vendor, clock) == 6
    summary = await run_due_work(PLUGINS, vendor, clock)
    assert (summary.invoices_finalized, summary.errors) == (6, [])
    rows = await Invoice.select(Invoice.customer, Invoice.number, Invoice.period_start).where(
        Invoice.vendor == vendor
    )
    assert sorted(int(r["number"][-6:]) for r in rows) == [1, 2, 3, 4, 5, 6]
    for customer in {r["customer"] for r in rows}:
        mine = sorted((r["period_start"], r["number"]) for r in rows if r["customer"] == customer)
        assert [number for _, number in mine] == sorted(number for _, number in mine)
    assert await check_invariants(vendor) == []
