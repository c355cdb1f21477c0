"""Demo data: a vendor on a test clock with customers, meters, price plans and usage.

Running it again is safe: the existing demo vendor is kept and only a new API key
is issued (keys are shown once, so each run prints a fresh one).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from octane.core.clock import TestClock
from octane.core.errors import ConflictError
from octane.core.ids import new_id
from octane.core.store.tables import Customer, Measurement, Meter, PricePlan, Subscription, Vendor
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
                f"{base.rstrip('/')}/api/v1/vendor",
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
    await _seed_catalog(vendor_id, clock.now())
    return DemoSummary(vendor_id=vendor_id, api_key=key.key, created=True)


async def _seed_catalog(vendor_id: str, now: datetime) -> None:
    meters: dict[str, str] = {}
    for name, aggregation, label, unit in _METERS:
        meter_id = new_id("mtr")
        meters[name] = meter_id
        await Meter.insert(
            Meter(
                id=meter_id,
                vendor=vendor_id,
                name=name,
                aggregation=aggregation,
                unique_label=label,
                unit=unit,
                created_at=now,
            )
        )
    plans: dict[str, str] = {}
    for plan in _PLANS:
        plan_id = new_id("pln")
        plans[plan["name"]] = plan_id
        await PricePlan.insert(
            PricePlan(
                id=plan_id,
                vendor=vendor_id,
                name=plan["name"],
                currency="USD",
                period="month",
                fixed_fee=plan["fixed_fee"],
                minimum_charge=plan["minimum_charge"],
                trial_days=plan["trial_days"],
                components=plan["components"],
                created_at=now,
            )
        )
    cycle_start = _month_start(now, 0)
    rng = random.Random(42)  # the same demo every time
    for name, display, email, timezone, plan_name in _CUSTOMERS:
        customer_id = new_id("cus")
        await Customer.insert(
            Customer(
                id=customer_id,
                vendor=vendor_id,
                name=name,
                display_name=display,
                email=email,
                currency="USD",
                timezone=timezone,
                address={"line1": "1 Demo Street", "city": "Springfield", "country": "US"},
                created_at=now,
            )
        )
        starts = _month_start(now, 2)
        await Subscription.insert(
            Subscription(
                id=new_id("sub"),
                vendor=vendor_id,
                customer=customer_id,
                plan=plans[plan_name],
                starts_at=starts,
                billing_anchor=starts,
                created_at=now,
            )
        )
        await Measurement.insert(*_usage(rng, vendor_id, customer_id, meters, cycle_start, now))


def _usage(
    rng: random.Random,
    vendor_id: str,
    customer_id: str,
    meters: dict[str, str],
    since: datetime,
    until: datetime,
) -> list[Measurement]:
    rows: list[Measurement] = []
    moment = since
    step = timedelta(hours=6)
    while moment < until:
        samples: tuple[tuple[str, Decimal, dict[str, str]], ...] = (
            ("api_calls", Decimal(rng.randint(500, 5000)), {}),
            ("storage_gb", Decimal(rng.randint(10, 200)) / 4, {}),
            ("active_users", Decimal(1), {"user_id": f"u{rng.randint(1, 60)}"}),
        )
        for meter, value, labels in samples:
            key = f"demo-{customer_id}-{meter}-{int(moment.timestamp())}"
            content = json.dumps([meter, str(value), moment.isoformat(), labels], sort_keys=True)
            rows.append(
                Measurement(
                    vendor=vendor_id,
                    customer=customer_id,
                    meter=meters[meter],
                    key=key,
                    value_micros=int(value * 1_000_000),
                    time=moment,
                    labels=labels,
                    content_hash=hashlib.sha256(content.encode()).hexdigest(),
                    received_at=moment,
                )
            )
        moment += step
    return rows
