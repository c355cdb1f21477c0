from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from octane.core.clock import SystemClock, TestClock, ensure_utc, utc
from octane.core.errors import StateError, ValidationError


def test_system_clock_is_aware_utc() -> None:
    now = SystemClock().now()
    assert now.tzinfo is UTC
    assert abs(now - datetime.now(UTC)) < timedelta(seconds=5)


def test_test_clock_is_frozen_and_moves_forward_only() -> None:
    clock = TestClock(utc(2026, 1, 31, 12))
    assert clock.now() == utc(2026, 1, 31, 12)
    assert clock.now() == clock.now()
    clock.advance_to(utc(2026, 2, 1))
    assert clock.now() == utc(2026, 2, 1)
    with pytest.raises(StateError) as caught:
        clock.advance_to(utc(2026, 1, 1))
    assert caught.value.code == "clock_backwards"
    assert clock.now() == utc(2026, 2, 1)


def test_offsets_are_converted_and_naive_times_refused() -> None:
    plus_two = datetime(2026, 3, 1, 2, 0, tzinfo=timezone(timedelta(hours=2)))
    assert ensure_utc(plus_two) == utc(2026, 3, 1, 0, 0)
    with pytest.raises(ValidationError) as caught:
        ensure_utc(datetime(2026, 3, 1), field="starts_at")
    assert caught.value.field == "starts_at"
    with pytest.raises(ValidationError):
        TestClock(datetime(2026, 3, 1))
