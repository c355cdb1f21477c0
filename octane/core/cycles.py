"""Billing-cycle arithmetic: pure functions, no I/O.

A subscription's periods are computed on the **customer's wall clock** and stored
as aware UTC datetimes; every period is half-open ``[start, end)``.

Rules:

* The n-th boundary is ``anchor + n * period`` computed from the anchor each
  time (never by adding to the previous boundary), so month-end anchors clamp per
  month without drifting: an anchor on Jan 31 gives Feb 28 (29 in leap years),
  Mar 31, Apr 30...; a yearly anchor on Feb 29 gives Feb 28 in common years.
* ``day`` and ``week`` periods keep the anchor's local time of day, so across a
  DST change a day lasts 23 or 25 hours.
* A local boundary time that does not exist (the clock jumps forward) moves
  forward by the gap; an ambiguous one (the clock falls back) takes its first
  occurrence. Boundaries stay strictly increasing.
* The anchor defaults to the subscription start. An anchor after the start, or
  before it, makes the first period partial: ``[start, first boundary after start)``.
* A subscription with an ``end`` has its last period cut at ``end``.
* Proration is by seconds: a partial period's share of the full period that
  contains it (:func:`proration_factor`).
"""

from __future__ import annotations

import calendar
import functools
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from fractions import Fraction
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from octane.core.errors import ValidationError

__all__ = [
    "PERIODS",
    "Period",
    "boundary",
    "cycles_between",
    "full_period_at",
    "period_containing",
    "proration_factor",
    "zone",
]

PERIODS = ("day", "week", "month", "quarter", "year")
_MONTHS = {"month": 1, "quarter": 3, "year": 12}
_DAYS = {"day": 1, "week": 7}


@dataclass(frozen=True, slots=True)
class Period:
    """A half-open interval ``[start, end)`` of aware UTC datetimes."""

    start: datetime
    end: datetime

    def __contains__(self, instant: object) -> bool:
        return isinstance(instant, datetime) and self.start <= instant < self.end

    @property
    def seconds(self) -> int:
        return int((self.end - self.start).total_seconds())


def zone(name: str, *, field: str = "timezone") -> ZoneInfo:
    """The IANA time zone ``name``; a ValidationError naming ``field`` otherwise."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise ValidationError(
            f"'{name}' is not an IANA time zone (e.g. Europe/Berlin, America/New_York, UTC).",
            field=field,
            code="invalid_timezone",
        ) from None


def _check_period(period: str) -> None:
    if period not in PERIODS:
        raise ValidationError(
            f"'{period}' is not a billing period; use one of {', '.join(PERIODS)}.",
            field="period",
            code="invalid_period",
        )


def _aware(value: datetime, field: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValidationError(
            "A time must carry a UTC offset or time zone.", field=field, code="naive_datetime"
        )
    return value.astimezone(UTC)


def _add_months(day: date, months: int, anchor_day: int) -> date:
    index = day.year * 12 + (day.month - 1) + months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(anchor_day, last))


def _localize(wall: datetime, tz: ZoneInfo) -> datetime:
    """The UTC instant of a naive local wall time (gaps move forward, folds take the first)."""
    return wall.replace(tzinfo=tz, fold=0).astimezone(UTC)


@functools.lru_cache(maxsize=65_536)
def boundary(anchor: datetime, period: str, tz: ZoneInfo, n: int) -> datetime:
    """The n-th period boundary after (n > 0) or before (n < 0) the anchor, in UTC.

    Memoized: a billing run asks the same boundaries for every customer sharing an
    anchor (most subscriptions start on the 1st), and the arguments are immutable."""
    _check_period(period)
    local = _aware(anchor, "billing_anchor").astimezone(tz)
    if period in _DAYS:
        day = local.date() + timedelta(days=_DAYS[period] * n)
    else:
        day = _add_months(local.date(), _MONTHS[period] * n, local.day)
    return _localize(datetime.combine(day, local.time().replace(tzinfo=None)), tz)


def _index(instant: datetime, anchor: datetime, period: str, tz: ZoneInfo) -> int:
    """The n with ``boundary(n) <= instant < boundary(n + 1)``."""
    local_instant = instant.astimezone(tz)
    local_anchor = anchor.astimezone(tz)
    if period in _DAYS:
        n = (local_instant.date() - local_anchor.date()).days // _DAYS[period]
    else:
        months = (local_instant.year - local_anchor.year) * 12 + (
            local_instant.month - local_anchor.month
        )
        n = months // _MONTHS[period]
    while boundary(anchor, period, tz, n) > instant:
        n -= 1
    while boundary(anchor, period, tz, n + 1) <= instant:
        n += 1
    return n


def full_period_at(instant: datetime, *, anchor: datetime, period: str, tz: ZoneInfo) -> Period:
    """The natural (unclipped) period containing ``instant``."""
    instant = _aware(instant, "time")
    n = _index(instant, anchor, period, tz)
    return Period(boundary(anchor, period, tz, n), boundary(anchor, period, tz, n + 1))


def period_containing(
    instant: datetime,
    *,
    start: datetime,
    anchor: datetime | None = None,
    period: str,
    tz: ZoneInfo,
    end: datetime | None = None,
) -> Period | None:
    """The subscription period containing ``instant``; None outside ``[start, end)``."""
    _check_period(period)
    instant = _aware(instant, "time")
    start = _aware(start, "starts_at")
    if instant < start or (end is not None and instant >= _aware(end, "ends_at")):
        return None
    natural = full_period_at(instant, anchor=anchor or start, period=period, tz=tz)
    clipped_end = min(natural.end, end) if end is not None else natural.end
    return Period(max(natural.start, start), clipped_end)


def cycles_between(
    *,
    start: datetime,
    anchor: datetime | None = None,
    period: str,
    tz: ZoneInfo,
    until: datetime,
    end: datetime | None = None,
    since: datetime | None = None,
) -> list[Period]:
    """Every period of the subscription that starts before ``until``, in order (only those
    from ``since`` on, when given: it must be a period boundary, e.g. a cycle's end).

    Memoized (the arguments are immutable): closing asks the same question for every
    subscription sharing a schedule, at the same ``until``."""
    return list(_cycles_between(start, anchor, period, tz, until, end, since))


@functools.lru_cache(maxsize=65_536)
def _cycles_between(
    start: datetime,
    anchor: datetime | None,
    period: str,
    tz: ZoneInfo,
    until: datetime,
    end: datetime | None,
    since: datetime | None,
) -> tuple[Period, ...]:
    periods: list[Period] = []
    cursor = _aware(start, "starts_at")
    if since is not None:
        cursor = max(cursor, _aware(since, "since"))
    limit = _aware(until, "until")
    while cursor < limit:
        current = period_containing(
            cursor, start=start, anchor=anchor, period=period, tz=tz, end=end
        )
        if current is None:
            break
        periods.append(current)
        cursor = current.end
    return tuple(periods)


def proration_factor(part: Period, full: Period) -> Fraction:
    """The share, by seconds, of ``part`` in the full period that contains it (0..1)."""
    if not (full.start <= part.start and part.end <= full.end) or full.seconds <= 0:
        raise ValueError(f"{part} is not inside {full}")
    return Fraction(part.seconds, full.seconds)
