"""The grace-period schedule through the API on a test clock, with the sandbox provider."""

from __future__ import annotations

from typing import Any

from octane.core.clock import utc
from octane.core.store.tables import SandboxCharge
from tests.helpers import new_vendor

SETTINGS = {
    "invoice_grace_period": "P1D",
    "payment_grace_period": "P3D",
    "payment_provider": "sandbox",
    "delivery_channel": "sandbox",
    "payment_retry_schedule": ["P1D", "P3D"],
}


class Billing:
    """A vendor on a test clock from 2026-01-01 with customer ``acme`` on a monthly plan:
    10.00 a month plus 0.01 a call."""

    def __init__(self, api: Any, headers: dict[str, str]) -> None:
        self.api, self.headers = api, headers

    @classmethod
    async def start(
        cls, api: Any, settings: dict[str, Any] | None = None, **customer: Any
    ) -> Billing:
        self = cls(api, await new_vendor("Life", test_clock=utc(2026, 1, 1)))
        await self.ok("PUT", "/api/v1/settings/invoicing", {**SETTINGS, **(settings or {})})
        await self.ok("POST", "/api/v1/meters", {"name": "calls", "aggregation": "sum"})
        await self.ok(
            "POST",
            "/api/v1/price-plans",
            {
                "name": "basic",
                "currency": "USD",
                "period": "month",
                "fixed_fee": "10",
                "components": [{"meter": "calls", "model": "per_unit", "unit_price": "0.01"}],
            },
        )
        await self.ok(
            "POST",
            "/api/v1/customers",
            {"name": "acme", "currency": "USD", "email": "ap@acme.example", **customer},
        )
        await self.ok(
            "POST",
            "/api/v1/customers/acme/subscription",
            {"price_plan": "basic", "starts_at": "2026-01-01T00:00:00Z"},
        )
        return self

    async def ok(self, method: str, path: str, body: Any = None) -> Any:
        response = await self.api.request(method, path, json=body, headers=self.headers)
        assert response.status_code in (200, 201), (path, response.text)
        return response.json()

    async def advance(self, to: str) -> dict[str, Any]:
        summary = await self.ok("POST", "/api/v1/clock/advance", {"to": to})
        assert summary["errors"] == []
        return summary

    async def use(self, time: str, value: int) -> Any:
        return await self.api.post(
            "/api/v1/measurements",
            json={"meter": "calls", "customer": "acme", "value": value, "time": time},
            headers=self.headers,
        )

    async def invoice(self) -> dict[str, Any]:
        """January's invoice."""
        listed = await self.ok("GET", "/api/v1/invoices", None)
        (summary,) = [i for i in listed["invoices"] if i["period_start"].startswith("2026-01-01")]
        return await self.ok("GET", f"/api/v1/invoices/{summary['id']}")

    async def january_billed(self) -> dict[str, Any]:
        """1,000 calls in January (10.00 + the 10.00 fee); the invoice finalized on Feb 2."""
        await self.advance("2026-01-20T00:00:00Z")
        assert (await self.use("2026-01-15T00:00:00Z", 1000)).status_code == 201
        await self.advance("2026-02-02T00:00:00Z")
        return await self.invoice()


def _actions(invoice: dict[str, Any]) -> list[str]:
    return [event["action"] for event in invoice["timeline"]]


