"""``/api/v1/measurements``: usage ingestion (single, batch) and corrections."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Controller, Request, Response, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody

from octane.core.clock import Clock
from octane.core.metering import correct_measurement, ingest
from octane.web.api.schemas import (
    ERROR_RESPONSES,
    BatchIn,
    BatchOut,
    CorrectionIn,
    CorrectionOut,
    ItemErrorOut,
    MeasurementIn,
    MeasurementOut,
)

__all__ = ["MeasurementController"]

Vendor = NamedDependency[str]


class MeasurementController(Controller):
    path = "/api/v1/measurements"
    tags = ["measurements"]

    @post(
        summary="Record one measurement (idempotent by id)",
        description="201 when stored, 200 when the same id and content were already stored.",
        responses=ERROR_RESPONSES,
    )
    async def create(
        self, vendor_id: Vendor, clock: NamedDependency[Clock], data: JSONBody[MeasurementIn]
    ) -> Response[MeasurementOut]:
        item = {k: v for k, v in msgspec.to_builtins(data).items() if v is not None}
        result = await ingest(vendor_id, [item], clock=clock)
        if result.errors:
            raise result.errors[0].error
        key, status = result.ids[0]
        return Response(
            MeasurementOut(id=key, status=status),  # type: ignore[arg-type]
            status_code=201 if status == "created" else 200,
        )

    @post(
        "/batch",
        summary="Record up to 10,000 measurements",
        description="Valid items are stored even when others are refused; each refused item "
        "is listed with its index, code, field and message.",
        status_code=200,
        responses=ERROR_RESPONSES,
    )
    async def batch(
        self, vendor_id: Vendor, clock: NamedDependency[Clock], data: JSONBody[BatchIn]
    ) -> BatchOut:
        result = await ingest(vendor_id, data.measurements, clock=clock)
        return BatchOut(
            accepted=result.accepted,
            duplicates=result.duplicates,
            errors=[msgspec.convert(e.as_dict(), ItemErrorOut) for e in result.errors],
        )

    @post(
        "/{key:str}/correction",
        summary="Correct or void a measurement while its cycle is open or in grace",
        status_code=201,
        responses=ERROR_RESPONSES,
    )
    async def correct(
        self,
        vendor_id: Vendor,
        clock: NamedDependency[Clock],
        key: FromPath[str],
        data: JSONBody[CorrectionIn],
        request: Request[Any, Any, Any],
    ) -> CorrectionOut:
        corrected = await correct_measurement(
            vendor_id,
            key,
            value=data.value,
            void=data.void,
            reason=data.reason,
            actor=f"api_key:{request.state.api_key_id}",
            clock=clock,
        )
        return msgspec.convert(corrected, CorrectionOut)
