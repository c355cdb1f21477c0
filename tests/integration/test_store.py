"""The schema, its invariants, vendors, API keys and test clocks, on the real database.

Every test here runs on SQLite, and again on PostgreSQL in ``make test``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from octane.core.clock import SystemClock, TestClock, utc
from octane.core.clocks import advance_test_clock, vendor_clock
from octane.core.errors import AuthError, ConflictError, StateError, ValidationError
from octane.core.ids import new_id
from octane.core.store.engine import is_postgres
from octane.core.store.migrate import applied_migrations, migrate
from octane.core.store.tables import (
    ApiKey,
    BillingCycle,
    Customer,
    Invoice,
    LedgerEntry,
    Measurement,
    Meter,
    PricePlan,
    Subscription,
)
from octane.core.vendors import (
    authenticate_api_key,
    create_api_key,
    create_portal_user,
    create_vendor,
    list_api_keys,
    revoke_api_key,
    verify_portal_login,
)

CLOCK = TestClock(utc(2026, 1, 15, 9))
MIGRATIONS = Path(__file__).resolve().parents[2] / "octane" / "core" / "store" / "migrations"


async def _vendor(name: str = "Vendor") -> str:
    vendor = await create_vendor(name=name, email="ops@vendor.example", clock=CLOCK)
    return str(vendor["id"])


async def _customer_with_cycle(vendor_id: str) -> dict[str, Any]:
    now = CLOCK.now()
    customer = new_id("cus")
    await Customer.insert(
        Customer(id=customer, vendor=vendor_id, name="acme", currency="USD", created_at=now)
    )
    meter = new_id("mtr")
    await Meter.insert(
        Meter(id=meter, vendor=vendor_id, name="calls", aggregation="sum", created_at=now)
    )
    plan = new_id("pln")
    await PricePlan.insert(
        PricePlan(
            id=plan, vendor=vendor_id, name="p", currency="USD", period="month", created_at=now
        )
    )
    subscription = new_id("sub")
    await Subscription.insert(
        Subscription(
            id=subscription,
            vendor=vendor_id,
            customer=customer,
            plan=plan,
            starts_at=utc(2026, 1, 1),
            billing_anchor=utc(2026, 1, 1),
            created_at=now,
        )
    )
    cycle = new_id("cyc")
    await BillingCycle.insert(
        BillingCycle(
            id=cycle,
            vendor=vendor_id,
            customer=customer,
            subscription=subscription,
            period_start=utc(2026, 1, 1),
            period_end=utc(2026, 2, 1),
            created_at=now,
        )
    )
    return {"customer": customer, "meter": meter, "subscription": subscription, "cycle": cycle}


async def test_every_migration_is_applied_and_rerunning_is_a_no_op(db: Any) -> None:
    files = sorted(p.stem for p in MIGRATIONS.glob("octane_*.py"))
    assert len(await applied_migrations()) == len(files) >= 2
    assert await migrate() == []


async def test_ledger_is_append_only(db: Any) -> None:
    vendor_id = await _vendor()
    refs = await _customer_with_cycle(vendor_id)
    await LedgerEntry.insert(
        LedgerEntry(
            vendor=vendor_id,
            customer=refs["customer"],
            kind="accrual",
            amount=1234,
            currency="USD",
            effective_at=CLOCK.now(),
            created_at=CLOCK.now(),
        )
    )
    with pytest.raises(Exception, match="append-only"):
        await LedgerEntry.update({LedgerEntry.amount: 1}).where(LedgerEntry.amount == 1234)
    with pytest.raises(Exception, match="append-only"):
        await LedgerEntry.delete().where(LedgerEntry.amount == 1234)
    rows = await LedgerEntry.select(LedgerEntry.amount)
    assert rows == [{"amount": 1234}]


async def test_a_ledger_entry_names_a_customer_of_its_own_vendor(db: Any) -> None:
    vendor_id = await _vendor()
    refs = await _customer_with_cycle(vendor_id)
    other = await _vendor()

    def entry(vendor: str, customer: str) -> LedgerEntry:
        return LedgerEntry(
            vendor=vendor,
            customer=customer,
            kind="accrual",
            amount=1,
            currency="USD",
            effective_at=CLOCK.now(),
            created_at=CLOCK.now(),
        )

    await LedgerEntry.insert(entry(vendor_id, refs["customer"]))
    with pytest.raises(Exception, match=r"(?i)foreign key"):
        await LedgerEntry.insert(entry(vendor_id, "cus_missing"))
    if is_postgres():  # the composite key: SQLite checks vendor and customer apart
        with pytest.raises(Exception, match=r"(?i)foreign key"):
            await LedgerEntry.insert(entry(other, refs["customer"]))


async def test_a_measurement_key_is_stored_once_per_vendor(db: Any) -> None:
    vendor_id = await _vendor()
    refs = await _customer_with_cycle(vendor_id)

    def measurement() -> Measurement:
        return Measurement(
            vendor=vendor_id,
            customer=refs["customer"],
            meter=refs["meter"],
            key="evt-1",
            value_micros=1_000_000,
            time=CLOCK.now(),
            content_hash="h",
            received_at=CLOCK.now(),
        )

    await Measurement.insert(measurement())
    with pytest.raises(Exception, match=r"(?i)unique"):
        await Measurement.insert(measurement())
    assert await Measurement.count() == 1


async def test_one_invoice_per_cycle(db: Any) -> None:
    vendor_id = await _vendor()
    refs = await _customer_with_cycle(vendor_id)

    def invoice() -> Invoice:
        return Invoice(
            id=new_id("inv"),
            vendor=vendor_id,
            customer=refs["customer"],
            subscription=refs["subscription"],
            cycle=refs["cycle"],
            currency="USD",
            period_start=utc(2026, 1, 1),
            period_end=utc(2026, 2, 1),
            created_at=CLOCK.now(),
        )

    await Invoice.insert(invoice())
    with pytest.raises(Exception, match=r"(?i)unique"):
        await Invoice.insert(invoice())
    assert await Invoice.count() == 1


async def test_api_keys_are_stored_hashed_shown_once_and_revocable(db: Any) -> None:
    vendor_id = await _vendor()
    created = await create_api_key(vendor_id, clock=CLOCK, name="ci")
    assert created.key.startswith("octk_") and len(created.key) >= 40
    assert await authenticate_api_key(created.key) == vendor_id

    stored = await ApiKey.select()
    assert created.key not in repr(stored)  # only the hash and a lookup prefix
    assert [k["name"] for k in await list_api_keys(vendor_id)] == ["ci"]

    with pytest.raises(AuthError) as caught:
        await authenticate_api_key(created.key[:-1] + ("a" if created.key[-1] != "a" else "b"))
    assert caught.value.code == "invalid_api_key"
    with pytest.raises(AuthError):
        await authenticate_api_key("not-a-key")

    await revoke_api_key(vendor_id, created.id, clock=CLOCK)
    with pytest.raises(AuthError) as caught:
        await authenticate_api_key(created.key)
    assert caught.value.code == "revoked_api_key"


async def test_keys_of_one_vendor_cannot_be_revoked_by_another(db: Any) -> None:
    first, second = await _vendor("A"), await _vendor("B")
    key = await create_api_key(first, clock=CLOCK)
    with pytest.raises(Exception, match="no API key"):
        await revoke_api_key(second, key.id, clock=CLOCK)
    assert await authenticate_api_key(key.key) == first


async def test_portal_users_have_argon2_passwords(db: Any) -> None:
    vendor_id = await _vendor()
    user = await create_portal_user(
        vendor_id, email="Finance@Vendor.example", password="correct horse battery", clock=CLOCK
    )
    assert "password_hash" not in user
    assert (await verify_portal_login("finance@vendor.example", "correct horse battery"))[
        "vendor"
    ] == vendor_id
    with pytest.raises(AuthError):
        await verify_portal_login("finance@vendor.example", "wrong password!!")
    with pytest.raises(ConflictError):
        await create_portal_user(
            vendor_id, email="finance@vendor.example", password="another password", clock=CLOCK
        )
    with pytest.raises(ValidationError) as caught:
        await create_portal_user(vendor_id, email="x@y.example", password="short", clock=CLOCK)
    assert caught.value.field == "password"


async def test_test_clocks_are_persisted_and_move_forward_only(db: Any) -> None:
    live = await _vendor("Live")
    assert isinstance(await vendor_clock(live), SystemClock)
    with pytest.raises(StateError) as caught:
        await advance_test_clock(live, utc(2030, 1, 1))
    assert caught.value.code == "not_a_test_clock"

    vendor = await create_vendor(
        name="Sim", email="sim@vendor.example", clock=CLOCK, test_clock_start=utc(2026, 1, 1)
    )
    vendor_id = str(vendor["id"])
    assert (await vendor_clock(vendor_id)).now() == utc(2026, 1, 1)
    await advance_test_clock(vendor_id, utc(2026, 2, 1, 12))
    assert (await vendor_clock(vendor_id)).now() == utc(2026, 2, 1, 12)
    with pytest.raises(StateError):
        await advance_test_clock(vendor_id, utc(2026, 1, 5))
    assert (await vendor_clock(vendor_id)).now() == utc(2026, 2, 1, 12)
