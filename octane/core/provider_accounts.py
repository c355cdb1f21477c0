"""A vendor's account at each payment provider: connected, or disconnected.

Provider plugins store here what identifies the vendor at the provider (a connected
Stripe account id, Paddle credentials) and mark it disconnected when the vendor
disconnects or the provider revokes access; a disconnected account is never called.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from octane.core.ids import new_id
from octane.core.store.engine import is_unique_violation
from octane.core.store.tables import ProviderAccount

__all__ = [
    "connect_account",
    "disconnect_account",
    "find_account",
    "set_account_details",
    "vendor_of_account",
]


async def find_account(vendor_id: str, provider: str) -> dict[str, Any] | None:
    """The vendor's account at ``provider`` (connected or not), or None."""
    row = await (
        ProviderAccount.select()
        .where((ProviderAccount.vendor == vendor_id) & (ProviderAccount.provider == provider))
        .output(load_json=True)
        .first()
    )
    return dict(row) if row else None


async def vendor_of_account(provider: str, account_id: str) -> str | None:
    """The vendor whose connected account this is (for events that name the account)."""
    row = await (
        ProviderAccount.select(ProviderAccount.vendor)
        .where(
            (ProviderAccount.provider == provider)
            & (ProviderAccount.account_id == account_id)
            & (ProviderAccount.status == "connected")
        )
        .first()
    )
    return str(row["vendor"]) if row else None


async def connect_account(
    vendor_id: str,
    provider: str,
    *,
    account_id: str,
    at: datetime,
    secrets: str = "",
    details: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Record (or replace) the vendor's connected account at ``provider``."""
    values: dict[Any, Any] = {
        ProviderAccount.account_id: account_id,
        ProviderAccount.status: "connected",
        ProviderAccount.secrets: secrets,
        ProviderAccount.details: details or {},
        ProviderAccount.connected_at: at,
        ProviderAccount.disconnected_at: None,
    }
    if await find_account(vendor_id, provider) is None:
        try:
            await ProviderAccount.insert(
                ProviderAccount(
                    id=new_id("pac"),
                    vendor=vendor_id,
                    provider=provider,
                    account_id=account_id,
                    secrets=secrets,
                    details=details or {},
                    connected_at=at,
                )
            )
        except Exception as exc:  # connected twice at once: the update below settles it
            if not is_unique_violation(exc):
                raise
    await ProviderAccount.update(values).where(
        (ProviderAccount.vendor == vendor_id) & (ProviderAccount.provider == provider)
    )
    found = await find_account(vendor_id, provider)
    assert found is not None
    return found


async def disconnect_account(vendor_id: str, provider: str, *, at: datetime) -> bool:
    """Mark the account disconnected; False if it was not connected."""
    changed = await (
        ProviderAccount.update(
            {ProviderAccount.status: "disconnected", ProviderAccount.disconnected_at: at}
        )
        .where(
            (ProviderAccount.vendor == vendor_id)
            & (ProviderAccount.provider == provider)
            & (ProviderAccount.status == "connected")
        )
        .returning(ProviderAccount.id)
    )
    return bool(changed)


async def set_account_details(vendor_id: str, provider: str, changes: dict[str, Any]) -> None:
    """Merge ``changes`` into the account's details (the vendor's options for it)."""
    account = await find_account(vendor_id, provider)
    if account is None:
        return
    details = {**(account["details"] or {}), **changes}
    await ProviderAccount.update({ProviderAccount.details: details}).where(
        ProviderAccount.id == account["id"]
    )
