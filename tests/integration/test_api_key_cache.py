"""Remembered API keys: a revocation in this process applies at once, one made elsewhere
(another web process) within API_KEY_CACHE_SECONDS; moving a test clock is seen at once."""

from __future__ import annotations

from typing import Any

import pytest

from octane.core import vendors
from octane.core.clock import SystemClock, TestClock, utc
from octane.core.clocks import advance_test_clock
from octane.core.errors import AuthError
from octane.core.store.tables import ApiKey
from octane.core.vendors import (
    API_KEY_CACHE_SECONDS,
    authenticate_with_clock,
    create_api_key,
    create_vendor,
    revoke_api_key,
)


async def _vendor_and_key(test_clock: Any = None) -> tuple[str, Any]:
    vendor = await create_vendor(
        name="V", email="v@v.example", clock=SystemClock(), test_clock_start=test_clock
    )
    return str(vendor["id"]), await create_api_key(str(vendor["id"]), clock=SystemClock())


async def test_a_revocation_here_applies_at_once(db: Any) -> None:
    vendor, key = await _vendor_and_key()
    assert (await authenticate_with_clock(key.key))[0] == vendor
    await revoke_api_key(vendor, key.id, clock=SystemClock())
    with pytest.raises(AuthError) as caught:
        await authenticate_with_clock(key.key)
    assert caught.value.code == "revoked_api_key"


async def test_a_revocation_elsewhere_applies_within_the_bound(
    db: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    vendor, key = await _vendor_and_key()
    assert (await authenticate_with_clock(key.key))[0] == vendor
    # Another process revokes the key: only the database changes.
    await ApiKey.update({ApiKey.revoked_at: utc(2026, 1, 1)}).where(ApiKey.id == key.id)
    assert (await authenticate_with_clock(key.key))[0] == vendor  # remembered
    later = vendors.time.monotonic() + API_KEY_CACHE_SECONDS + 0.01
    monkeypatch.setattr(vendors.time, "monotonic", lambda: later)
    with pytest.raises(AuthError) as caught:
        await authenticate_with_clock(key.key)
    assert caught.value.code == "revoked_api_key"


async def test_a_moved_test_clock_is_seen_at_once(db: Any) -> None:
    vendor, key = await _vendor_and_key(test_clock=utc(2026, 3, 1))
    clock = (await authenticate_with_clock(key.key))[2]
    assert isinstance(clock, TestClock) and clock.now() == utc(2026, 3, 1)
    await advance_test_clock(vendor, utc(2026, 3, 5))
    assert (await authenticate_with_clock(key.key))[2].now() == utc(2026, 3, 5)


async def test_unknown_keys_are_not_remembered(db: Any) -> None:
    before = dict(vendors._key_cache)
    with pytest.raises(AuthError):
        await authenticate_with_clock("octk_" + "x" * 40)
    assert vendors._key_cache == before
