"""The plugin manager: discovery, enabling, validation, and how each kind of hook is called."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from decimal import Decimal
from pathlib import Path
from typing import Any

import msgspec
import pytest

from octane import hookimpl
from octane.core.clock import utc
from octane.core.contracts import (
    AdjustmentLine,
    AdjustmentStage,
    AttemptView,
    ChargeLine,
    CustomerView,
    CycleView,
    DeliveryChannelInfo,
    DeliveryResult,
    DeliveryStatus,
    DraftInvoice,
    InvoiceView,
    JobSpec,
    PaymentProviderInfo,
    PaymentResult,
    PaymentStatus,
    PlanView,
    SettingsPanel,
    UsageTotal,
    VendorView,
)
from octane.core.errors import ConfigError, PluginError
from octane.core.plugins import describe_plugins, load_plugins

VENDOR = VendorView(id="ven_1", name="Vendor")
CUSTOMER = CustomerView(id="cus_1", name="acme", currency="USD")
CYCLE = CycleView(
    id="cyc_1",
    subscription_id="sub_1",
    period_start=utc(2026, 1, 1),
    period_end=utc(2026, 2, 1),
    state="grace",
)
PLAN = PlanView(id="pln_1", name="basic", currency="USD", period="month")
INVOICE = InvoiceView(
    id="inv_1",
    number="INV-1",
    status="finalized",
    currency="USD",
    total=1000,
    amount_due=1000,
    period_start=CYCLE.period_start,
    period_end=CYCLE.period_end,
    issued_at=utc(2026, 2, 2),
    due_at=utc(2026, 2, 16),
    customer=CUSTOMER,
    vendor=VENDOR,
)
ATTEMPT = AttemptView(
    id="pay_1",
    invoice_id="inv_1",
    attempt_number=1,
    amount=1000,
    currency="USD",
    idempotency_key="inv_1:1",
)


class SeatsPlugin:
    """Adds a seat fee: a third-party charge line."""

    @hookimpl
    def compute_charges(self, customer: CustomerView, usage: list[UsageTotal]) -> list[ChargeLine]:
        return [ChargeLine(kind="seats", description="5 seats", amount=2500)]


class HalfOffPlugin:
    @hookimpl
    async def apply_adjustments(
        self, stage: AdjustmentStage, draft: DraftInvoice
    ) -> list[AdjustmentLine] | None:
        if stage is not AdjustmentStage.DISCOUNT:
            return None
        return [AdjustmentLine(kind="discount", description="50%", amount=-draft.subtotal // 2)]


class AcmePayPlugin:
    def __init__(self) -> None:
        self.charged: list[str] = []

    @hookimpl
    def register_payment_providers(self) -> list[PaymentProviderInfo]:
        return [PaymentProviderInfo(name="acmepay", display_name="AcmePay")]

    @hookimpl
    def register_delivery_channels(self) -> list[DeliveryChannelInfo]:
        return [DeliveryChannelInfo(name="pigeon", display_name="Carrier pigeon")]

    @hookimpl
    async def collect_payment(self, attempt: AttemptView) -> PaymentResult:
        self.charged.append(attempt.idempotency_key)
        return PaymentResult(status=PaymentStatus.SUCCEEDED, provider_reference="acme_1")

    @hookimpl
    def reconcile_payment(self, attempt: AttemptView) -> PaymentResult:
        return PaymentResult(status=PaymentStatus.SUCCEEDED, provider_reference="acme_1")

    @hookimpl
    def deliver_invoice(self, invoice: InvoiceView, channel: str) -> DeliveryResult:
        return DeliveryResult(status=DeliveryStatus.DELIVERED, reference=f"{channel}:{invoice.id}")

    @hookimpl
    def register_settings_panels(self) -> list[SettingsPanel]:
        return [SettingsPanel(name="acmepay", title="AcmePay", template="acmepay/panel.html")]

    @hookimpl
    def register_jobs(self) -> list[JobSpec]:
        async def sync(ctx: dict[str, Any]) -> None:
            return None

        return [JobSpec(name="acmepay:sync", function=sync, cron="*/5 * * * *")]

    @hookimpl
    def register_template_dirs(self) -> list[Path]:
        return [Path("/nonexistent/acmepay/templates")]


class SecondPigeonPlugin:
    @hookimpl
    def register_delivery_channels(self) -> list[DeliveryChannelInfo]:
        return [DeliveryChannelInfo(name="pigeon", display_name="Another pigeon")]


class WrongTypePlugin:
    @hookimpl
    def register_payment_providers(self) -> list[PaymentProviderInfo]:
        return [PaymentProviderInfo(name="wrongpay", display_name="WrongPay")]

    @hookimpl
    def collect_payment(self) -> dict[str, str]:
        return {"status": "succeeded"}


class MisspelledPlugin:
    @hookimpl
    def colect_payment(self) -> None:
        return None


class BadArgumentPlugin:
    @hookimpl
    def compute_charges(self, customer: Any, shopping_cart: Any) -> None:
        return None


class IncompatiblePlugin:
    @hookimpl
    def check_compatibility(self) -> list[str]:
        return ["needs the 'frobnicator' package: pip install frobnicator"]


class ConfiguredPlugin:
    class Config(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
        region: str
        retries: int = 3

    @hookimpl
    def plugin_config_schema(self) -> type[Config]:
        return self.Config


def load(*enabled: str, **plugins: object) -> Any:
    """Only the named plugins: the essential ones are tested where they have a database."""
    return load_plugins(
        enabled, extra_plugins=plugins, use_entry_points=False, include_essentials=False
    )


async def test_charges_of_all_plugins_are_combined_and_attributed() -> None:
    class UsagePlugin:
        @hookimpl
        def compute_charges(self, usage: list[UsageTotal]) -> list[ChargeLine]:
            return [ChargeLine(kind="usage", description=u.meter, amount=100) for u in usage]

    host = load("seats", "usage", seats=SeatsPlugin(), usage=UsagePlugin())
    results = await host.call_each(
        "compute_charges",
        vendor=VENDOR,
        customer=CUSTOMER,
        plan=PLAN,
        cycle=CYCLE,
        usage=[UsageTotal(meter="api_calls", quantity=Decimal(10))],
    )
    assert results == [
        ("seats", [ChargeLine(kind="seats", description="5 seats", amount=2500)]),
        ("usage", [ChargeLine(kind="usage", description="api_calls", amount=100)]),
    ]


async def test_adjustments_are_called_per_stage_and_may_be_async() -> None:
    host = load("half", half=HalfOffPlugin())
    draft = DraftInvoice(
        vendor=VENDOR,
        customer=CUSTOMER,
        cycle=CYCLE,
        currency="USD",
        charges=(ChargeLine(kind="usage", description="x", amount=1000),),
    )
    nothing = await host.call_each(
        "apply_adjustments",
        stage=AdjustmentStage.TRIAL,
        draft=draft,
        vendor=VENDOR,
        customer=CUSTOMER,
    )
    assert nothing == []
    discount = await host.call_each(
        "apply_adjustments",
        stage=AdjustmentStage.DISCOUNT,
        draft=draft,
        vendor=VENDOR,
        customer=CUSTOMER,
    )
    assert discount == [("half", [AdjustmentLine(kind="discount", description="50%", amount=-500)])]


async def test_action_hooks_go_to_the_owner_only() -> None:
    acme = AcmePayPlugin()
    host = load("acme", "seats", acme=acme, seats=SeatsPlugin())
    assert host.provider_owner("acmepay") == "acme"
    assert host.channel_owner("pigeon") == "acme"
    assert host.payment_providers["acmepay"].plugin == "acme"

    result = await host.call_owner(
        "acme",
        "collect_payment",
        expect=PaymentResult,
        invoice=INVOICE,
        provider="acmepay",
        attempt=ATTEMPT,
        vendor=VENDOR,
        customer=CUSTOMER,
    )
    assert result.status is PaymentStatus.SUCCEEDED
    assert acme.charged == ["inv_1:1"]
    reconciled = await host.call_owner(
        "acme",
        "reconcile_payment",
        expect=PaymentResult,
        provider="acmepay",
        attempt=ATTEMPT,
        vendor=VENDOR,
        customer=CUSTOMER,
    )
    assert reconciled.provider_reference == "acme_1"
    delivered = await host.call_owner(
        "acme",
        "deliver_invoice",
        expect=DeliveryResult,
        invoice=INVOICE,
        channel="pigeon",
        vendor=VENDOR,
        customer=CUSTOMER,
        settings={},
    )
    assert delivered.reference == "pigeon:inv_1"

    with pytest.raises(PluginError, match="does not implement collect_payment"):
        await host.call_owner(
            "seats",
            "collect_payment",
            expect=PaymentResult,
            invoice=INVOICE,
            provider="acmepay",
            attempt=ATTEMPT,
            vendor=VENDOR,
            customer=CUSTOMER,
        )
    with pytest.raises(PluginError, match="No active plugin provides the payment provider 'nopay'"):
        host.provider_owner("nopay")


async def test_a_wrong_return_type_is_named() -> None:
    host = load("wrong", wrong=WrongTypePlugin())
    with pytest.raises(PluginError) as caught:
        await host.call_owner(
            "wrong",
            "collect_payment",
            expect=PaymentResult,
            invoice=INVOICE,
            provider="wrongpay",
            attempt=ATTEMPT,
            vendor=VENDOR,
            customer=CUSTOMER,
        )
    assert "Plugin 'wrong' returned dict from collect_payment; expected PaymentResult" in str(
        caught.value
    )


async def test_a_failing_plugin_is_named() -> None:
    class Broken:
        @hookimpl
        def compute_charges(self) -> None:
            raise RuntimeError("boom")

    host = load("broken", broken=Broken())
    with pytest.raises(
        PluginError, match="Plugin 'broken' failed in compute_charges: RuntimeError"
    ):
        await host.call_each(
            "compute_charges", vendor=VENDOR, customer=CUSTOMER, plan=PLAN, cycle=CYCLE, usage=[]
        )


def test_registrations_are_collected() -> None:
    host = load("acme", acme=AcmePayPlugin())
    panels = host.call_registration("register_settings_panels")
    assert [(name, panel.title) for name, panel in panels] == [("acme", "AcmePay")]
    jobs = host.call_registration("register_jobs")
    assert [(name, job.name, job.cron) for name, job in jobs] == [
        ("acme", "acmepay:sync", "*/5 * * * *")
    ]
    dirs = host.call_registration("register_template_dirs")
    assert dirs == [("acme", Path("/nonexistent/acmepay/templates"))]


def test_two_plugins_cannot_claim_one_channel() -> None:
    with pytest.raises(PluginError) as caught:
        load("acme", "second", acme=AcmePayPlugin(), second=SecondPigeonPlugin())
    assert "'pigeon' is registered by both 'acme' and 'second'" in str(caught.value)


def test_misspelled_hook_is_caught_at_start_up() -> None:
    with pytest.raises(PluginError) as caught:
        load("typo", typo=MisspelledPlugin())
    message = str(caught.value)
    assert "Plugin 'typo' implements 'colect_payment'" in message
    assert "Did you mean 'collect_payment'?" in message


def test_unknown_hook_argument_is_caught_at_start_up() -> None:
    with pytest.raises(PluginError) as caught:
        load("bad", bad=BadArgumentPlugin())
    assert "Plugin 'bad'" in str(caught.value)
    assert "shopping_cart" in str(caught.value)


def test_unknown_plugin_name_lists_the_installed_ones() -> None:
    with pytest.raises(ConfigError) as caught:
        load("strpie")
    message = str(caught.value)
    assert "unknown plugin 'strpie'" in message
    assert "Installed plugins: " in message
    assert "stripe" in message and "pdf_email" in message
    assert "Did you mean 'stripe'?" in message


def test_enabled_plugin_with_compatibility_errors_stops_start_up() -> None:
    with pytest.raises(PluginError) as caught:
        load("old", old=IncompatiblePlugin())
    assert "Plugin 'old' cannot run here" in str(caught.value)
    assert "pip install frobnicator" in str(caught.value)
    # ...but it is listed (disabled, with its errors) rather than hiding.
    records = {
        r.name: r
        for r in describe_plugins(
            [], extra_plugins={"old": IncompatiblePlugin()}, use_entry_points=False
        )
    }
    assert records["old"].enabled is False
    assert records["old"].errors == ["needs the 'frobnicator' package: pip install frobnicator"]


def test_disabled_plugins_are_not_called() -> None:
    host = load_plugins([], extra_plugins={"acme": AcmePayPlugin()}, use_entry_points=False)
    assert "acme" not in host.active
    assert host.payment_providers == {}


def test_plugin_config_block_is_validated_by_the_plugin_schema() -> None:
    host = load_plugins(
        ["conf"],
        blocks={"conf": {"region": "eu"}},
        extra_plugins={"conf": ConfiguredPlugin()},
        use_entry_points=False,
    )
    assert host.plugin_config["conf"] == ConfiguredPlugin.Config(region="eu", retries=3)
    with pytest.raises(ConfigError) as caught:
        load_plugins(
            ["conf"],
            blocks={"conf": {"region": "eu", "retires": 5}},
            extra_plugins={"conf": ConfiguredPlugin()},
            use_entry_points=False,
        )
    assert "plugins.conf.retires" in str(caught.value)


def test_block_for_a_plugin_without_config_is_refused() -> None:
    with pytest.raises(
        ConfigError, match=r"plugins.seats: the plugin 'seats' takes no configuration"
    ):
        load_plugins(
            ["seats"],
            blocks={"seats": {"x": 1}},
            extra_plugins={"seats": SeatsPlugin()},
            use_entry_points=False,
        )


def test_bundled_stripe_plugin_validates_its_block() -> None:
    host = load_plugins(
        ["stripe"], blocks={"stripe": {"secret_key": "sk_test_x"}}, use_entry_points=False
    )
    assert host.plugin_config["stripe"].secret_key == "sk_test_x"
    with pytest.raises(ConfigError, match=r"plugins\.stripe\.secret"):
        load_plugins(["stripe"], blocks={"stripe": {"secret": "x"}}, use_entry_points=False)


def test_stripe_plugin_reports_a_missing_sdk_with_the_pip_command(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "stripe" else real(name, *a)
    )
    records = {r.name: r for r in describe_plugins([], use_entry_points=False)}
    assert records["stripe"].errors == [
        "The package 'stripe' is needed for the Stripe plugin but is not installed. "
        "Install it with: pip install 'octane-billing[stripe]'"
    ]


# --------------------------------------------------------------------- entry points


def _install_distribution(site: Path) -> None:
    """A real installed distribution: a module plus a .dist-info declaring the entry point."""
    (site / "octane_acme_plugin.py").write_text(
        textwrap.dedent(
            """
            from octane import hookimpl
            from octane.core.contracts import PaymentProviderInfo

            @hookimpl
            def register_payment_providers():
                return [PaymentProviderInfo(name="acme", display_name="Acme Pay")]
            """
        )
    )
    info = site / "octane_acme_plugin-1.2.3.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: octane-acme-plugin\nVersion: 1.2.3\n"
    )
    (info / "entry_points.txt").write_text("[octane.plugins]\nacme = octane_acme_plugin\n")


def test_third_party_plugin_is_found_through_its_entry_point(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _install_distribution(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))

    records = {r.name: r for r in describe_plugins([])}
    assert records["acme"].origin == "entry point (octane-acme-plugin)"
    assert records["acme"].version == "1.2.3"
    assert records["acme"].enabled is False  # installed is not enabled
    assert records["acme"].hooks == ["register_payment_providers"]

    host = load_plugins(["acme"])
    assert host.provider_owner("acme") == "acme"


def test_octane_plugins_command_lists_the_entry_point_plugin(tmp_path: Path) -> None:
    _install_distribution(tmp_path)
    env = {
        **os.environ,
        "PYTHONPATH": str(tmp_path),
        "OCTANE_DATA_DIR": str(tmp_path / "data"),
        "OCTANE_PLUGINS__ENABLED": "acme,pdf_email",
    }
    env.pop("OCTANE_CONFIG", None)
    done = subprocess.run(
        [sys.executable, "-m", "octane", "plugins", "--json"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        check=True,
    )
    listed = {p["name"]: p for p in json.loads(done.stdout)}
    assert listed["acme"]["enabled"] is True
    assert listed["acme"]["version"] == "1.2.3"
    assert listed["stripe"]["enabled"] is False
    assert {"deliver_invoice", "render_invoice_pdf", "send_notification"} <= set(
        listed["pdf_email"]["hooks"]
    )


def test_the_core_plugins_are_always_active() -> None:
    host = load_plugins([], use_entry_points=False)
    assert {"pricing", "discounts", "tax", "credits"} <= set(host.active)
    records = {r.name: r for r in describe_plugins([], use_entry_points=False)}
    assert records["credits"].origin == "essential" and records["credits"].enabled
    assert records["tax"].hooks == ["apply_adjustments"]