async def test_each_step_happens_exactly_when_its_grace_period_ends(api: Any) -> None:
    billing = await Billing.start(api)
    await billing.advance("2026-01-20T00:00:00Z")
    assert (await billing.use("2026-01-15T00:00:00Z", 1000)).status_code == 201
    closed = await billing.advance("2026-02-01T00:00:00Z")
    assert (closed["cycles_closed"], closed["invoices_finalized"]) == (1, 0)
    # Late usage during the invoice grace period changes the draft.
    assert (await billing.use("2026-01-31T23:00:00Z", 500)).status_code == 201
    draft = await billing.invoice()
    assert (draft["status"], draft["total"]) == ("draft", 2500)
    assert (await billing.advance("2026-02-01T23:59:59Z"))["invoices_finalized"] == 0
    step = await billing.advance("2026-02-02T00:00:00Z")
    assert (step["invoices_finalized"], step["invoices_delivered"]) == (1, 1)
    invoice = await billing.invoice()
    assert invoice["status"] == "delivered" and invoice["total"] == 2500
    assert invoice["finalized_at"].startswith("2026-02-02T00:00:00")
    assert invoice["delivery_channel"] == "sandbox"
    # After it, late usage is refused, naming the invoice.
    late = await billing.use("2026-01-31T23:30:00Z", 1)
    assert late.status_code == 409 and invoice["number"] in late.json()["error"]["message"]
    assert (await billing.advance("2026-02-04T23:59:59Z"))["payments_attempted"] == 0
    charged = await billing.advance("2026-02-05T00:00:00Z")
    assert charged["payments_attempted"] == 1
    invoice = await billing.invoice()
    assert (invoice["status"], invoice["amount_paid"]) == ("paid", 2500)
    (attempt,) = invoice["payment_attempts"]
    assert (attempt["status"], attempt["idempotency_key"]) == (
        "succeeded",
        f"{invoice['id']}:1",
    )
    assert _actions(invoice) == [
        "invoice.finalized",
        "invoice.delivered",
        "payment.attempted",
        "payment.succeeded",
        "notification.sent",
    ]
    ledger = await billing.ok("GET", "/api/v1/customers/acme/ledger")
    assert ledger["problems"] == [] and ledger["totals"]["payment"] == -2500


async def test_delivery_off_and_auto_charge_off_do_nothing(api: Any) -> None:
    billing = await Billing.start(api, {"invoice_delivery": False, "auto_charge": False})
    invoice = await billing.january_billed()
    assert (invoice["status"], invoice["delivery_status"]) == ("finalized", "off")
    quiet = await billing.advance("2026-03-01T00:00:00Z")
    assert (quiet["invoices_delivered"], quiet["payments_attempted"]) == (0, 0)
    assert (await billing.invoice())["payment_attempts"] == []
    assert await SandboxCharge.count() == 0


async def test_finalize_now_skips_the_rest_of_the_grace_period(api: Any) -> None:
    billing = await Billing.start(api, {"invoice_grace_period": "P3D"})
    await billing.advance("2026-02-01T01:00:00Z")
    draft = await billing.invoice()
    done = await billing.ok("POST", f"/api/v1/invoices/{draft['id']}/finalize")
    assert done["status"] in ("finalized", "delivered")
    assert done["finalized_at"].startswith("2026-02-01T01:00:00")
    later = await billing.advance("2026-02-04T00:00:00Z")
    assert later["invoices_finalized"] == 0


async def test_a_failed_charge_is_retried_on_schedule_then_paid(api: Any) -> None:
    billing = await Billing.start(
        api, payment_config={"sandbox": {"outcomes": ["fail:insufficient_funds", "succeed"]}}
    )
    await billing.january_billed()
    await billing.advance("2026-02-05T00:00:00Z")
    invoice = await billing.invoice()
    assert invoice["status"] == "failed"
    assert invoice["next_payment_at"].startswith("2026-02-06T00:00:00")
    assert invoice["payment_attempts"][0]["failure_code"] == "insufficient_funds"
    failed = [e for e in invoice["timeline"] if e["action"] == "notification.sent"]
    assert failed[-1]["details"]["kind"] == "payment_failed"
    assert (await billing.advance("2026-02-05T23:59:00Z"))["payments_attempted"] == 0
    await billing.advance("2026-02-06T00:00:00Z")
    invoice = await billing.invoice()
    assert invoice["status"] == "paid" and invoice["next_payment_at"] is None
    assert [a["status"] for a in invoice["payment_attempts"]] == ["failed", "succeeded"]
    assert (await billing.advance("2026-02-20T00:00:00Z"))["payments_attempted"] == 0
    assert await SandboxCharge.count().where(SandboxCharge.status == "succeeded") == 1


