"""Demo data: a vendor on a test clock with customers, meters, price plans and usage.

Running it again is safe: the existing demo vendor is kept and only a new API key
is issued (keys are shown once, so each run prints a fresh one).
"""

from __future__ import annotations

import contextlib
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from octane.core.accrual import accrue_vendor
from octane.core.branding import update_branding
from octane.core.catalog import create_meter, create_plan
from octane.core.clock import TestClock
from octane.core.clocks import vendor_clock
from octane.core.customers import create_customer, update_customer
from octane.core.errors import ConflictError
from octane.core.lifecycle import run_due_work
from octane.core.metering import ingest
from octane.core.store.tables import Vendor
from octane.core.subscriptions import create_subscription
from octane.core.vendor_settings import update_invoice_settings
from octane.core.vendors import create_api_key, create_portal_user, create_vendor

if TYPE_CHECKING:
    from octane.core.config import OctaneConfig
    from octane.core.runtime import Octane

__all__ = ["DEMO_EMAIL", "DEMO_PASSWORD", "DEMO_VENDOR_NAME", "DemoSummary", "seed_demo"]

DEMO_VENDOR_NAME = "Demo Cloud Inc."
DEMO_EMAIL = "demo@octane.example"
DEMO_PASSWORD = "octane-demo-password"

_METERS = (
    ("api_calls", "sum", None, "calls"),
    ("storage_gb", "max", None, "GB"),
    ("active_users", "unique_count", "user_id", "users"),
)

_PLANS: tuple[dict[str, Any], ...] = (
    {
        "name": "starter",
        "fixed_fee": "29.00",
        "minimum_charge": "0",
        "trial_days": 0,
        "components": [
            {
                "meter": "api_calls",
                "model": "per_unit",
                "unit_price": "0.0004",
                "included_units": "10000",
            },
            {
                "meter": "storage_gb",
                "model": "per_unit",
                "unit_price": "0.25",
                "included_units": "5",
            },
        ],
    },
    {
        "name": "growth",
        "fixed_fee": "99.00",
        "minimum_charge": "150.00",
        "trial_days": 14,
        "components": [
            {
                "meter": "api_calls",
                "model": "graduated",
                "tiers": [
                    {"up_to": "100000", "unit_price": "0.0005", "flat_fee": "0"},
                    {"up_to": "1000000", "unit_price": "0.0003", "flat_fee": "0"},
                    {"up_to": None, "unit_price": "0.0001", "flat_fee": "0"},
                ],
            },
            {
                "meter": "storage_gb",
                "model": "volume",
                "tiers": [
                    {"up_to": "100", "unit_price": "0.20", "flat_fee": "0"},
                    {"up_to": None, "unit_price": "0.15", "flat_fee": "0"},
                ],
            },
            {
                "meter": "active_users",
                "model": "package",
                "package_size": "10",
                "package_price": "5.00",
            },
        ],
    },
)

_CUSTOMERS = (
    ("acme", "Acme Corporation", "billing@acme.example", "America/New_York", "growth"),
    ("globex", "Globex Ltd", "ap@globex.example", "Europe/London", "starter"),
    ("initech", "Initech GmbH", "rechnung@initech.example", "Europe/Berlin", "growth"),
    ("umbrella", "Umbrella KK", "finance@umbrella.example", "Asia/Tokyo", "starter"),
    ("hooli", "Hooli Inc.", "payables@hooli.example", "America/Los_Angeles", "growth"),
)


@dataclass(frozen=True)
class DemoSummary:
    vendor_id: str
    api_key: str
    created: bool

    def describe(self, config: OctaneConfig) -> str:
        base = config.web.public_url or f"http://{config.web.host}:{config.web.port}"
        state = "created" if self.created else "already present; a new API key was issued"
        return "\n".join(
            [
                f"Demo vendor {self.vendor_id} ({DEMO_VENDOR_NAME}): {state}.",
                f"  Portal:   {base.rstrip('/')}/portal/",
                f"  Login:    {DEMO_EMAIL} / {DEMO_PASSWORD}",
                f"  API key:  {self.api_key}",
                f"  Try:      curl -H 'Authorization: Bearer {self.api_key}' "
                f"{base.rstrip('/')}/api/v1/invoices",
                "  Travel:   curl -X POST -H 'Content-Type: application/json' "
                f"-H 'Authorization: Bearer {self.api_key}' "
                f'-d \'{{"to": "<RFC 3339 time>"}}\' {base.rstrip("/")}/api/v1/clock/advance',
                f"            (or: octane clock advance --vendor {self.vendor_id} --to <time>)",
            ]
        )


def _month_start(moment: datetime, months_back: int) -> datetime:
    year, month = moment.year, moment.month - months_back
    while month < 1:
        month += 12
        year -= 1
    return datetime(year, month, 1, tzinfo=UTC)


