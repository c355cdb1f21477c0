"""``/api/v1/customers``: customers, their subscription and their usage."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter

from octane.core.clock import Clock
from octane.core.credit_grants import credit_summary, grant_credit
from octane.core.customers import (
    create_customer,
    get_customer,
    get_customer_row,
    list_customers,
    update_customer,
)
from octane.core.ledger import check_invariants, entries_for_customer
from octane.core.subscriptions import create_subscription, get_subscription
from octane.core.usage import cycle_usage
from octane.core.vendor_settings import check_channel, check_provider
from octane.web.api.schemas import (
    ERROR_RESPONSES,
    CreditIn,
    CreditsOut,
    CustomerIn,
    CustomerOut,
    CustomerPage,
    CustomerPatch,
    LedgerEntryOut,
    LedgerOut,
    SubscriptionIn,
    SubscriptionOut,
    UsageOut,
)

__all__ = ["CustomerController"]

Vendor = NamedDependency[str]


def _fields(data: msgspec.Struct, request: Request[Any, Any, Any]) -> dict[str, Any]:
    """The fields sent, with a per-customer payment provider checked against the enabled
    plugins' providers."""
    fields = {
        name: value
        for name, value in msgspec.structs.asdict(data).items()
        if value is not msgspec.UNSET
    }
    overrides = fields.get("invoice_settings")
    plugins = request.app.state.octane.plugins
    if isinstance(overrides, dict) and "payment_provider" in overrides:
        check_provider(
            overrides["payment_provider"],
            plugins.payment_providers,
            field="invoice_settings.payment_provider",
        )
    if isinstance(overrides, dict) and "delivery_channel" in overrides:
        check_channel(
            overrides["delivery_channel"],
            plugins.delivery_channels,
            field="invoice_settings.delivery_channel",
        )
    return fields


class CustomerController(Controller):
    path = "/api/v1/customers"
    tags = ["customers"]

    @post(summary="Create a customer", responses=ERROR_RESPONSES)
    async def create(
        self,
        request: Request[Any, Any, Any],
        vendor_id: Vendor,
        clock: NamedDependency[Clock],
        data: JSONBody[CustomerIn],
    ) -> CustomerOut:
        created = await create_customer(vendor_id, _fields(data, request), clock=clock)
        return msgspec.convert(created, CustomerOut)

    @get(summary="List customers (by name, paginated)", responses=ERROR_RESPONSES)
    async def list(
        self,
        vendor_id: Vendor,
        clock: NamedDependency[Clock],
        limit: Annotated[int, QueryParameter(ge=1, le=200)] = 50,
        starting_after: FromQuery[str | None] = None,
        search: FromQuery[str] = "",
    ) -> CustomerPage:
        rows, more = await list_customers(
            vendor_id, limit=limit, starting_after=starting_after, search=search
        )
        return CustomerPage(data=[msgspec.convert(r, CustomerOut) for r in rows], has_more=more)

    @get("/{name:str}", summary="Show a customer", responses=ERROR_RESPONSES)
    async def show(
        self, vendor_id: Vendor, clock: NamedDependency[Clock], name: FromPath[str]
    ) -> CustomerOut:
        return msgspec.convert(await get_customer(vendor_id, name), CustomerOut)

    @patch("/{name:str}", summary="Update a customer", responses=ERROR_RESPONSES)
    async def update(
        self,
        request: Request[Any, Any, Any],
        vendor_id: Vendor,
        clock: NamedDependency[Clock],
        name: FromPath[str],
        data: JSONBody[CustomerPatch],
    ) -> CustomerOut:
        return msgspec.convert(
            await update_customer(vendor_id, name, _fields(data, request)), CustomerOut
        )

    @post(
        "/{name:str}/subscription",
        summary="Subscribe the customer to a price plan",
        responses=ERROR_RESPONSES,
    )
    async def subscribe(
        self,
        vendor_id: Vendor,
        clock: NamedDependency[Clock],
        name: FromPath[str],
        data: JSONBody[SubscriptionIn],
    ) -> SubscriptionOut:
        created = await create_subscription(
            vendor_id,
            name,
            price_plan=data.price_plan,
            starts_at=data.starts_at,
            billing_anchor=data.billing_anchor,
            clock=clock,
        )
        return msgspec.convert(created, SubscriptionOut)

    @get(
        "/{name:str}/subscription",
        summary="The subscription and its current cycle",
        responses=ERROR_RESPONSES,
    )
    async def subscription(
        self, vendor_id: Vendor, clock: NamedDependency[Clock], name: FromPath[str]
    ) -> SubscriptionOut:
        return msgspec.convert(
            await get_subscription(vendor_id, name, clock=clock), SubscriptionOut
        )

    @get(
        "/{name:str}/usage",
        summary="Usage and accrued charges of a cycle (current by default)",
        responses=ERROR_RESPONSES,
    )
    async def usage(
        self,
        vendor_id: Vendor,
        clock: NamedDependency[Clock],
        name: FromPath[str],
        request: Request[Any, Any, Any],
        cycle: FromQuery[str | None] = None,
    ) -> UsageOut:
        plugins = request.app.state.octane.plugins
        usage = await cycle_usage(plugins, vendor_id, name, cycle_id=cycle, clock=clock)
        return msgspec.convert(usage, UsageOut)

    @get(
        "/{name:str}/ledger",
        summary="The customer's revenue ledger (newest first) with totals per kind",
        responses=ERROR_RESPONSES,
    )
    async def ledger(
        self,
        vendor_id: Vendor,
        name: FromPath[str],
        limit: Annotated[int, QueryParameter(ge=1, le=500)] = 100,
        before: FromQuery[datetime | None] = None,
    ) -> LedgerOut:
        customer = await get_customer_row(vendor_id, name)
        rows, totals = await entries_for_customer(
            vendor_id, customer["id"], limit=limit, before=before
        )
        problems = await check_invariants(vendor_id, [customer["id"]])
        return LedgerOut(
            customer=name,
            entries=[msgspec.convert(row, LedgerEntryOut) for row in rows],
            totals=totals,
            problems=[str(p) for p in problems],
        )

    @post("/{name:str}/credits", summary="Grant prepaid credit", responses=ERROR_RESPONSES)
    async def grant(
        self,
        vendor_id: Vendor,
        clock: NamedDependency[Clock],
        name: FromPath[str],
        data: JSONBody[CreditIn],
    ) -> CreditsOut:
        await grant_credit(
            vendor_id,
            name,
            amount=data.amount,
            currency=data.currency,
            expires_at=data.expires_at,
            description=data.description,
            clock=clock,
        )
        return msgspec.convert(await credit_summary(vendor_id, name, clock=clock), CreditsOut)

    @get("/{name:str}/credits", summary="Credit balance and grants", responses=ERROR_RESPONSES)
    async def credits(
        self, vendor_id: Vendor, clock: NamedDependency[Clock], name: FromPath[str]
    ) -> CreditsOut:
        return msgspec.convert(await credit_summary(vendor_id, name, clock=clock), CreditsOut)
