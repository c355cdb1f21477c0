"""A misbehaving plugin is named in the error it causes, and never costs a double charge
or a lost invoice: it raises in ``collect_payment`` (after charging), returns the wrong
type, fails to deliver, or implements a hook that does not exist."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from octane import hookimpl
from octane.core.contracts import (
    AttemptView,
    DeliveryChannelInfo,
    InvoiceView,
    PaymentProviderInfo,
    PaymentResult,
    PaymentStatus,
)
from octane.core.errors import PluginError
from octane.core.store.tables import AuditLog, Invoice
from octane.core.vendor_settings import update_invoice_settings
from octane.testing.world import CHARGED, FINALIZED, World, bill, open_world

RECONCILED = CHARGED + timedelta(minutes=10)


class CrashAfterCharging:
    """Charges, then raises before answering: the worst moment for a provider to fail."""

    def __init__(self) -> None:
        self.charges: dict[str, int] = {}
        self.collect_calls = 0

    @hookimpl
    def register_payment_providers(self) -> list[PaymentProviderInfo]:
        return [PaymentProviderInfo(name="crashpay", display_name="CrashPay")]

    @hookimpl
    def collect_payment(self, attempt: AttemptView) -> PaymentResult:
        self.collect_calls += 1
        self.charges.setdefault(attempt.idempotency_key, attempt.amount)
        raise RuntimeError("connection reset after the charge was taken")

    @hookimpl
    def reconcile_payment(self, attempt: AttemptView) -> PaymentResult:
        if attempt.idempotency_key in self.charges:
            return PaymentResult(status=PaymentStatus.SUCCEEDED, provider_reference="ch_1")
        return PaymentResult(status=PaymentStatus.UNKNOWN)


class WrongType:
    """Answers with a dict instead of a PaymentResult, and cannot reconcile either."""

    def __init__(self) -> None:
        self.collect_calls = 0

    @hookimpl
    def register_payment_providers(self) -> list[PaymentProviderInfo]:
        return [PaymentProviderInfo(name="wrongpay", display_name="WrongPay")]

    @hookimpl
    def collect_payment(self) -> Any:
        self.collect_calls += 1
        return {"status": "succeeded"}

    @hookimpl
    def reconcile_payment(self) -> Any:
        return "paid, probably"


class BrokenChannel:
    @hookimpl
    def register_delivery_channels(self) -> list[DeliveryChannelInfo]:
        return [DeliveryChannelInfo(name="pigeon", display_name="Pigeon post")]

    @hookimpl
    def deliver_invoice(self, invoice: InvoiceView) -> Any:
        raise KeyError("no pigeon for " + invoice.customer.name)


@pytest.fixture
async def world(db_url: str, tmp_path: Path) -> AsyncIterator[World]:
    plugins = {"crashy": CrashAfterCharging(), "wrong": WrongType(), "pigeons": BrokenChannel()}
    async with open_world(
        db_url, tmp_path / "data", enabled=["sandbox", *plugins], blocks={}, register=plugins
    ) as opened:
        opened.runtime.state["plugins"] = plugins
        await bill(opened)
        yield opened


async def _use(world: World, **settings: Any) -> None:
    await update_invoice_settings(
        world.vendor,
        {"delivery_channel": "sandbox", **settings},
        providers=world.plugins.payment_providers,
        channels=world.plugins.delivery_channels,
    )
    await world.at(FINALIZED)


async def test_raising_after_charging_is_reconciled_never_charged_twice(world: World) -> None:
    crashy: CrashAfterCharging = world.runtime.state["plugins"]["crashy"]
    await _use(world, payment_provider="crashpay", payment_retry_schedule=["P1D"])
    await world.at(CHARGED)
    invoice = await world.invoice()
    (attempt,) = invoice["payment_attempts"]
    assert attempt["status"] == "unknown"
    assert attempt["failure_message"] == (
        "Plugin 'crashy' failed in collect_payment: RuntimeError: "
        "connection reset after the charge was taken"
    )
    assert invoice["status"] == "collecting", "an unknown outcome is never retried blindly"

    await world.at(RECONCILED + timedelta(days=3))
    invoice = await world.invoice()
    assert invoice["status"] == "paid" and invoice["amount_paid"] == invoice["total"]
    assert crashy.collect_calls == 1 and len(crashy.charges) == 1


async def test_a_wrong_answer_type_is_named_and_the_invoice_kept(world: World) -> None:
    wrong: WrongType = world.runtime.state["plugins"]["wrong"]
    await _use(world, payment_provider="wrongpay")
    await world.at(CHARGED)
    (attempt,) = (await world.invoice())["payment_attempts"]
    assert attempt["status"] == "unknown"
    assert attempt["failure_message"] == (
        "Plugin 'wrong' returned dict from collect_payment; expected PaymentResult."
    )
    await world.at(RECONCILED)
    await world.at(RECONCILED + timedelta(days=10))
    invoice = await world.invoice()
    assert invoice["number"] and invoice["status"] == "collecting"
    assert [a["status"] for a in invoice["payment_attempts"]] == ["unknown"]
    assert wrong.collect_calls == 1, "no blind second charge while the outcome is unknown"
    reconciled = await AuditLog.count().where(
        (AuditLog.vendor == world.vendor) & (AuditLog.action == "payment.reconciled")
    )
    assert reconciled >= 2, "the reconciliation job keeps asking"


async def test_a_channel_that_raises_is_named_and_retried(world: World) -> None:
    await _use(world, delivery_channel="pigeon", auto_charge=False)
    invoice = await world.invoice()
    assert invoice["status"] == "finalized" and invoice["number"]
    row = await Invoice.select().where(Invoice.id == invoice["id"]).first()
    assert row is not None and row["delivery_status"] == "failed"
    assert row["delivery_error"] == (
        "Plugin 'pigeons' failed in deliver_invoice: KeyError: 'no pigeon for globex'"
    )
    assert row["delivery_next_at"] == FINALIZED + timedelta(minutes=5)


async def test_a_hook_that_does_not_exist_stops_start_up_naming_the_plugin(
    db_url: str, tmp_path: Path
) -> None:
    class Typo:
        @hookimpl
        def collect_paymnet(self) -> None: ...

    with pytest.raises(PluginError) as caught:
        async with open_world(
            db_url, tmp_path, enabled=["typo"], blocks={}, register={"typo": Typo()}
        ):
            pass
    assert "Plugin 'typo' implements 'collect_paymnet', which is not an Octane hook" in str(
        caught.value
    )
    assert "Did you mean 'collect_payment'?" in str(caught.value)


async def test_a_money_hook_that_raises_keeps_the_draft_and_names_the_plugin(
    db_url: str, tmp_path: Path
) -> None:
    class Surcharge:
        @hookimpl
        def compute_charges(self) -> Any:
            raise ZeroDivisionError("division by zero")

    async with open_world(
        db_url, tmp_path, enabled=["surcharge"], blocks={}, register={"surcharge": Surcharge()}
    ) as world:
        await bill(world)
        summary = await world.at(FINALIZED)
        row = await Invoice.select().where(Invoice.vendor == world.vendor).first()
        assert row is not None and row["status"] == "draft" and row["number"] is None
        shown = await world.client.get(f"/api/v1/invoices/{row['id']}", headers=world.headers)
        assert shown.json()["error"]["code"] == "plugin_error", "a clear error, not a crash"
        assert "Plugin 'surcharge' failed in compute_charges" in shown.json()["error"]["message"]
        assert any(
            "Plugin 'surcharge' failed in compute_charges: ZeroDivisionError" in error
            for error in summary.errors
        ), summary.errors
