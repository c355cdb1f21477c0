"""The clock abstraction: every read of "now" in Octane goes through a Clock.

Two kinds exist:

* :class:`SystemClock`, the real time, for vendors in live mode.
* :class:`TestClock`, a frozen time that only moves when advanced, for vendors
  created with a test clock (demos, simulations, tests). The persisted value lives
  on the vendor row; :mod:`octane.core.clocks` loads and advances it.

Everything returned is an aware UTC datetime. Naive datetimes are refused rather
than guessed at.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol, runtime_checkable

from octane.core.errors import StateError, ValidationError

__all__ = ["Clock", "SystemClock", "TestClock", "as_utc", "ensure_utc", "utc"]


def ensure_utc(value: datetime, *, field: str = "time") -> datetime:
    """Return ``value`` converted to UTC; refuse a naive datetime."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValidationError(
            "A time must carry a UTC offset or time zone (e.g. 2026-01-31T12:00:00Z).",
            field=field,
            code="naive_datetime",
        )
    return value.astimezone(UTC)


def as_utc(value: datetime | str) -> datetime:
    """A stored timestamp as an aware UTC datetime (raw SQL on SQLite may give text)."""
    parsed = value if isinstance(value, datetime) else datetime.fromisoformat(value)
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    """Shorthand for an aware UTC datetime (handy in tests and demo data)."""
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


@runtime_checkable
class Clock(Protocol):
    """Tells the time. Implementations return aware UTC datetimes."""

    def now(self) -> datetime: ...


class SystemClock:
    """The real time of the machine."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def __repr__(self) -> str:
        return "SystemClock()"


class TestClock:
    """A clock frozen at a point in time that moves only forward, when advanced."""

    __test__ = False  # not a pytest test class

    def __init__(self, start: datetime) -> None:
        self._now = ensure_utc(start, field="start")

    def now(self) -> datetime:
        return self._now

    def advance_to(self, target: datetime) -> datetime:
        """Move to ``target``; moving backwards is refused (history cannot be re-lived)."""
        target = ensure_utc(target, field="to")
        if target < self._now:
            raise StateError(
                f"A test clock only moves forward: it is at {self._now.isoformat()}, "
                f"and {target.isoformat()} is earlier.",
                field="to",
                code="clock_backwards",
            )
        self._now = target
        return self._now

    def __repr__(self) -> str:
        return f"TestClock({self._now.isoformat()})"
