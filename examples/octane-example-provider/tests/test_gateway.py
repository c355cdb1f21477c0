"""How ExamplePay's answers become payment results, against the fake (no database)."""

from __future__ import annotations

from octane.core.contracts import (
    AttemptView,
    CustomerView,
    FailureCode,
    PaymentStatus,
    VendorView,
)

from octane_example_provider.config import ExamplePayConfig
from octane_example_provider.fake import FakeExamplePay
from octane_example_provider.gateway import collect, reconcile

VENDOR = VendorView(id="ven_1", name="Acme Cloud")
CUSTOMER = CustomerView(id="cus_1", name="globex", provider_ids={"examplepay": "payer_globex"})
ATTEMPT = AttemptView(
    id="pat_1",
    invoice_id="inv_1",
    attempt_number=1,
    amount=12_345,
    currency="USD",
    idempotency_key="inv_1:1",
)


def _config(fake: FakeExamplePay, **overrides: object) -> ExamplePayConfig:
    return ExamplePayConfig(**{**fake.block(), **overrides})  # type: ignore[arg-type]


async def test_the_same_attempt_twice_is_one_charge(fake: FakeExamplePay) -> None:
    first = await collect(_config(fake), ATTEMPT, VENDOR, CUSTOMER)
    again = await collect(_config(fake), ATTEMPT, VENDOR, CUSTOMER)
    assert first.status is PaymentStatus.SUCCEEDED and again == first
    (charge,) = fake.charges
    assert charge["amount"] == 12_345 and charge["idempotency_key"] == "inv_1:1"
    assert charge["metadata"] == {
        "octane_vendor": "ven_1",
        "octane_invoice": "inv_1",
        "octane_attempt": "pat_1",
    }


async def test_decline_codes_become_neutral_codes_with_the_message(
    fake: FakeExamplePay,
) -> None:
    fake.script("payer_globex", "decline:card_expired")
    result = await collect(_config(fake), ATTEMPT, VENDOR, CUSTOMER)
    assert result.status is PaymentStatus.FAILED
    assert result.failure_code is FailureCode.EXPIRED_CARD
    assert result.failure_message == "ExamplePay: The card has expired."
    assert result.provider_reference == fake.charges[0]["id"]


async def test_an_unknown_decline_code_is_other(fake: FakeExamplePay) -> None:
    fake.script("payer_globex", "decline:moon_phase")
    result = await collect(_config(fake), ATTEMPT, VENDOR, CUSTOMER)
    assert result.failure_code is FailureCode.OTHER


async def test_a_5xx_is_unknown_and_reconciles_to_no_charge(fake: FakeExamplePay) -> None:
    fake.script("payer_globex", "error")
    assert (await collect(_config(fake), ATTEMPT, VENDOR, CUSTOMER)).status is (
        PaymentStatus.UNKNOWN
    )
    looked_up = await reconcile(_config(fake), ATTEMPT)
    assert looked_up.status is PaymentStatus.FAILED
    assert looked_up.failure_code is FailureCode.PROVIDER_ERROR
    assert fake.charges == []


async def test_a_timeout_is_unknown_and_reconciles_to_the_charge_without_charging(
    fake: FakeExamplePay,
) -> None:
    fake.hang_seconds = 1.0
    fake.script("payer_globex", "lose")
    config = _config(fake, timeout_seconds=0.2)
    assert (await collect(config, ATTEMPT, VENDOR, CUSTOMER)).status is PaymentStatus.UNKNOWN
    looked_up = await reconcile(config, ATTEMPT)
    assert looked_up.status is PaymentStatus.SUCCEEDED
    assert looked_up.provider_reference == fake.charges[0]["id"]
    assert len(fake.charges) == 1
    assert [r[:2] for r in fake.requests] == [("POST", "/v1/charges"), ("GET", "/v1/charges")]


async def test_an_unreachable_gateway_is_unknown() -> None:
    config = ExamplePayConfig(api_base="http://127.0.0.1:9", api_key="ek", timeout_seconds=0.5)
    assert (await collect(config, ATTEMPT, VENDOR, CUSTOMER)).status is PaymentStatus.UNKNOWN
    assert (await reconcile(config, ATTEMPT)).status is PaymentStatus.UNKNOWN


async def test_a_refused_api_key_fails_without_charging(fake: FakeExamplePay) -> None:
    result = await collect(_config(fake, api_key="ek_wrong"), ATTEMPT, VENDOR, CUSTOMER)
    assert result.status is PaymentStatus.FAILED
    assert result.failure_code is FailureCode.PROVIDER_ERROR
    assert "invalid_api_key" in (result.failure_message or "")
    assert fake.charges == []


async def test_missing_settings_fail_with_a_message_naming_them(fake: FakeExamplePay) -> None:
    no_key = await collect(_config(fake, api_key=None), ATTEMPT, VENDOR, CUSTOMER)
    assert "plugins.examplepay.api_key" in (no_key.failure_message or "")
    no_payer = await collect(
        _config(fake), ATTEMPT, VENDOR, CustomerView(id="cus_2", name="initech")
    )
    assert no_payer.failure_code is FailureCode.NO_PAYMENT_METHOD
    assert "provider_ids.examplepay" in (no_payer.failure_message or "")
    assert fake.charges == []
