"""Usage measurements: idempotent batched ingestion, corrections, and aggregation in SQL.

Ingestion rules (each broken rule is an error naming the field, per item in a batch):

* ``value`` is a decimal string or an integer with at most 6 decimals (stored as
  integer millionths, so SUM/MAX are exact in SQL on both databases). Negative
  values are refused except for ``last`` meters (a gauge may go below zero).
* ``time`` is RFC 3339 with an offset, at most 5 minutes in the vendor's future.
  Late data is normal: a time in an open cycle or one in its invoice grace period
  is accepted; a time in an invoiced cycle is refused, naming the invoice.
* ``id`` is the idempotency key, unique per vendor (generated when absent). The
  same id with the same content is a duplicate (success, stored once); with other
  content it is a conflict. The database's unique index decides, so concurrent
  clients cannot store a key twice.

A correction is a new row pointing at the original (``corrects``); the effective
value of a measurement is its latest correction. Aggregations read only effective,
non-voided rows over a cycle's half-open period.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import msgspec

from octane.core.clock import Clock
from octane.core.cycles import Period
from octane.core.errors import (
    ConflictError,
    NotFoundError,
    OctaneError,
    StateError,
    ValidationError,
)
from octane.core.ids import new_id
from octane.core.money import parse_decimal
from octane.core.store import bulk
from octane.core.store.engine import is_postgres, is_unique_violation
from octane.core.store.tables import BillingCycle, Customer, Invoice, Measurement, Meter

__all__ = [
    "FUTURE_TOLERANCE",
    "MAX_BATCH",
    "IngestResult",
    "ItemError",
    "aggregate",
    "aggregate_many",
    "correct_measurement",
    "ingest",
]

MAX_BATCH = 10_000
FUTURE_TOLERANCE = timedelta(minutes=5)
VALUE_PLACES = 6
SCALE: int = 10**VALUE_PLACES
_KEY = re.compile(r"[A-Za-z0-9._:@~+=-]{1,255}")


@dataclass(frozen=True)
class ItemError:
    index: int
    error: OctaneError

    def as_dict(self) -> dict[str, Any]:
        return {"index": self.index, **self.error.as_dict()}


@dataclass
class IngestResult:
    accepted: int = 0
    duplicates: int = 0
    errors: list[ItemError] = field(default_factory=list)
    ids: dict[int, tuple[str, str]] = field(default_factory=dict)
    """Index -> (measurement id, ``created`` or ``duplicate``)."""


@dataclass(slots=True)
class _Item:
    index: int
    key: str
    meter: str
    customer: str
    micros: int
    time: datetime
    labels: dict[str, str]
    meter_id: str = ""
    customer_id: str = ""
    content_hash: str = ""


def _text(raw: Mapping[str, Any], name: str) -> str:
    value = raw.get(name)
    if not isinstance(value, str) or not value:
        raise ValidationError(f"'{name}' is required and must be a string.", field=name)
    return value


def parse_time(value: object, *, field: str = "time") -> datetime:
    """An RFC 3339 timestamp with an offset, as an aware UTC datetime."""
    if not isinstance(value, str):
        raise ValidationError(
            "Must be an RFC 3339 timestamp string.", field=field, code="invalid_time"
        )
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ValidationError(
            f"'{value}' is not an RFC 3339 timestamp such as 2026-01-31T12:00:00Z.",
            field=field,
            code="invalid_time",
        ) from None
    if parsed.tzinfo is None or ("T" not in value and "t" not in value):
        raise ValidationError(
            f"'{value}' has no UTC offset; add Z or +hh:mm (e.g. 2026-01-31T12:00:00Z).",
            field=field,
            code="invalid_time",
        )
    return parsed if parsed.tzinfo is UTC else parsed.astimezone(UTC)


def _labels(value: object) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict) or len(value) > 50:
        raise ValidationError(
            "labels must be an object of at most 50 string values.",
            field="labels",
            code="invalid_labels",
        )
    for key, item in value.items():
        if not isinstance(item, str) or len(key) > 100 or len(item) > 500:
            raise ValidationError(
                "Every label value must be a string (keys up to 100, values up to 500 characters).",
                field=f"labels.{key}",
                code="invalid_labels",
            )
    return value


def _parse_item(raw: object, index: int, now: datetime) -> _Item:
    if not isinstance(raw, dict):
        raise ValidationError("Each measurement must be an object.", field=None)
    unknown = set(raw) - {"meter", "customer", "value", "time", "labels", "id"}
    if unknown:
        name = sorted(unknown)[0]
        raise ValidationError(
            f"'{name}' is not a measurement field.", field=name, code="unknown_field"
        )
    key = raw.get("id")
    if key is None:
        key = new_id("msr")
    elif not isinstance(key, str) or not _KEY.fullmatch(key):
        raise ValidationError(
            "id must be 1 to 255 characters: letters, digits and . _ : @ ~ + = -",
            field="id",
        )
    if "value" not in raw:
        raise ValidationError("'value' is required.", field="value")
    value = parse_decimal(raw["value"], field="value", max_places=VALUE_PLACES)
    time = parse_time(raw.get("time"))
    if time > now + FUTURE_TOLERANCE:
        raise ValidationError(
            f"time {time.isoformat()} is more than 5 minutes in the future "
            f"(it is {now.isoformat()} for this vendor).",
            field="time",
            code="time_in_future",
        )
    micros = int(value.scaleb(VALUE_PLACES))
    if abs(micros) >= 2**62:
        raise ValidationError("value is too large.", field="value")
    return _Item(
        index=index,
        key=key,
        meter=_text(raw, "meter"),
        customer=_text(raw, "customer"),
        micros=micros,
        time=time,
        labels=_labels(raw.get("labels")),
    )


class _Wire(msgspec.Struct, forbid_unknown_fields=True):
    """The shape of a well-formed measurement, so that a batch is decoded and type-checked
    in C. An item that does not fit goes through :func:`_parse_item`, which says what is
    wrong with it; so does an item this fast path is unsure of (see :func:`_fast_item`)."""

    meter: str
    customer: str
    value: str | int
    time: str
    labels: dict[str, str] | None = None
    id: str | None = None


_PLAIN_DECIMAL = re.compile(r"-?([0-9]{1,12})(?:\.([0-9]{1,6}))?")


def _fast_micros(value: str | int) -> int | None:
    """Millionths of a plain decimal (``-12.5``, ``7``), or None for anything else."""
    if isinstance(value, int):
        micros = value * SCALE
        return micros if abs(micros) < 2**62 else None
    match = _PLAIN_DECIMAL.fullmatch(value)
    if match is None:
        return None
    whole: str = match[1]
    fraction: str | None = match[2]
    scaled = int(whole) * SCALE + (int(fraction.ljust(VALUE_PLACES, "0")) if fraction else 0)
    return -scaled if value[0] == "-" else scaled


def _fast_item(wire: _Wire, index: int, now: datetime) -> _Item | None:
    """The item, if it is plainly valid; None sends it through :func:`_parse_item`.

    Accepts a subset of what :func:`_parse_item` accepts, with the same result, so the
    errors and their order stay those of the one careful parser.
    """
    key = wire.id
    if key is None:
        key = new_id("msr")
    elif not _KEY.fullmatch(key):
        return None
    micros = _fast_micros(wire.value)
    labels = wire.labels
    if labels is None:
        labels = {}
    elif len(labels) > 50 or any(len(k) > 100 or len(v) > 500 for k, v in labels.items()):
        return None
    if micros is None or not wire.meter or not wire.customer:
        return None
    try:
        time = parse_time(wire.time)
    except ValidationError:
        return None
    if time > now + FUTURE_TOLERANCE:
        return None
    return _Item(index, key, wire.meter, wire.customer, micros, time, labels)


def _parse_items(raw_items: Sequence[object], now: datetime, result: IngestResult) -> list[_Item]:
    """Parse every item; the refused ones become errors in ``result``."""
    try:
        wires: list[_Wire | None] = list(msgspec.convert(raw_items, list[_Wire]))
    except msgspec.ValidationError:  # some item is malformed: sort them out one by one
        wires = []
        for raw in raw_items:
            try:
                wires.append(msgspec.convert(raw, _Wire))
            except msgspec.ValidationError:
                wires.append(None)
    items: list[_Item] = []
    for index, (raw, wire) in enumerate(zip(raw_items, wires, strict=True)):
        item = _fast_item(wire, index, now) if wire is not None else None
        if item is None:
            try:
                item = _parse_item(raw, index, now)
            except OctaneError as error:
                result.errors.append(ItemError(index, error))
                continue
        items.append(item)
    return items


def _content_hash(item: _Item) -> str:
    """A digest of what the client sent, to tell a replay from a conflicting reuse of an id.

    Fields are joined with a separator that cannot occur in names (\x1f), which is
    several times cheaper than JSON on the ingestion hot path.
    """
    labels = (
        "\x1e".join(f"{k}\x1d{v}" for k, v in sorted(item.labels.items())) if item.labels else ""
    )
    content = (
        f"{item.meter}\x1f{item.customer}\x1f{item.micros}\x1f{item.time.isoformat()}\x1f{labels}"
    )
    return hashlib.sha256(content.encode()).hexdigest()


#: (table, vendor, name) -> row, for meters and customers: their ids and the fields read
#: here never change and rows are never deleted, so a positive answer can be kept.
_NAME_CACHE: dict[tuple[str, str, str], dict[str, Any]] = {}
_NAME_CACHE_LIMIT = 200_000


async def _lookup(vendor_id: str, table: Any, names: set[str]) -> dict[str, dict[str, Any]]:
    tablename = table._meta.tablename
    found: dict[str, dict[str, Any]] = {}
    for name in names:
        cached = _NAME_CACHE.get((tablename, vendor_id, name))
        if cached is not None:
            found[name] = cached
    pending = sorted(names - found.keys())
    for start in range(0, len(pending), 500):
        chunk = pending[start : start + 500]
        columns = [table.id, table.name]
        if hasattr(table, "aggregation"):
            columns.append(table.aggregation)
        rows = await table.select(*columns).where(
            (table.vendor == vendor_id) & table.name.is_in(chunk)
        )
        if len(_NAME_CACHE) > _NAME_CACHE_LIMIT:
            _NAME_CACHE.clear()
        for row in rows:
            found[row["name"]] = row
            _NAME_CACHE[(tablename, vendor_id, row["name"])] = row
    return found


async def _invoiced_cycles(
    vendor_id: str, customer_ids: set[str], since: datetime
) -> dict[str, list[tuple[Period, str]]]:
    """Per customer, the invoiced periods ending after ``since`` with their invoice number."""
    if not customer_ids:
        return {}
    rows = await BillingCycle.select(
        BillingCycle.customer,
        BillingCycle.period_start,
        BillingCycle.period_end,
        BillingCycle.id,
    ).where(
        (BillingCycle.vendor == vendor_id)
        & BillingCycle.customer.is_in(sorted(customer_ids))
        & (BillingCycle.state == "invoiced")
        & (BillingCycle.period_end > since)
    )
    if not rows:
        return {}
    numbers = {
        row["cycle"]: row["number"]
        for row in await Invoice.select(Invoice.cycle, Invoice.number).where(
            Invoice.cycle.is_in([r["id"] for r in rows])
        )
    }
    periods: dict[str, list[tuple[Period, str]]] = {}
    for row in rows:
        periods.setdefault(row["customer"], []).append(
            (Period(row["period_start"], row["period_end"]), numbers.get(row["id"]) or row["id"])
        )
    return periods


def _check_open_cycle(item: _Item, invoiced: Mapping[str, list[tuple[Period, str]]]) -> None:
    for period, number in invoiced.get(item.customer_id, ()):
        if item.time in period:
            raise _invoiced_error(item, number)


def _check_sign(item: _Item, aggregation: str) -> None:
    if item.micros < 0 and aggregation != "last":
        raise ValidationError(
            f"The meter '{item.meter}' ({aggregation}) does not accept negative values.",
            field="value",
            code="negative_value",
        )


async def ingest(vendor_id: str, raw_items: Sequence[object], *, clock: Clock) -> IngestResult:
    """Validate and store measurements; valid items are stored even if others fail."""
    if len(raw_items) > MAX_BATCH:
        raise ValidationError(
            f"A batch holds at most {MAX_BATCH} measurements ({len(raw_items)} sent).",
            field="measurements",
            code="batch_too_large",
        )
    result = IngestResult()
    now = clock.now()
    items = _parse_items(raw_items, now, result)
    meters = await _lookup(vendor_id, Meter, {i.meter for i in items})
    customers = await _lookup(vendor_id, Customer, {i.customer for i in items})
    resolved: list[_Item] = []
    for item in items:
        meter, customer = meters.get(item.meter), customers.get(item.customer)
        try:
            if meter is None:
                raise ValidationError(
                    f"There is no meter '{item.meter}'.", field="meter", code="unknown_meter"
                )
            if customer is None:
                raise ValidationError(
                    f"There is no customer '{item.customer}'.",
                    field="customer",
                    code="unknown_customer",
                )
            _check_sign(item, meter["aggregation"])
        except OctaneError as error:
            result.errors.append(ItemError(item.index, error))
            continue
        item.meter_id, item.customer_id = meter["id"], customer["id"]
        item.content_hash = _content_hash(item)
        resolved.append(item)
    if resolved:
        await _store(vendor_id, resolved, now, result)
    result.errors.sort(key=lambda e: e.index)
    return result


def _invoiced_error(item: _Item, number: str) -> StateError:
    return StateError(
        f"The billing cycle containing {item.time.isoformat()} is already invoiced "
        f"(invoice {number}); late usage can no longer change it.",
        field="time",
        code="cycle_invoiced",
    )


async def _store(vendor_id: str, items: list[_Item], now: datetime, result: IngestResult) -> None:
    """Write the items; the invoiced-cycle fence runs inside the write transaction.

    Items may repeat an id: the first item of an id that the fence lets through is the
    one stored, and the others are duplicates of it or conflicts with it.
    """
    rows = [
        (
            vendor_id,
            i.customer_id,
            i.meter_id,
            i.key,
            i.micros,
            i.time,
            json.dumps(i.labels, separators=(",", ":")) if i.labels else "{}",
            i.content_hash,
            now,
        )
        for i in items
    ]
    created, existing, fenced = await bulk.insert_measurements(rows, vendor_id)
    first: dict[str, _Item] = {}
    for position, item in enumerate(items):
        number = fenced.get(position)
        if number is not None:
            result.errors.append(ItemError(item.index, _invoiced_error(item, number)))
            continue
        original = first.setdefault(item.key, item)
        stored_hash = item.content_hash if item.key in created else existing.get(item.key)
        if item.key in created and item is original:
            result.accepted += 1
            result.ids[item.index] = (item.key, "created")
        elif stored_hash == item.content_hash:
            result.duplicates += 1
            result.ids[item.index] = (item.key, "duplicate")
        else:
            result.errors.append(
                ItemError(
                    item.index,
                    ConflictError(
                        f"A measurement with id '{item.key}' already exists with "
                        "different content.",
                        field="id",
                        code="idempotency_conflict",
                    ),
                )
            )


# -------------------------------------------------------------------- corrections


async def correct_measurement(
    vendor_id: str,
    key: str,
    *,
    value: object = None,
    void: bool = False,
    reason: str = "",
    actor: str,
    clock: Clock,
) -> dict[str, Any]:
    """Store a correction of the measurement ``key`` (a new value, or void)."""
    original = await (
        Measurement.select()
        .where(
            (Measurement.vendor == vendor_id)
            & (Measurement.key == key)
            & Measurement.corrects.is_null()
        )
        .output(load_json=True)
        .first()
    )
    if original is None:
        raise NotFoundError(f"There is no measurement '{key}'.", field="id")
    if value is None and not void:
        raise ValidationError("Send a new 'value', or 'void': true.", field="value")
    if value is not None and void:
        raise ValidationError("Send either 'value' or 'void', not both.", field="void")
    if len(reason) > 1000:
        raise ValidationError("A reason is at most 1000 characters.", field="reason")
    meter = (
        await Meter.select(Meter.name, Meter.aggregation)
        .where(Meter.id == original["meter"])
        .first()
    )
    customer = (
        await Customer.select(Customer.name).where(Customer.id == original["customer"]).first()
    )
    assert meter is not None and customer is not None
    micros = original["value_micros"]
    if value is not None:
        micros = int(
            parse_decimal(value, field="value", max_places=VALUE_PLACES).scaleb(VALUE_PLACES)
        )
    item = _Item(
        index=0,
        key=key,
        meter=meter["name"],
        customer=customer["name"],
        micros=micros,
        time=original["time"],
        labels=original["labels"] or {},
        meter_id=original["meter"],
        customer_id=original["customer"],
    )
    _check_sign(item, meter["aggregation"])
    invoiced = await _invoiced_cycles(vendor_id, {item.customer_id}, item.time)
    _check_open_cycle(item, invoiced)
    count = await Measurement.count().where(Measurement.corrects == original["id"])
    correction_key = f"{key}~correction-{count + 1}"
    try:
        await Measurement.insert(
            Measurement(
                vendor=vendor_id,
                customer=original["customer"],
                meter=original["meter"],
                key=correction_key,
                value_micros=micros,
                time=original["time"],
                labels=original["labels"] or {},
                content_hash=_content_hash(item),
                corrects=original["id"],
                voided=void,
                correction_reason=reason,
                corrected_by=actor,
                received_at=clock.now(),
            )
        )
    except Exception as exc:
        if not is_unique_violation(exc):
            raise
        raise ConflictError(
            f"Another correction of '{key}' was stored at the same time; read it and retry.",
            field="id",
            code="concurrent_correction",
        ) from exc
    return {
        "id": key,
        "correction_id": correction_key,
        "value": None if void else str(Decimal(micros).scaleb(-VALUE_PLACES).normalize()),
        "voided": void,
        "reason": reason,
        "corrected_by": actor,
    }


# -------------------------------------------------------------------- aggregation

_EFFECTIVE = (
    "NOT EXISTS (SELECT 1 FROM measurement r "
    "WHERE r.corrects = COALESCE(m.corrects, m.id) AND r.id > m.id) "
    "AND m.voided = {}"
)
"""A row of ``m`` that counts: not replaced by a later correction, not voided (arg: False)."""

_UNCORRECTED = "m.voided = {}"
"""The same when nobody in scope has a correction in the period (arg: False)."""


USAGE_COLUMNS = "id, customer, meter, value_micros, time, voided, corrects"
"""The columns usage aggregates read (``labels`` too for a unique count)."""


def measurements_in(
    vendor_id: str,
    customer_ids: Sequence[str],
    start: datetime,
    end: datetime,
    *,
    columns: str = USAGE_COLUMNS,
) -> tuple[str, list[Any]]:
    """The FROM item ``m``: the vendor's measurements of these customers in ``[start, end)``,
    with the query arguments for its placeholders (they come first in the query).

    On SQLite, freshly ingested rows (stage 0) are not in the usage index yet
    (:class:`~octane.core.store.tables.Measurement`): the usage index finds the settled
    rows and ``ix_measurement_recent`` the few thousand unsettled ones. PostgreSQL stores
    every row settled, so there it is the plain table. Only ``columns`` pass through the
    union: copying every column of every row costs more than the aggregate itself.
    """
    marks = ", ".join("{}" for _ in customer_ids)
    scope = f"vendor = {{}} AND customer IN ({marks}) AND time >= {{}} AND time < {{}}"
    args: list[Any] = [vendor_id, *customer_ids, start, end]
    if is_postgres():
        return f"(SELECT {columns} FROM measurement WHERE {scope}) m", args
    return (
        f"(SELECT {columns} FROM measurement WHERE stage = 1 AND {scope} "
        f'UNION ALL SELECT {columns} FROM measurement INDEXED BY "ix_measurement_recent" '
        f"WHERE stage = 0 AND {scope}) m",
        args + args,
    )


def _quantity(micros: Any) -> Decimal:
    if micros is None:
        return Decimal(0)
    return Decimal(int(micros)).scaleb(-VALUE_PLACES).normalize() + Decimal(0)


async def _simple_totals(
    vendor_id: str,
    customer_ids: Sequence[str],
    meter_ids: Sequence[str],
    period: Period,
    effective: str,
) -> list[dict[str, Any]]:
    """Sum, count and max per customer and meter, each stage grouped through its own index
    and the two added up: a group over their union would sort every row in a temporary
    b-tree, where the usage index hands the settled rows over already in order."""
    customers = ", ".join("{}" for _ in customer_ids)
    meters = ", ".join("{}" for _ in meter_ids)
    arm = (
        "SELECT m.customer AS customer, m.meter AS meter, SUM(m.value_micros) AS total, "
        "COUNT(*) AS n, MAX(m.value_micros) AS top FROM measurement m HINT "
        f"WHERE m.stage = STAGE AND m.vendor = {{}} AND m.customer IN ({customers}) "
        f"AND m.time >= {{}} AND m.time < {{}} AND {effective} "
        f"AND m.meter IN ({meters}) GROUP BY m.customer, m.meter"
    )
    args = [vendor_id, *customer_ids, period.start, period.end, False, *meter_ids]
    settled = arm.replace("HINT ", "").replace("STAGE", "1")
    if is_postgres():  # every row is settled there
        return list(await Measurement.raw(settled, *args))
    recent = arm.replace("HINT", 'INDEXED BY "ix_measurement_recent"').replace("STAGE", "0")
    return list(
        await Measurement.raw(
            "SELECT customer, meter, SUM(total) AS total, SUM(n) AS n, MAX(top) AS top "
            f"FROM ({settled} UNION ALL {recent}) GROUP BY customer, meter",
            *args,
            *args,
        )
    )


async def aggregate(
    vendor_id: str, customer_id: str, meters: Sequence[Mapping[str, Any]], period: Period
) -> dict[str, Decimal]:
    """Each meter's aggregated quantity over ``[period.start, period.end)``, in SQL.

    The number of queries depends on the meters, never on the measurements.
    """
    by_id = {m["id"]: m for m in meters}
    quantities = {m["name"]: Decimal(0) for m in meters}
    if not meters:
        return quantities
    source, scope = measurements_in(vendor_id, [customer_id], period.start, period.end)
    simple = [m["id"] for m in meters if m["aggregation"] in ("sum", "count", "max")]
    if simple:
        rows = await _simple_totals(vendor_id, [customer_id], simple, period, _EFFECTIVE)
        for row in rows:
            meter = by_id[row["meter"]]
            kind = meter["aggregation"]
            if kind == "sum":
                quantities[meter["name"]] = _quantity(row["total"])
            elif kind == "count":
                quantities[meter["name"]] = Decimal(int(row["n"]))
            else:
                quantities[meter["name"]] = _quantity(row["top"])
    for meter in meters:
        if meter["aggregation"] == "last":
            rows = await Measurement.raw(
                f"SELECT m.value_micros AS v FROM {source} WHERE {_EFFECTIVE} "
                "AND m.meter = {} ORDER BY m.time DESC, m.id DESC LIMIT 1",
                *scope,
                False,
                meter["id"],
            )
            if rows:
                quantities[meter["name"]] = _quantity(rows[0]["v"])
        elif meter["aggregation"] == "unique_count":
            label = str(meter["unique_label"])
            if is_postgres():
                expression, parameter = "(m.labels::jsonb ->> {})", label
            else:
                expression, parameter = "json_extract(m.labels, {})", f'$."{label}"'
            labelled, _ = measurements_in(
                vendor_id,
                [customer_id],
                period.start,
                period.end,
                columns=f"{USAGE_COLUMNS}, labels",
            )
            rows = await Measurement.raw(
                f"SELECT COUNT(DISTINCT {expression}) AS n FROM {labelled} "
                f"WHERE {_EFFECTIVE} AND m.meter = {{}}",
                parameter,
                *scope,
                False,
                meter["id"],
            )
            quantities[meter["name"]] = Decimal(int(rows[0]["n"])) if rows else Decimal(0)
    return quantities


async def _corrected_customers(
    vendor_id: str, customer_ids: Sequence[str], period: Period
) -> set[str]:
    """The customers (of ``customer_ids``) with a correction in the period, found through
    the small partial index over corrections (``ix_measurement_corrections``)."""
    rows = await Measurement.raw(
        "SELECT DISTINCT customer FROM measurement WHERE corrects IS NOT NULL "
        "AND vendor = {} AND time >= {} AND time < {}",
        vendor_id,
        period.start,
        period.end,
    )
    return {str(r["customer"]) for r in rows} & set(customer_ids)


async def aggregate_many(
    vendor_id: str,
    customer_ids: Sequence[str],
    meters: Sequence[Mapping[str, Any]],
    period: Period,
) -> dict[str, dict[str, Decimal]]:
    """:func:`aggregate` for many customers over the same period: one grouped query for
    the sum, count and max meters (``last`` and ``unique_count`` meters per customer)."""
    result = {c: {m["name"]: Decimal(0) for m in meters} for c in customer_ids}
    if not meters or not customer_ids:
        return result
    by_id = {m["id"]: m for m in meters}
    simple = [m["id"] for m in meters if m["aggregation"] in ("sum", "count", "max")]
    if simple:
        meter_marks = ", ".join("{}" for _ in simple)
        corrected = await _corrected_customers(vendor_id, customer_ids, period)
        # Nobody in the batch has a correction in the period: every row is effective
        # unless voided, so the per-row correction probe can be skipped.
        effective = _EFFECTIVE if corrected else _UNCORRECTED
        if is_postgres():
            # One index range scan per customer (ix_measurement_usage), so a batch reads
            # its own customers' rows of the period only. With "customer IN (...)" the
            # planner scans the whole table once per batch instead: ten batches, ten scans
            # of every measurement of every period. (PostgreSQL stores every row settled,
            # so the table itself is the source; see measurements_in.)
            rows = await Measurement.raw(
                "SELECT c.id AS customer, a.meter AS meter, a.total AS total, a.n AS n, "
                "a.top AS top FROM unnest({}::varchar[]) AS c(id) CROSS JOIN LATERAL ("
                "SELECT m.meter AS meter, SUM(m.value_micros) AS total, COUNT(*) AS n, "
                "MAX(m.value_micros) AS top FROM measurement m "
                "WHERE m.vendor = {} AND m.customer = c.id AND m.time >= {} AND m.time < {} "
                f"AND {effective} AND m.meter IN ({meter_marks}) GROUP BY m.meter) AS a",
                list(customer_ids),
                vendor_id,
                period.start,
                period.end,
                False,
                *simple,
            )
        else:
            rows = await _simple_totals(vendor_id, customer_ids, simple, period, effective)
        for row in rows:
            meter = by_id[row["meter"]]
            kind = meter["aggregation"]
            value = (
                _quantity(row["total"])
                if kind == "sum"
                else Decimal(int(row["n"]))
                if kind == "count"
                else _quantity(row["top"])
            )
            result[row["customer"]][meter["name"]] = value
    others = [m for m in meters if m["aggregation"] not in ("sum", "count", "max")]
    if others:
        for customer_id in customer_ids:
            result[customer_id].update(await aggregate(vendor_id, customer_id, others, period))
    return result
