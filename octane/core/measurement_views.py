"""Reading measurements as they count now: each original in its latest corrected form.

A correction is a new row pointing at the original (``corrects``); the row that counts
is the latest of an original and its corrections, unless that one voids it. This is
the same rule the SQL aggregation applies, so what a person reviews is what is billed.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from octane.core.clock import as_utc
from octane.core.metering import USAGE_COLUMNS, measurements_in
from octane.core.store.tables import Measurement

__all__ = ["VALUE_SCALE", "effective_measurements"]

VALUE_SCALE = 6
"""Measurement values are stored as integer millionths (``value_micros``)."""


async def effective_measurements(
    vendor_id: str,
    customer_id: str,
    start: datetime,
    end: datetime,
    *,
    limit: int = 200,
) -> tuple[list[dict[str, Any]], bool]:
    """The customer's measurements in ``[start, end)``, newest first, and whether more exist.

    Each row: ``key`` (the original's idempotency key, what a correction names),
    ``meter``, ``value`` (Decimal), ``time``, ``labels``, ``voided``, ``corrected``
    (whether this is a correction), ``reason`` and ``corrected_by``.
    """
    source, scope = measurements_in(
        vendor_id,
        [customer_id],
        start,
        end,
        columns=f"{USAGE_COLUMNS}, key, labels, correction_reason, corrected_by",
    )
    rows = await Measurement.raw(
        "SELECT m.id AS id, COALESCE(o.key, m.key) AS key, mt.name AS meter, "
        "m.value_micros AS value_micros, m.time AS time, m.labels AS labels, "
        "m.voided AS voided, m.corrects AS corrects, m.correction_reason AS reason, "
        "m.corrected_by AS corrected_by "
        f"FROM {source} JOIN meter mt ON mt.id = m.meter "
        "LEFT JOIN measurement o ON o.id = m.corrects "
        "WHERE NOT EXISTS (SELECT 1 FROM measurement r "
        "WHERE r.corrects = COALESCE(m.corrects, m.id) AND r.id > m.id) "
        "ORDER BY m.time DESC, m.id DESC LIMIT {}",
        *scope,
        limit + 1,
    )
    out = [
        {
            "key": str(row["key"]),
            "meter": str(row["meter"]),
            "value": Decimal(int(row["value_micros"])).scaleb(-VALUE_SCALE).normalize(),
            "time": as_utc(row["time"]),
            "labels": row["labels"],
            "voided": bool(row["voided"]),
            "corrected": row["corrects"] is not None,
            "reason": str(row["reason"] or ""),
            "corrected_by": str(row["corrected_by"] or ""),
        }
        for row in rows[:limit]
    ]
    return out, len(rows) > limit
