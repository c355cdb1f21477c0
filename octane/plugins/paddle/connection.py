"""A vendor's Paddle credentials: stored encrypted, shown masked, used per environment.

Paddle has no Connect: each vendor gives Octane its own API key and the secret of the
notification destination that posts to Octane's webhook. Both are sealed with Fernet
(AES-128-CBC and HMAC-SHA256, from ``cryptography``) under a key derived with HKDF from
the deployment's secret key, so a database dump alone reveals neither. Nothing shows
them again in full: the API answers a masked form.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from octane.core.errors import ConflictError, PluginError, ValidationError
from octane.core.plugin_context import PluginContext
from octane.core.provider_accounts import connect_account, disconnect_account, find_account
from octane.core.store.tables import ProviderAccount
from octane.plugins.paddle.client import PROVIDER, PaddleApi

__all__ = ["Connection", "api_for", "load_connection", "mask", "open_secrets", "save_connection"]

ENVIRONMENTS = ("sandbox", "live")


def _fernet(secret_key: str) -> Any:
    from cryptography.fernet import Fernet
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    if not secret_key:
        raise PluginError(
            "Octane has no secret key to encrypt Paddle credentials with (set secret_key).",
            field="secret_key",
        )
    key = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"octane-paddle-credentials"
    ).derive(secret_key.encode())
    return Fernet(base64.urlsafe_b64encode(key))


def seal_secrets(secret_key: str, values: dict[str, str]) -> str:
    token: bytes = _fernet(secret_key).encrypt(json.dumps(values).encode())
    return token.decode()


def open_secrets(secret_key: str, sealed: str) -> dict[str, str]:
    from cryptography.fernet import InvalidToken

    try:
        values: dict[str, str] = json.loads(_fernet(secret_key).decrypt(sealed.encode()))
    except InvalidToken:
        raise PluginError(
            "The stored Paddle credentials cannot be decrypted (was the secret key "
            "changed?); enter them again.",
            code="paddle_credentials_unreadable",
        ) from None
    return values


def mask(value: str) -> str:
    """Enough to recognise a key, not to use it: its kind and last four characters."""
    if len(value) <= 12:
        return "…" + value[-2:]
    prefix = value[: value.rfind("_") + 1] if "_" in value[:20] else value[:4]
    return f"{prefix[:20]}…{value[-4:]}"


@dataclass(frozen=True)
class Connection:
    vendor_id: str
    environment: str
    api_key: str
    webhook_secret: str


def base_url(context: PluginContext, environment: str) -> str:
    config = context.config
    return str(config.live_api_base if environment == "live" else config.sandbox_api_base)


def check_credentials(api_key: str, webhook_secret: str, environment: str) -> None:
    """What the API and the portal both refuse, each with the field it is about."""
    if environment not in ("sandbox", "live"):
        raise ValidationError("Choose the sandbox or the live environment.", field="environment")
    labels = {"api_key": "API key", "webhook_secret": "notification secret"}
    for field, value in (("api_key", api_key), ("webhook_secret", webhook_secret)):
        label = labels[field]
        if not value:
            raise ValidationError(f"Paste the {label} from Paddle.", field=field)
        if any(c.isspace() for c in value):
            raise ValidationError(f"The {label} has spaces in it; paste it exactly.", field=field)
        if not 8 <= len(value) <= 300:
            raise ValidationError(
                f"The {label} is 8 to 300 characters; this one is {len(value)}.", field=field
            )


async def save_connection(
    context: PluginContext,
    vendor_id: str,
    *,
    api_key: str,
    webhook_secret: str,
    environment: str,
    at: datetime,
) -> dict[str, Any]:
    sealed = seal_secrets(
        context.secret_key, {"api_key": api_key, "webhook_secret": webhook_secret}
    )
    return await connect_account(
        vendor_id,
        PROVIDER,
        account_id=environment,
        at=at,
        secrets=sealed,
        details={
            "environment": environment,
            "api_key": mask(api_key),
            "webhook_secret": mask(webhook_secret),
        },
    )


async def load_connection(context: PluginContext, vendor_id: str) -> Connection:
    """The vendor's connection; a ConflictError if it has none."""
    account = await find_account(vendor_id, PROVIDER)
    if account is None or account["status"] != "connected" or not account["secrets"]:
        raise ConflictError(
            "This vendor has not connected Paddle (Settings > Payment provider > Paddle, "
            "or PUT /api/v1/paddle/connection).",
            code="paddle_not_connected",
        )
    values = open_secrets(context.secret_key, str(account["secrets"]))
    return Connection(
        vendor_id=vendor_id,
        environment=str((account["details"] or {}).get("environment", "sandbox")),
        api_key=values["api_key"],
        webhook_secret=values["webhook_secret"],
    )


async def api_for(context: PluginContext, vendor_id: str) -> PaddleApi:
    connection = await load_connection(context, vendor_id)
    return PaddleApi(context, base_url(context, connection.environment), connection.api_key)


async def test_connection(context: PluginContext, vendor_id: str) -> tuple[bool, str]:
    """A harmless authenticated call: whether Paddle accepts the key, and what it said.

    A ConflictError when the vendor has not connected Paddle.
    """
    from octane.plugins.paddle.client import PaddleError, PaddleUnavailable

    api = await api_for(context, vendor_id)
    try:
        await api.request("GET", "/event-types")
    except PaddleError as error:
        return False, f"Paddle refused the key: {error.detail} ({error.code})."
    except PaddleUnavailable as error:
        return False, str(error)
    return True, "Paddle accepted the API key."


async def forget_connection(vendor_id: str, *, at: datetime) -> None:
    """Disconnect and wipe the sealed credentials (a disconnected account is never called)."""
    await disconnect_account(vendor_id, PROVIDER, at=at)
    await ProviderAccount.update({ProviderAccount.secrets: ""}).where(
        (ProviderAccount.vendor == vendor_id) & (ProviderAccount.provider == PROVIDER)
    )
