"""Vendors (tenants), their API keys and their portal users.

API keys are 200-bit random tokens shown once at creation. Only a SHA-256 of the
key and a short lookup prefix are stored, so a database dump reveals no usable
key; comparison is constant-time. Portal passwords are hashed with Argon2id.

A key that authenticated is remembered in this process for
:data:`API_KEY_CACHE_SECONDS` (keyed by its SHA-256, never the key itself), with
its vendor's test-clock reading, so that an API request does not cost a query.
Revoking a key or moving a test clock forgets the vendor's keys in the process
that did it at once; **other processes see a revocation or a clock move at most
``API_KEY_CACHE_SECONDS`` later**. Unknown and revoked keys are never remembered.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from dataclasses import dataclass
from datetime import datetime

from argon2 import PasswordHasher
from argon2.exceptions import VerificationError

from octane.core.clock import Clock, SystemClock, TestClock, ensure_utc
from octane.core.errors import AuthError, ConflictError, NotFoundError, ValidationError
from octane.core.ids import new_id, new_secret
from octane.core.money import parse_decimal
from octane.core.store.tables import ApiKey, PortalUser, Vendor

__all__ = [
    "API_KEY_PREFIX",
    "CreatedApiKey",
    "authenticate",
    "authenticate_api_key",
    "authenticate_with_clock",
    "create_api_key",
    "create_portal_user",
    "create_vendor",
    "forget_api_keys",
    "get_vendor",
    "list_api_keys",
    "revoke_api_key",
    "set_tax_rate",
    "verify_portal_login",
]

API_KEY_PREFIX = "octk"
_LOOKUP_CHARS = 12
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_password_hasher = PasswordHasher()
SYSTEM_CLOCK = SystemClock()


@dataclass(frozen=True)
class CreatedApiKey:
    id: str
    vendor_id: str
    name: str
    key: str
    """The full key: shown once, never stored."""


API_KEY_CACHE_SECONDS = 1.0
_CACHE_LIMIT = 10_000
#: SHA-256 of a key -> (vendor id, key id, test clock reading or None, expiry (monotonic)).
_key_cache: dict[str, tuple[str, str, datetime | None, float]] = {}


def forget_api_keys(vendor_id: str | None = None) -> None:
    """Drop the remembered keys of ``vendor_id`` (of every vendor if None)."""
    if vendor_id is None:
        _key_cache.clear()
        return
    for digest in [d for d, entry in _key_cache.items() if entry[0] == vendor_id]:
        _key_cache.pop(digest, None)


def _vendor_clock(frozen: datetime | None) -> Clock:
    return TestClock(frozen) if frozen is not None else SYSTEM_CLOCK


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _lookup_prefix(key: str) -> str:
    return key[len(API_KEY_PREFIX) + 1 :][:_LOOKUP_CHARS]


def _check_email(email: str, field: str = "email") -> str:
    email = email.strip()
    if not _EMAIL.match(email):
        raise ValidationError(f"'{email}' is not an email address.", field=field)
    return email


async def create_vendor(
    *, name: str, email: str, clock: Clock, test_clock_start: datetime | None = None
) -> dict[str, object]:
    """Create a vendor; with ``test_clock_start`` it runs on its own test clock from then."""
    name = name.strip()
    if not name:
        raise ValidationError("A vendor needs a name.", field="name")
    vendor = Vendor(
        id=new_id("ven"),
        name=name,
        email=_check_email(email),
        created_at=clock.now(),
        test_clock_now=(
            ensure_utc(test_clock_start, field="test_clock") if test_clock_start else None
        ),
    )
    await vendor.save()
    return vendor.to_dict()


async def get_vendor(vendor_id: str) -> dict[str, object]:
    row = await Vendor.select().where(Vendor.id == vendor_id).first()
    if row is None:
        raise NotFoundError(f"There is no vendor '{vendor_id}'.", field="vendor")
    return row


async def create_api_key(vendor_id: str, *, clock: Clock, name: str = "") -> CreatedApiKey:
    await get_vendor(vendor_id)
    key = new_secret(API_KEY_PREFIX)
    record = ApiKey(
        id=new_id("key"),
        vendor=vendor_id,
        name=name.strip(),
        prefix=_lookup_prefix(key),
        key_hash=_hash(key),
        created_at=clock.now(),
    )
    await record.save()
    return CreatedApiKey(id=str(record.id), vendor_id=vendor_id, name=record.name, key=key)


async def authenticate_api_key(key: str) -> str:
    """The vendor id a key belongs to; an AuthError for a missing, unknown or revoked key."""
    return (await authenticate(key))[0]


async def authenticate(key: str) -> tuple[str, str]:
    """``(vendor id, key id)`` for a valid key; an AuthError otherwise."""
    principal = await authenticate_with_clock(key)
    return principal[0], principal[1]


async def authenticate_with_clock(key: str) -> tuple[str, str, Clock]:
    """``(vendor id, key id, the vendor's clock)`` in one query; an AuthError otherwise."""
    if not key.startswith(API_KEY_PREFIX + "_"):
        raise AuthError("The API key is not valid.", code="invalid_api_key")
    digest = _hash(key)
    cached = _key_cache.get(digest)
    if cached is not None and cached[3] > time.monotonic():
        return cached[0], cached[1], _vendor_clock(cached[2])
    row = (
        await ApiKey.select(
            ApiKey.id,
            ApiKey.vendor,
            ApiKey.key_hash,
            ApiKey.revoked_at,
            ApiKey.vendor.test_clock_now.as_alias("test_clock_now"),
        )
        .where(ApiKey.prefix == _lookup_prefix(key))
        .first()
    )
    if row is None or not hmac.compare_digest(row["key_hash"], digest):
        raise AuthError("The API key is not valid.", code="invalid_api_key")
    if row["revoked_at"] is not None:
        _key_cache.pop(digest, None)
        raise AuthError("This API key has been revoked.", code="revoked_api_key")
    vendor_id, key_id, frozen = str(row["vendor"]), str(row["id"]), row["test_clock_now"]
    if len(_key_cache) >= _CACHE_LIMIT:
        _key_cache.clear()
    _key_cache[digest] = (vendor_id, key_id, frozen, time.monotonic() + API_KEY_CACHE_SECONDS)
    return vendor_id, key_id, _vendor_clock(frozen)


async def list_api_keys(vendor_id: str) -> list[dict[str, object]]:
    """The vendor's keys without secrets: id, name, prefix, created and revoked times."""
    return await (
        ApiKey.select(ApiKey.id, ApiKey.name, ApiKey.prefix, ApiKey.created_at, ApiKey.revoked_at)
        .where(ApiKey.vendor == vendor_id)
        .order_by(ApiKey.created_at)
    )


async def revoke_api_key(vendor_id: str, key_id: str, *, clock: Clock) -> None:
    row = (
        await ApiKey.select(ApiKey.revoked_at)
        .where((ApiKey.id == key_id) & (ApiKey.vendor == vendor_id))
        .first()
    )
    if row is None:
        raise NotFoundError(f"There is no API key '{key_id}'.", field="id")
    if row["revoked_at"] is None:
        await ApiKey.update({ApiKey.revoked_at: clock.now()}).where(
            (ApiKey.id == key_id) & (ApiKey.vendor == vendor_id) & ApiKey.revoked_at.is_null()
        )
    forget_api_keys(vendor_id)


async def create_portal_user(
    vendor_id: str, *, email: str, password: str, clock: Clock
) -> dict[str, object]:
    await get_vendor(vendor_id)
    email = _check_email(email).lower()
    if len(password) < 10:
        raise ValidationError("A password needs at least 10 characters.", field="password")
    if await PortalUser.exists().where(PortalUser.email == email):
        raise ConflictError(f"A portal user '{email}' already exists.", field="email")
    user = PortalUser(
        id=new_id("usr"),
        vendor=vendor_id,
        email=email,
        password_hash=_password_hasher.hash(password),
        created_at=clock.now(),
    )
    await user.save()
    data = user.to_dict()
    data.pop("password_hash", None)
    return data


async def verify_portal_login(email: str, password: str) -> dict[str, object]:
    """The user for a correct email and password; an AuthError otherwise (same message)."""
    row = await PortalUser.select().where(PortalUser.email == email.strip().lower()).first()
    failure = AuthError("The email or password is not correct.", code="invalid_login")
    if row is None:
        # Spend the same time as a real check, so timing doesn't reveal which emails exist.
        _password_hasher.hash(password)
        raise failure
    try:
        _password_hasher.verify(row["password_hash"], password)
    except VerificationError:
        raise failure from None
    row.pop("password_hash", None)
    return row


async def set_tax_rate(vendor_id: str, rate: object) -> str | None:
    """Set (or clear, with None) the vendor's tax percentage; return it as stored."""
    await get_vendor(vendor_id)
    stored = None
    if rate is not None:
        parsed = parse_decimal(rate, field="tax_rate", max_places=4, allow_negative=False)
        if parsed > 100:
            raise ValidationError("A tax rate is a percentage from 0 to 100.", field="tax_rate")
        stored = str(parsed)
    await Vendor.update({Vendor.tax_rate: stored}).where(Vendor.id == vendor_id)
    return stored