async def test_failing_through_every_retry_ends_uncollectible(api: Any) -> None:
    billing = await Billing.start(
        api, payment_config={"sandbox": {"outcomes": ["fail:card_declined"]}}
    )
    await billing.january_billed()
    for day in ("05", "06", "09"):
        step = await billing.advance(f"2026-02-{day}T00:00:00Z")
        assert step["payments_attempted"] == 1
    invoice = await billing.invoice()
    assert invoice["status"] == "uncollectible" and invoice["next_payment_at"] is None
    assert len(invoice["payment_attempts"]) == 3
    kinds = [
        e["details"]["kind"] for e in invoice["timeline"] if e["action"] == "notification.sent"
    ]
    assert kinds == ["payment_failed", "payment_failed", "payment_final_failure"]
    assert (await billing.advance("2026-03-01T00:00:00Z"))["payments_attempted"] == 0
    # The vendor retries by hand (declined again), then records a bank transfer.
    retried = await billing.ok("POST", f"/api/v1/invoices/{invoice['id']}/retry-payment")
    assert len(retried["payment_attempts"]) == 4 and retried["status"] == "uncollectible"
    paid = await billing.ok(
        "POST", f"/api/v1/invoices/{invoice['id']}/mark-paid", {"reference": "Wire #88123"}
    )
    assert (paid["status"], paid["amount_paid"]) == ("paid", 2000)
    ledger = await billing.ok("GET", "/api/v1/customers/acme/ledger")
    assert ledger["problems"] == [] and ledger["totals"]["payment"] == -2000


async def test_an_unknown_result_is_reconciled_without_a_second_charge(api: Any) -> None:
    billing = await Billing.start(api, payment_config={"sandbox": {"outcomes": ["unknown"]}})
    await billing.january_billed()
    await billing.advance("2026-02-05T00:00:00Z")
    invoice = await billing.invoice()
    assert invoice["status"] == "collecting"
    assert invoice["payment_attempts"][0]["status"] == "unknown"
    # Nothing is retried blindly; five minutes later the provider is asked.
    await billing.advance("2026-02-05T00:04:00Z")
    assert (await billing.invoice())["status"] == "collecting"
    await billing.advance("2026-02-05T00:05:00Z")
    invoice = await billing.invoice()
    assert invoice["status"] == "paid"
    assert [a["status"] for a in invoice["payment_attempts"]] == ["succeeded"]
    assert await SandboxCharge.count() == 1
    assert "payment.reconciled" in _actions(invoice)


async def test_void_and_mark_paid_refuse_what_they_cannot_do(api: Any) -> None:
    billing = await Billing.start(api, {"auto_charge": False})
    await billing.ok(
        "POST", "/api/v1/customers/acme/credits", {"amount": "5.00", "currency": "USD"}
    )
    invoice = await billing.january_billed()
    assert invoice["total"] == 1500  # 20.00 less the 5.00 credit
    path = f"/api/v1/invoices/{invoice['id']}"
    for action, body, field in [
        ("void", {"reason": " "}, "reason"),
        ("void", {}, "reason"),
        ("mark-paid", {"reference": ""}, "reference"),
    ]:
        response = await api.post(f"{path}/{action}", json=body, headers=billing.headers)
        assert response.status_code in (400, 422), response.text
        assert response.json()["error"]["field"] == field
    voided = await billing.ok("POST", f"{path}/void", {"reason": "Wrong plan"})
    assert (voided["status"], voided["void_reason"]) == ("void", "Wrong plan")
    credits = await billing.ok("GET", "/api/v1/customers/acme/credits")
    assert credits["balance"] == 500  # the credit it drew is given back
    ledger = await billing.ok("GET", "/api/v1/customers/acme/ledger")
    assert ledger["problems"] == []
    for action, body in [("void", {"reason": "again"}), ("mark-paid", {"reference": "x"})]:
        response = await api.post(f"{path}/{action}", json=body, headers=billing.headers)
        assert response.status_code == 409
        assert response.json()["error"]["code"] == "invalid_invoice_state"
    retry = await api.post(f"{path}/retry-payment", headers=billing.headers)
    assert retry.status_code == 409 and retry.json()["error"]["code"] == "invoice_not_collectable"
    other = await new_vendor("Other")
    assert (await api.post(f"{path}/void", json={"reason": "x"}, headers=other)).status_code == 404


