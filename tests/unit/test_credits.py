"""Credit draw order: soonest-expiring first, then oldest; never below zero; expired unused."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from octane.core.clock import utc
from octane.core.credits import Grant, draw_credits

AT = utc(2026, 2, 1)


def test_soonest_expiring_then_oldest_and_partial_use() -> None:
    grants = [
        Grant("never", 1000, created_at=utc(2025, 1, 1)),
        Grant("late", 500, created_at=utc(2025, 6, 1), expires_at=utc(2026, 12, 1)),
        Grant("soon", 300, created_at=utc(2025, 9, 1), expires_at=utc(2026, 3, 1)),
        Grant("expired", 999, created_at=utc(2025, 1, 1), expires_at=utc(2026, 1, 31)),
        Grant("empty", 0, created_at=utc(2024, 1, 1)),
    ]
    drawn = [(g.id, amount) for g, amount in draw_credits(grants, 1000, at=AT)]
    assert drawn == [("soon", 300), ("late", 500), ("never", 200)]
    assert [(g.id, a) for g, a in draw_credits(grants, 100, at=AT)] == [("soon", 100)]
    assert draw_credits(grants, 0, at=AT) == []
    assert draw_credits(grants, -50, at=AT) == []


def test_same_expiry_draws_the_oldest_grant_first() -> None:
    grants = [
        Grant("newer", 100, created_at=utc(2025, 5, 1), expires_at=utc(2026, 6, 1)),
        Grant("older", 100, created_at=utc(2025, 4, 1), expires_at=utc(2026, 6, 1)),
    ]
    assert [g.id for g, _ in draw_credits(grants, 150, at=AT)] == ["older", "newer"]


grant_strategy = st.builds(
    Grant,
    id=st.text("abcdef", min_size=1, max_size=4),
    remaining=st.integers(min_value=0, max_value=10_000),
    created_at=st.datetimes(
        min_value=utc(2024, 1, 1).replace(tzinfo=None),
        max_value=utc(2026, 1, 1).replace(tzinfo=None),
    ).map(lambda d: d.replace(tzinfo=AT.tzinfo)),
    expires_at=st.none()
    | st.integers(min_value=-400, max_value=400).map(lambda days: AT + timedelta(days=days)),
)


@settings(max_examples=300, deadline=None)
@given(grants=st.lists(grant_strategy, max_size=8), total=st.integers(-100, 50_000))
def test_draw_properties(grants: list[Grant], total: int) -> None:
    drawn = draw_credits(grants, total, at=AT)
    used = sum(amount for _, amount in drawn)
    assert 0 <= used <= max(total, 0)  # never below zero
    available = sum(g.remaining for g in grants if g.expires_at is None or g.expires_at > AT)
    assert used == min(max(total, 0), available)  # uses all it can
    for grant, amount in drawn:
        assert 0 < amount <= grant.remaining
        assert grant.expires_at is None or grant.expires_at > AT  # expired never used
    keys = [(g.expires_at is None, g.expires_at or g.created_at, g.created_at) for g, _ in drawn]
    assert keys == sorted(keys)  # soonest-expiring first, then oldest
    # only the last grant drawn may be partly used
    assert all(amount == grant.remaining for grant, amount in drawn[:-1])