async def seed_demo(runtime: Octane) -> DemoSummary:
    existing = await Vendor.select(Vendor.id).where(Vendor.name == DEMO_VENDOR_NAME).first()
    if existing is not None:
        key = await create_api_key(str(existing["id"]), clock=runtime.clock, name="demo")
        return DemoSummary(vendor_id=str(existing["id"]), api_key=key.key, created=False)

    real_now = runtime.clock.now().replace(minute=0, second=0, microsecond=0)
    vendor = await create_vendor(
        name=DEMO_VENDOR_NAME,
        email="billing@demo-cloud.example",
        clock=runtime.clock,
        test_clock_start=real_now,
    )
    vendor_id = str(vendor["id"])
    clock = TestClock(real_now)
    key = await create_api_key(vendor_id, clock=runtime.clock, name="demo")
    with contextlib.suppress(ConflictError):  # a login left over from an earlier demo
        await create_portal_user(
            vendor_id, email=DEMO_EMAIL, password=DEMO_PASSWORD, clock=runtime.clock
        )
    await update_branding(vendor_id, _BRANDING)
    await _seed_catalog(vendor_id, clock)
    await _seed_lifecycle(runtime, vendor_id)
    return DemoSummary(vendor_id=vendor_id, api_key=key.key, created=True)


_BRANDING = {
    "company_name": DEMO_VENDOR_NAME,
    "address_lines": ["500 Howard Street, Suite 300", "San Francisco, CA 94105", "United States"],
    "tax_id": "US 94-1234567",
    "accent_color": "#2f54eb",
    "footer": "Demo Cloud Inc. · billing@demo-cloud.example · Questions? Reply to this email.",
    "reply_to": "billing@demo-cloud.example",
}

#: Scripted sandbox outcomes, so that the demo shows a retried and a failing customer.
_PAYMENT_SCRIPTS = {
    "initech": {"sandbox": {"outcomes": ["fail:insufficient_funds", "succeed"]}},
    "umbrella": {"sandbox": {"outcomes": ["fail:card_declined"]}},
}


async def _seed_lifecycle(runtime: Octane, vendor_id: str) -> None:
    """Charge through the sandbox provider, deliver on the sandbox channel (when enabled),
    and bill the cycles that already ended, so the demo opens with invoices to look at."""
    plugins = runtime.plugins
    if "sandbox" in plugins.payment_providers:
        await update_invoice_settings(
            vendor_id,
            {"payment_provider": "sandbox", "delivery_channel": "sandbox"},
            providers=plugins.payment_providers,
            channels=plugins.delivery_channels,
        )
        for name, config in _PAYMENT_SCRIPTS.items():
            await update_customer(vendor_id, name, {"payment_config": config})
    await run_due_work(plugins, vendor_id, await vendor_clock(vendor_id))
    await accrue_vendor(plugins, vendor_id)  # the dashboard opens with revenue accrued


async def _seed_catalog(vendor_id: str, clock: TestClock) -> None:
    """Meters, plans, customers, subscriptions and usage, through the same services as
    the API (so the demo data obeys every rule real data does)."""
    now = clock.now()
    for name, aggregation, label, unit in _METERS:
        await create_meter(
            vendor_id,
            name=name,
            aggregation=aggregation,
            unit=unit,
            unique_label=label,
            clock=clock,
        )
    for plan in _PLANS:
        await create_plan(vendor_id, currency="USD", period="month", clock=clock, **plan)
    starts_at = _month_start(now, 2)
    rng = random.Random(42)  # the same demo every time
    for name, display, email, timezone, plan_name in _CUSTOMERS:
        await create_customer(
            vendor_id,
            {
                "name": name,
                "display_name": display,
                "email": email,
                "currency": "USD",
                "timezone": timezone,
                "address": {"line1": "1 Demo Street", "city": "Springfield", "country": "US"},
            },
            clock=clock,
        )
        await create_subscription(
            vendor_id, name, price_plan=plan_name, starts_at=starts_at, clock=clock
        )
        # Usage from the start, so the invoices already finalized show real usage too.
        result = await ingest(vendor_id, _usage(rng, name, starts_at, now), clock=clock)
        if result.errors:  # the demo's own data must be valid; say so loudly if not
            raise result.errors[0].error


def _usage(
    rng: random.Random, customer: str, since: datetime, until: datetime
) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    moment = since
    while moment < until:
        stamp = moment.isoformat()
        items += [
            {
                "id": f"demo-{customer}-calls-{stamp}",
                "meter": "api_calls",
                "customer": customer,
                "value": str(rng.randint(500, 5000)),
                "time": stamp,
            },
            {
                "id": f"demo-{customer}-gb-{stamp}",
                "meter": "storage_gb",
                "customer": customer,
                "value": str(Decimal(rng.randint(10, 200)) / 4),
                "time": stamp,
            },
            {
                "id": f"demo-{customer}-users-{stamp}",
                "meter": "active_users",
                "customer": customer,
                "value": "1",
                "time": stamp,
                "labels": {"user_id": f"u{rng.randint(1, 60)}"},
            },
        ]
        moment += timedelta(hours=6)
    return items
