"""Billing cycles: month-end clamping, time zones, DST, partial periods, proration."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from octane.core.clock import utc
from octane.core.cycles import (
    Period,
    boundary,
    cycles_between,
    full_period_at,
    period_containing,
    proration_factor,
    zone,
)
from octane.core.errors import ValidationError

UTC_ZONE = ZoneInfo("UTC")


def starts(periods: list[Period]) -> list[datetime]:
    return [p.start for p in periods]


def test_month_end_anchor_clamps_without_drift() -> None:
    periods = cycles_between(
        start=utc(2027, 12, 31), period="month", tz=UTC_ZONE, until=utc(2028, 6, 1)
    )
    assert starts(periods) == [
        utc(2027, 12, 31),
        utc(2028, 1, 31),
        utc(2028, 2, 29),
        utc(2028, 3, 31),
        utc(2028, 4, 30),
        utc(2028, 5, 31),
    ]
    assert periods[1].end == utc(2028, 2, 29)  # leap year
    common = cycles_between(
        start=utc(2027, 1, 31), period="month", tz=UTC_ZONE, until=utc(2027, 3, 1)
    )
    assert [p.end for p in common] == [utc(2027, 2, 28), utc(2027, 3, 31)]


def test_quarter_and_year_periods() -> None:
    quarters = cycles_between(
        start=utc(2026, 11, 30), period="quarter", tz=UTC_ZONE, until=utc(2027, 9, 1)
    )
    assert starts(quarters) == [
        utc(2026, 11, 30),
        utc(2027, 2, 28),
        utc(2027, 5, 30),
        utc(2027, 8, 30),
    ]
    years = cycles_between(
        start=utc(2028, 2, 29), period="year", tz=UTC_ZONE, until=utc(2032, 3, 1)
    )
    assert starts(years) == [
        utc(2028, 2, 29),
        utc(2029, 2, 28),
        utc(2030, 2, 28),
        utc(2031, 2, 28),
        utc(2032, 2, 29),
    ]


def test_weeks_and_days() -> None:
    weeks = cycles_between(
        start=utc(2026, 1, 5, 9), period="week", tz=UTC_ZONE, until=utc(2026, 1, 20)
    )
    assert starts(weeks) == [utc(2026, 1, 5, 9), utc(2026, 1, 12, 9), utc(2026, 1, 19, 9)]
    days = cycles_between(start=utc(2026, 1, 1), period="day", tz=UTC_ZONE, until=utc(2026, 1, 3))
    assert [p.seconds for p in days] == [86400, 86400]


def test_days_across_dst_last_23_and_25_hours() -> None:
    new_york = ZoneInfo("America/New_York")
    start = datetime(2026, 3, 7, 0, 0, tzinfo=new_york)
    days = cycles_between(
        start=start, period="day", tz=new_york, until=datetime(2026, 3, 10, tzinfo=new_york)
    )
    assert [p.seconds // 3600 for p in days] == [24, 23, 24]
    berlin = ZoneInfo("Europe/Berlin")
    autumn = cycles_between(
        start=datetime(2026, 10, 24, tzinfo=berlin),
        period="day",
        tz=berlin,
        until=datetime(2026, 10, 27, tzinfo=berlin),
    )
    assert [p.seconds // 3600 for p in autumn] == [24, 25, 24]


def test_nonexistent_local_boundary_moves_forward_by_the_gap() -> None:
    new_york = ZoneInfo("America/New_York")
    anchor = datetime(2026, 3, 7, 2, 30, tzinfo=new_york)  # 02:30 does not exist on Mar 8
    first = boundary(anchor, "day", new_york, 1)
    assert first == datetime(2026, 3, 8, 7, 30, tzinfo=UTC)  # 03:30 EDT
    assert boundary(anchor, "day", new_york, 2) == datetime(2026, 3, 9, 6, 30, tzinfo=UTC)


def test_monthly_periods_start_at_local_midnight_far_from_utc() -> None:
    kiritimati = ZoneInfo("Pacific/Kiritimati")  # UTC+14
    start = datetime(2026, 1, 1, tzinfo=kiritimati)
    periods = cycles_between(
        start=start, period="month", tz=kiritimati, until=datetime(2026, 3, 1, tzinfo=kiritimati)
    )
    assert starts(periods) == [utc(2025, 12, 31, 10), utc(2026, 1, 31, 10)]
    minus_twelve = ZoneInfo("Etc/GMT+12")  # UTC-12
    period = period_containing(
        utc(2026, 2, 1, 6),
        start=datetime(2026, 1, 1, tzinfo=minus_twelve),
        period="month",
        tz=minus_twelve,
    )
    assert period == Period(utc(2026, 1, 1, 12), utc(2026, 2, 1, 12))


def test_explicit_anchor_gives_a_prorated_first_period() -> None:
    start = utc(2026, 1, 16)
    first = period_containing(
        start, start=start, anchor=utc(2026, 2, 1), period="month", tz=UTC_ZONE
    )
    assert first == Period(utc(2026, 1, 16), utc(2026, 2, 1))
    full = full_period_at(start, anchor=utc(2026, 2, 1), period="month", tz=UTC_ZONE)
    assert full == Period(utc(2026, 1, 1), utc(2026, 2, 1))
    assert proration_factor(first, full) == Fraction(16, 31)


def test_subscription_ending_mid_cycle_is_cut_at_its_end() -> None:
    periods = cycles_between(
        start=utc(2026, 1, 1),
        period="month",
        tz=UTC_ZONE,
        until=utc(2026, 12, 1),
        end=utc(2026, 3, 10),
    )
    assert periods[-1] == Period(utc(2026, 3, 1), utc(2026, 3, 10))
    assert len(periods) == 3
    assert (
        period_containing(
            utc(2026, 3, 10),
            start=utc(2026, 1, 1),
            period="month",
            tz=UTC_ZONE,
            end=utc(2026, 3, 10),
        )
        is None
    )
    assert (
        period_containing(utc(2025, 12, 31), start=utc(2026, 1, 1), period="month", tz=UTC_ZONE)
        is None
    )


def test_bad_inputs_name_their_field() -> None:
    with pytest.raises(ValidationError) as caught:
        zone("Mars/Olympus")
    assert caught.value.field == "timezone"
    with pytest.raises(ValidationError) as caught:
        period_containing(utc(2026, 1, 1), start=utc(2026, 1, 1), period="fortnight", tz=UTC_ZONE)
    assert caught.value.field == "period"
    with pytest.raises(ValidationError) as caught:
        period_containing(
            datetime(2026, 1, 1),
            start=utc(2026, 1, 1),
            period="month",
            tz=UTC_ZONE,
        )
    assert caught.value.code == "naive_datetime"


ZONES = [
    "UTC",
    "America/New_York",
    "Europe/Berlin",
    "Europe/London",
    "Australia/Lord_Howe",
    "Pacific/Kiritimati",
    "Etc/GMT+12",
    "Asia/Kolkata",
    "America/Sao_Paulo",
    "Pacific/Apia",
    "Asia/Kathmandu",
    "America/St_Johns",
    "Africa/Casablanca",
]


@settings(max_examples=150, deadline=None)
@given(
    tz_name=st.sampled_from(ZONES),
    period=st.sampled_from(["day", "week", "month", "quarter", "year"]),
    start=st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2028, 12, 31)),
    anchor_day=st.sampled_from([1, 15, 28, 29, 30, 31]),
    probe=st.floats(min_value=0, max_value=1),
)
def test_cycles_tile_time_without_gaps_or_overlaps(
    tz_name: str, period: str, start: datetime, anchor_day: int, probe: float
) -> None:
    tz = ZoneInfo(tz_name)
    begin = start.replace(tzinfo=UTC)
    local = begin.astimezone(tz)
    try:
        anchor = local.replace(day=anchor_day)
    except ValueError:
        anchor = local
    until = begin + timedelta(days=26 * 31 if period in ("day", "week") else 800)
    if period == "day":
        until = begin + timedelta(days=60)
    periods = cycles_between(start=begin, anchor=anchor, period=period, tz=tz, until=until)
    assert periods[0].start == begin
    for earlier, later in itertools.pairwise(periods):
        assert earlier.end == later.start
    assert all(p.start < p.end for p in periods)
    instant = begin + (periods[-1].end - begin) * probe
    instant = min(instant, periods[-1].end - timedelta(microseconds=1))
    containing = [p for p in periods if instant in p]
    assert len(containing) == 1
    assert (
        period_containing(instant, start=begin, anchor=anchor, period=period, tz=tz)
        == (containing[0])
    )