async def test_a_mistyped_sandbox_script_is_refused_naming_the_outcome(api: Any) -> None:
    headers = await new_vendor()
    for config, field in [
        ({"sandbox": {"outcomes": ["explode"]}}, "payment_config.sandbox.outcomes[0]"),
        ({"sandbox": {"outcomes": ["succeed", "fail:nope"]}}, "payment_config.sandbox.outcomes[1]"),
        ({"sandbox": {"outcome": ["succeed"]}}, "payment_config.sandbox.outcome"),
        ({"sandbox": "succeed"}, "payment_config.sandbox"),
    ]:
        response = await api.post(
            "/api/v1/customers",
            json={"name": "x", "currency": "USD", "payment_config": config},
            headers=headers,
        )
        assert response.status_code == 422, response.text
        assert response.json()["error"]["field"] == field


async def test_only_a_test_clock_moves_and_only_forward(api: Any) -> None:
    real = await new_vendor("Real")
    shown = (await api.get("/api/v1/clock", headers=real)).json()
    assert shown["test_clock"] is False
    refused = await api.post(
        "/api/v1/clock/advance", json={"to": "2030-01-01T00:00:00Z"}, headers=real
    )
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "not_a_test_clock"
    test = await new_vendor("Test", test_clock=utc(2026, 5, 1))
    assert (await api.get("/api/v1/clock", headers=test)).json() == {
        "now": "2026-05-01T00:00:00Z",
        "test_clock": True,
    }
    for body, field in [
        ({"to": "2026-04-01T00:00:00Z"}, "to"),
        ({"to": "2026-06-01T00:00:00"}, "to"),
        ({"to": "soon"}, "to"),
        ({}, "to"),
    ]:
        response = await api.post("/api/v1/clock/advance", json=body, headers=test)
        assert response.status_code in (400, 409, 422), (body, response.text)
        assert response.json()["error"]["field"] == field


async def test_a_late_success_pays_the_invoice_and_stops_the_retries(api: Any) -> None:
    """The provider says later (a webhook, a reconciliation) that a charge we recorded as
    failed went through after all: the invoice is paid and nothing more is charged."""
    from octane.core.clocks import vendor_clock
    from octane.core.collection import apply_result
    from octane.core.contracts import PaymentResult, PaymentStatus
    from tests.helpers import PLUGINS

    billing = await Billing.start(
        api, payment_config={"sandbox": {"outcomes": ["fail:processing_error"]}}
    )
    await billing.january_billed()
    await billing.advance("2026-02-05T00:00:00Z")
    invoice = await billing.invoice()
    assert invoice["status"] == "failed" and invoice["next_payment_at"] is not None
    vendor = billing.headers["X-Vendor-Id"]
    (attempt,) = invoice["payment_attempts"]
    late = PaymentResult(status=PaymentStatus.SUCCEEDED, provider_reference="sbx_late")
    clock = await vendor_clock(vendor)
    assert await apply_result(PLUGINS, vendor, attempt["id"], late, clock=clock) == "succeeded"
    assert await apply_result(PLUGINS, vendor, attempt["id"], late, clock=clock) is None
    invoice = await billing.invoice()
    assert (invoice["status"], invoice["next_payment_at"]) == ("paid", None)
    assert (await billing.advance("2026-03-01T00:00:00Z"))["payments_attempted"] == 0
    ledger = await billing.ok("GET", "/api/v1/customers/acme/ledger")
    assert ledger["problems"] == [] and ledger["totals"]["payment"] == -2000
