"""``/api/v1/meters`` and ``/api/v1/price-plans``."""

from __future__ import annotations

import msgspec
from litestar import Controller, get, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody

from octane.core.catalog import create_meter, create_plan, list_meters, list_plans, update_plan
from octane.core.clock import Clock
from octane.core.errors import ValidationError
from octane.web.api.schemas import ERROR_RESPONSES, MeterIn, MeterOut, PlanIn, PlanOut

__all__ = ["MeterController", "PlanController"]

Vendor = NamedDependency[str]


class MeterController(Controller):
    path = "/api/v1/meters"
    tags = ["meters"]

    @post(summary="Create a meter", responses=ERROR_RESPONSES)
    async def create(
        self, vendor_id: Vendor, clock: NamedDependency[Clock], data: JSONBody[MeterIn]
    ) -> MeterOut:
        meter = await create_meter(
            vendor_id,
            name=data.name,
            aggregation=data.aggregation,
            unit=data.unit,
            unique_label=data.unique_label,
            clock=clock,
        )
        return msgspec.convert(meter, MeterOut)

    @get(summary="List meters", responses=ERROR_RESPONSES)
    async def list(self, vendor_id: Vendor) -> list[MeterOut]:
        return [msgspec.convert(m, MeterOut) for m in await list_meters(vendor_id)]


class PlanController(Controller):
    path = "/api/v1/price-plans"
    tags = ["price plans"]

    @post(summary="Create a price plan", responses=ERROR_RESPONSES)
    async def create(
        self, vendor_id: Vendor, clock: NamedDependency[Clock], data: JSONBody[PlanIn]
    ) -> PlanOut:
        raw = msgspec.to_builtins(data)
        plan = await create_plan(
            vendor_id,
            name=data.name,
            currency=data.currency,
            period=data.period,
            fixed_fee=data.fixed_fee,
            minimum_charge=data.minimum_charge,
            trial_days=data.trial_days,
            components=raw["components"],
            clock=clock,
        )
        return msgspec.convert(plan, PlanOut)

    @get(summary="List price plans", responses=ERROR_RESPONSES)
    async def list(self, vendor_id: Vendor) -> list[PlanOut]:
        return [msgspec.convert(p, PlanOut) for p in await list_plans(vendor_id)]

    @put(
        "/{name:str}",
        summary="Replace a price plan that no subscription uses yet (409 plan_in_use otherwise)",
        responses=ERROR_RESPONSES,
    )
    async def replace(
        self, vendor_id: Vendor, name: FromPath[str], data: JSONBody[PlanIn]
    ) -> PlanOut:
        if data.name != name:
            raise ValidationError(
                f"A plan's name is its id and cannot change ('{name}' in the path, "
                f"'{data.name}' in the body).",
                field="name",
            )
        raw = msgspec.to_builtins(data)
        plan = await update_plan(
            vendor_id,
            name,
            currency=data.currency,
            period=data.period,
            fixed_fee=data.fixed_fee,
            minimum_charge=data.minimum_charge,
            trial_days=data.trial_days,
            components=raw["components"],
        )
        return msgspec.convert(plan, PlanOut)
