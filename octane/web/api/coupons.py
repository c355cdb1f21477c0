"""``/api/v1/coupons`` and redemptions (``/api/v1/customers/{name}/coupons``)."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody

from octane.core.clock import Clock
from octane.core.coupons import create_coupon, customer_coupons, list_coupons, redeem_coupon
from octane.core.customers import get_customer_row
from octane.web.api.schemas import (
    ERROR_RESPONSES,
    CouponIn,
    CouponOut,
    RedeemIn,
    RedemptionOut,
)

__all__ = ["CouponController", "RedemptionController"]

Vendor = NamedDependency[str]


class CouponController(Controller):
    path = "/api/v1/coupons"
    tags = ["discounts"]

    @post(summary="Create a coupon", responses=ERROR_RESPONSES)
    async def create(
        self, vendor_id: Vendor, clock: NamedDependency[Clock], data: JSONBody[CouponIn]
    ) -> CouponOut:
        fields: dict[str, Any] = msgspec.structs.asdict(data)
        return msgspec.convert(await create_coupon(vendor_id, clock=clock, **fields), CouponOut)

    @get(summary="List coupons", responses=ERROR_RESPONSES)
    async def list(self, vendor_id: Vendor) -> list[CouponOut]:
        return [msgspec.convert(c, CouponOut) for c in await list_coupons(vendor_id)]


class RedemptionController(Controller):
    path = "/api/v1/customers/{name:str}/coupons"
    tags = ["discounts"]

    @post(summary="Apply a coupon to a customer", responses=ERROR_RESPONSES)
    async def redeem(
        self,
        vendor_id: Vendor,
        clock: NamedDependency[Clock],
        name: FromPath[str],
        data: JSONBody[RedeemIn],
    ) -> RedemptionOut:
        return msgspec.convert(
            await redeem_coupon(vendor_id, name, data.code, clock=clock), RedemptionOut
        )

    @get(summary="The customer's coupons", responses=ERROR_RESPONSES)
    async def list(self, vendor_id: Vendor, name: FromPath[str]) -> list[RedemptionOut]:
        customer = await get_customer_row(vendor_id, name)
        return [
            RedemptionOut(
                id=r["id"], code=r["coupon"]["code"], customer=name, created_at=r["created_at"]
            )
            for r in await customer_coupons(vendor_id, customer["id"])
        ]
